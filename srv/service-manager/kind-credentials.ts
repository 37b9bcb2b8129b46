/**
 * Kind `credentials`: SM service keys per subaccount GUID in `cds.requires['service-manager'].subaccounts`
 * (e.g. from a user-provided service or CDS_CONFIG), and the service-manager binding of the app's own
 * subaccount from the environment (VCAP_SERVICES or mounted service bindings, read with @sap/xsenv). The
 * binding's subaccount is `cds.requires['service-manager'].subaccount`, else the `subaccountid` of the
 * app's xsuaa binding. Both are read again whenever credentials are: a re-bound key is picked up after a
 * 401 or the credentials' maximum age, without a restart.
 */
import { ServiceManagerService, ServiceManagerAccessError, type SubaccountRef } from './service'
import { filterServices, type BoundService } from '@sap/xsenv'
import { normalizeSMCredentials, type SMCredentials } from './credentials'

/** The bound service of a label, if exactly one is bound (several: the configuration must say which). */
function bound(label: string): BoundService | undefined {
  const found = filterServices({ label })
  if (found.length > 1) throw new Error(`More than one ${label} service is bound; configure cds.requires['service-manager'].subaccounts instead`)
  return found[0]
}

/** The app's own subaccount and its SM credentials, from the service-manager binding; undefined without one. */
function ownBinding(configured?: string): { subaccountId: string; credentials: SMCredentials } | undefined {
  const sm = bound('service-manager')
  if (!sm?.credentials) return undefined
  const uaa = bound('xsuaa')?.credentials
  const subaccountId = configured ?? (typeof uaa?.subaccountid === 'string' ? uaa.subaccountid : undefined)
  if (!subaccountId) return undefined
  return { subaccountId, credentials: normalizeSMCredentials(sm.credentials) }
}

export class CredentialsServiceManager extends ServiceManagerService {
  protected credentials(sub: SubaccountRef): Promise<SMCredentials> {
    const configured = this.config.subaccounts?.[sub.subaccountId]
    // a key from the configuration may come in any of the shapes normalizeSMCredentials reads
    if (configured) return Promise.resolve(normalizeSMCredentials(configured as unknown as Record<string, unknown>))
    const own = ownBinding(this.config.subaccount)
    if (own?.subaccountId === sub.subaccountId) return Promise.resolve(own.credentials)
    return Promise.reject(new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId))
  }
}

export default CredentialsServiceManager
