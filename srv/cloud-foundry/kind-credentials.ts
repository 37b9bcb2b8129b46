/**
 * Kind `cf-credentials`: the API endpoint and technical user of each subaccount's CF org from the
 * configuration, `cds.requires['cloud-foundry'].subaccounts[<subaccount GUID>] = { api, username, password,
 * org?, uaa? }` (e.g. from a user-provided service or CDS_CONFIG); read again after a 401.
 */
import { CloudFoundryService, CloudFoundryAccessError, type CfSubaccountRef } from './service'
import type { CfCredentials } from './client'

export class CredentialsCloudFoundry extends CloudFoundryService {
  protected credentials(sub: CfSubaccountRef): Promise<CfCredentials> {
    const configured = this.config.subaccounts?.[sub.subaccountId]
    if (!configured?.api || !configured.username || !configured.password) return Promise.reject(new CloudFoundryAccessError(sub.displayName ?? sub.subaccountId))
    return Promise.resolve({ ...configured })
  }
}

export default CredentialsCloudFoundry
