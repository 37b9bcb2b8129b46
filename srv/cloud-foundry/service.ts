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
import { SubaccountClients } from '../lib/subaccount-clients'

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


export class CloudFoundryService extends cds.Service {
  private readonly clients = new SubaccountClients<CfSubaccountRef, CfCredentials, CloudFoundryClient>({
    what: 'Cloud Foundry access',
    log: LOG,
    maxAgeMs: () => duration(this.config.credentialsMaxAge, 10 * 60_000, "cds.requires['cloud-foundry'].credentialsMaxAge"),
    read: (sub, fresh) => this.credentials(sub, fresh),
    source: sub => sub.cfDestination,
    open: (sub, creds, renew) => this.open(sub, creds, renew),
    use: (client, creds) => client.useCredentials(creds),
    close: client => client.close()
  })

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
    return (await this.clients.get(sub)).credentials.org
  }

  async clientFor(sub: CfSubaccountRef): Promise<CloudFoundryClient> {
    return (await this.clients.get(sub)).client
  }

  forget(subaccountId?: string): void {
    this.clients.forget(subaccountId)
  }

  private async open(sub: CfSubaccountRef, creds: CfCredentials, renew: () => Promise<CfCredentials>): Promise<CloudFoundryClient> {
    const budget = await cfBudgetFor(sub.subaccountId)
    return new CloudFoundryClient(creds, {
      ...(this.config.client ?? {}),
      ...(budget
        ? {
            throttle: budget.hook,
            book: (req, id) => budget.book(req, id),
            pausedUntil: () => budget.pausedUntilOf('other'),
            pause: until => budget.pause('other', until)
          }
        : {}),
      renew
    })
  }
}

export default CloudFoundryService
