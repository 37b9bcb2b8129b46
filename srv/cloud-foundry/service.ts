/**
 * Cloud Foundry access as a CAP service (`cds.connect.to('cloud-foundry')`), one implementation per
 * `cds.requires['cloud-foundry'].kind` (registered in package.json's `cds.requires.kinds`), the counterpart
 * of srv/service-manager/service.ts:
 * - `cf-emulator` (kind-emulator.ts): the project's CF emulator, started embedded on 127.0.0.1
 * - `cf-credentials` (kind-credentials.ts): API endpoint and technical user per subaccount GUID from the
 *   configuration (`cds.requires['cloud-foundry'].subaccounts`)
 * - `cf-destination` (kind-destination.ts): a BTP destination per subaccount, named in its `cfDestination`
 *
 * A kind only says where a subaccount's API endpoint and technical user come from; this base class keeps one
 * client per subaccount (token cache, rate-limit pause, the subaccount's CF rate budget: budget.ts) and reads
 * the credentials again after a 401 and when they are older than `credentialsMaxAge` (default 10 minutes).
 */
import cds from '@sap/cds'
import { CloudFoundryClient, type CfCredentials } from './client'
import { cfBudgetFor, type CfLimits } from './budget'
import { duration } from '../lib/duration'

export interface CloudFoundryConfig {
  kind: 'cf-emulator' | 'cf-credentials' | 'cf-destination'
  impl?: string
  /** kind `cf-emulator`: the emulator's options (emulator/cf/types.ts, CfEmulatorOptions) */
  emulator?: Record<string, unknown>
  /** kind `cf-credentials`: API endpoint, technical user (and optionally the org) per subaccount GUID */
  subaccounts?: Record<string, CfCredentials>
  client?: { timeoutMs?: number; maxRetryWaitMs?: number; pageSize?: number }
  credentialsMaxAge?: number | string
  /** the CF rate budget's limits (default: CF's 2000 calls per hour and user), false = off; see budget.ts */
  limits?: CfLimits | false
}

export interface CfSubaccountRef {
  subaccountId: string
  displayName?: string
  cfDestination?: string | null
}

/** No CF access for the subaccount: a configuration matter, not worth a retry. */
export class CloudFoundryAccessError extends Error {
  code = 'CF_NOT_CONFIGURED'
  constructor(readonly subaccount: string) {
    super(cds.i18n.messages.at('CF_NOT_CONFIGURED', [subaccount]) ?? `No Cloud Foundry access is configured for subaccount ${subaccount}`)
  }
}

const LOG = cds.log('cloud-foundry')


interface Entry {
  client: CloudFoundryClient
  readAt: number
  /** the org the credentials name, if any */
  org?: string
}

export class CloudFoundryService extends cds.Service {
  private readonly entries = new Map<string, Promise<Entry>>()

  get config(): CloudFoundryConfig {
    return (this as unknown as { options: CloudFoundryConfig }).options
  }

  /** The kind's part: the CF access of a subaccount; `fresh` bypasses caches of the source. */
  protected credentials(sub: CfSubaccountRef, fresh: boolean): Promise<CfCredentials> {
    void fresh
    return Promise.reject(new CloudFoundryAccessError(sub.displayName ?? sub.subaccountId))
  }

  /** The org of a subaccount when its row names none (the emulator knows its orgs' subaccounts). */
  async defaultOrg(sub: CfSubaccountRef): Promise<string | undefined> {
    return (await this.entry(sub)).org
  }

  async clientFor(sub: CfSubaccountRef): Promise<CloudFoundryClient> {
    const entry = await this.entry(sub)
    if (Date.now() - entry.readAt > duration(this.config.credentialsMaxAge, 10 * 60_000, "cds.requires['cloud-foundry'].credentialsMaxAge")) {
      try {
        const creds = await this.credentials(sub, true)
        entry.client.useCredentials(creds)
        entry.org = creds.org
      } catch (e) {
        LOG.warn(`Could not read the Cloud Foundry access of ${sub.displayName ?? sub.subaccountId} again:`, (e as Error).message)
      }
      entry.readAt = Date.now()
    }
    return entry.client
  }

  forget(subaccountId?: string): void {
    for (const [k, p] of this.entries) {
      if (subaccountId !== undefined && k !== subaccountId) continue
      void p.then(e => e.client.close(), () => undefined)
      this.entries.delete(k)
    }
  }

  private entry(sub: CfSubaccountRef): Promise<Entry> {
    let p = this.entries.get(sub.subaccountId)
    if (!p) {
      p = (async () => {
        const [creds, budget] = await Promise.all([this.credentials(sub, false), cfBudgetFor(sub.subaccountId)])
        const entry: Entry = { readAt: Date.now(), org: creds.org, client: undefined as unknown as CloudFoundryClient }
        entry.client = new CloudFoundryClient(creds, {
          ...(this.config.client ?? {}),
          ...(budget
            ? {
                throttle: budget.hook,
                book: (req, id) => budget.book(req, id),
                pausedUntil: () => budget.pausedUntilOf('other'),
                pause: until => budget.pause('other', until)
              }
            : {}),
          renew: async () => {
            const renewed = await this.credentials(sub, true)
            entry.readAt = Date.now()
            entry.org = renewed.org
            return renewed
          }
        })
        return entry
      })()
      this.entries.set(sub.subaccountId, p)
      p.catch(() => this.entries.delete(sub.subaccountId))
    }
    return p
  }
}

export default CloudFoundryService
