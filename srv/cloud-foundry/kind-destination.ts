/**
 * Kind `cf-destination`: the API endpoint and technical user from the BTP destination named in the
 * subaccount's `cfDestination` (SAP Cloud SDK: the destination service in Cloud Foundry, the `destinations`
 * environment variable locally). A BasicAuthentication destination: URL = the CF API endpoint, User and
 * Password = the technical platform user; optional properties `cfOrg` (the org) and `uaaUrl` (else taken
 * from the API's root document). Read again past the SDK's cache after a 401.
 */
import type { Destination } from '@sap-cloud-sdk/connectivity'
import { ServiceManagerError } from '../service-manager/errors'
import { CloudFoundryService, CloudFoundryAccessError, type CfSubaccountRef } from './service'
import type { CfCredentials } from './client'

export class DestinationCloudFoundry extends CloudFoundryService {
  protected async credentials(sub: CfSubaccountRef, fresh: boolean): Promise<CfCredentials> {
    const label = sub.displayName ?? sub.subaccountId
    if (!sub.cfDestination) throw new CloudFoundryAccessError(label)
    const { getDestination } = await import('@sap-cloud-sdk/connectivity')
    let d: Destination | null
    try {
      d = await getDestination({ destinationName: sub.cfDestination, useCache: !fresh })
    } catch (e) {
      if (!process.env.VCAP_SERVICES?.includes('"destination"')) throw new CloudFoundryAccessError(label)
      throw new ServiceManagerError({ code: 'DestinationUnavailable', description: e instanceof Error ? e.message : String(e), retryable: true })
    }
    if (!d?.url || !d.username || !d.password) throw new CloudFoundryAccessError(label)
    const props: Record<string, unknown> = d.originalProperties ?? {} // the SDK types them as any: read as unknown
    const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
    return { api: d.url, username: d.username, password: d.password, org: text(props.cfOrg), uaa: text(props.uaaUrl) }
  }
}

export default DestinationCloudFoundry
