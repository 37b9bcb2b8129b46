/**
 * Service Manager access as a CAP service (`cds.connect.to('service-manager')`), one implementation per
 * `cds.requires['service-manager'].kind` (registered in package.json's `cds.requires.kinds`):
 * - `emulator` (kind-emulator.ts): the project's SM emulator, started embedded on 127.0.0.1
 * - `credentials` (kind-credentials.ts): SM service keys per subaccount from the configuration, and the
 *   service-manager binding of the app's own subaccount from the environment
 * - `destination` (kind-destination.ts): a BTP destination per subaccount, named in its Subaccounts row
 *
 * A kind only says where a subaccount's credentials come from; this base class keeps one client per
 * subaccount (token cache, the subaccount's rate budget), reads the credentials again when SM or the token
 * endpoint answers 401 and when they are older than `credentialsMaxAge` (default 10 minutes), so that a
 * rotated secret or certificate is used without a restart.
 */
import cds from '@sap/cds'
import { ServiceManagerClient } from './client'
import { budgetFor } from './budget'
import type { SMCredentials } from './credentials'
import { classOf, type ThrottleLimits } from './throttle'
import { settings } from '../lib/config'
import { duration } from '../lib/duration'
import { SubaccountClients } from '../lib/subaccount-clients'

export interface ServiceManagerConfig {
  kind: 'emulator' | 'credentials' | 'destination'
  /** the kind's implementation (from cds.requires.kinds) */
  impl?: string
  /** kind `emulator`: the emulator's options (emulator/types.ts, EmulatorOptions) */
  emulator?: Record<string, unknown>
  /** kind `credentials`: SM service keys per subaccount GUID */
  subaccounts?: Record<string, SMCredentials>
  /** kind `credentials`: the GUID of the app's own subaccount, whose SM binding is in the environment */
  subaccount?: string
  client?: { timeoutMs?: number; pollInitialMs?: number; pollMaxMs?: number; retryBaseMs?: number }
  /** the rate budget's limits (defaults: SM's documented limits), false = off; see throttle.ts */
  limits?: ThrottleLimits | false
  /** how long credentials are used before they are read again (ms or '10m'; default 10 minutes) */
  credentialsMaxAge?: number | string
}

export interface SubaccountRef {
  subaccountId: string
  displayName?: string
  destination?: string | null
}

export class ServiceManagerAccessError extends Error {
  code = 'SM_NOT_CONFIGURED'
  constructor(readonly subaccount: string) {
    super(`No Service Manager access is configured for subaccount ${subaccount}`)
  }
}

const LOG = cds.log('service-manager')
const DEFAULT_MAX_AGE_MS = 10 * 60_000


export class ServiceManagerService extends cds.Service {
  private readonly clients = new SubaccountClients<SubaccountRef, SMCredentials, ServiceManagerClient>({
    what: 'Service Manager credentials',
    log: LOG,
    maxAgeMs: () => this.credentialsMaxAgeMs,
    read: (sub, fresh) => this.credentials(sub, fresh),
    source: sub => sub.destination,
    open: (sub, creds, renew) => this.open(sub, creds, renew),
    use: (client, creds) => client.useCredentials(creds)
  })

  get config(): ServiceManagerConfig {
    return (this as unknown as { options: ServiceManagerConfig }).options
  }

  /** The kind's part: the SM credentials of a subaccount; `fresh` bypasses caches of the source. */
  protected credentials(sub: SubaccountRef, fresh: boolean): Promise<SMCredentials> {
    void fresh
    return Promise.reject(new ServiceManagerAccessError(sub.displayName ?? sub.subaccountId))
  }

  /** Extra CA certificate to trust at token endpoints (the emulator's local CA); none in production. */
  trustedCa(): Promise<string | undefined> {
    return Promise.resolve(undefined)
  }

  get credentialsMaxAgeMs(): number {
    return duration(this.config.credentialsMaxAge, DEFAULT_MAX_AGE_MS, "cds.requires['service-manager'].credentialsMaxAge")
  }

  /** The client of a subaccount (token cache and rate budget included). */
  async clientFor(sub: SubaccountRef): Promise<ServiceManagerClient> {
    return (await this.clients.get(sub)).client
  }

  /** Forget the clients (all, or one subaccount's): the next call reads credentials again. */
  forget(subaccountId?: string): void {
    this.clients.forget(subaccountId)
  }

  private async open(sub: SubaccountRef, creds: SMCredentials, renew: () => Promise<SMCredentials>): Promise<ServiceManagerClient> {
    const s = settings()
    const [budget, ca] = await Promise.all([budgetFor(sub.subaccountId), this.trustedCa()])
    return new ServiceManagerClient(creds, {
      pollInitialMs: s.pollInitialMs,
      pollMaxMs: s.pollMaxMs,
      ...(this.config.client ?? {}),
      ...(ca ? { ca } : {}),
      // after a 401: read the credentials again, past every cache
      renew,
      ...(budget
        ? { throttle: budget.hook, book: (req, id) => budget.book(req, id), pausedUntil: req => budget.pausedUntilOf(classOf(req.method, req.path)) }
        : {})
    })
  }
}

export default ServiceManagerService
