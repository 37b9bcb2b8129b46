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


interface Entry {
  client: ServiceManagerClient
  /** when the credentials in use were read */
  readAt: number
  /** the destination they were read from (a changed Subaccounts row reads again) */
  destination: string | null | undefined
}

/** The base of every kind: one client per subaccount, credentials read again after a 401 or their age. */
export class ServiceManagerService extends cds.Service {
  private readonly entries = new Map<string, Promise<Entry>>()

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
    const id = sub.subaccountId
    let pending = this.entries.get(id)
    if (!pending) {
      pending = this.open(sub)
      this.entries.set(id, pending)
      // a subaccount without access is asked again next time (it may have been configured since)
      pending.catch(() => this.entries.get(id) === pending && this.entries.delete(id))
    }
    const entry = await pending
    const stale = Date.now() - entry.readAt >= this.credentialsMaxAgeMs
    if (stale || (sub.destination !== undefined && sub.destination !== entry.destination)) await this.reread(entry, sub)
    return entry.client
  }

  /** Forget the clients (all, or one subaccount's): the next call reads credentials again. */
  forget(subaccountId?: string): void {
    if (subaccountId === undefined) this.entries.clear()
    else this.entries.delete(subaccountId)
  }

  private async open(sub: SubaccountRef): Promise<Entry> {
    const s = settings()
    const [creds, budget, ca] = await Promise.all([this.credentials(sub, false), budgetFor(sub.subaccountId), this.trustedCa()])
    const entry: Entry = { client: undefined as unknown as ServiceManagerClient, readAt: Date.now(), destination: sub.destination }
    entry.client = new ServiceManagerClient(creds, {
      pollInitialMs: s.pollInitialMs,
      pollMaxMs: s.pollMaxMs,
      ...(this.config.client ?? {}),
      ...(ca ? { ca } : {}),
      // after a 401: read the credentials again, past every cache
      renew: async () => {
        const renewed = await this.credentials(sub, true)
        entry.readAt = Date.now()
        return renewed
      },
      ...(budget
        ? { throttle: budget.hook, book: (req, id) => budget.book(req, id), pausedUntil: req => budget.pausedUntilOf(classOf(req.method, req.path)) }
        : {})
    })
    return entry
  }

  private async reread(entry: Entry, sub: SubaccountRef): Promise<void> {
    try {
      entry.client.useCredentials(await this.credentials(sub, true))
      entry.readAt = Date.now()
      entry.destination = sub.destination
    } catch (e) {
      // keep working with what we have; a 401 will ask again
      LOG.warn(`Could not read the Service Manager credentials of ${sub.displayName ?? sub.subaccountId} again:`, (e as Error).message)
      entry.readAt = Date.now()
    }
  }
}

export default ServiceManagerService
