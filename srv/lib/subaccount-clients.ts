/**
 * One API client per subaccount, for the services that reach an API with a subaccount's credentials
 * (Service Manager, Cloud Foundry): the credentials are read once, read again when they are older than a
 * maximum age or when the subaccount names another source for them, and past every cache after a 401 (the
 * client's `renew`). A subaccount whose credentials cannot be read is asked again next time: they may have
 * been configured since. Their age goes by the app's clock (lib/clock.ts), which tests move.
 */
import type cds from '@sap/cds'
import { now } from './clock'

export interface SubaccountOf {
  subaccountId: string
  displayName?: string
}

/** A subaccount's client and the credentials it works with right now. */
export interface Access<Creds, Client> {
  client: Client
  credentials: Creds
}

interface Entry<Creds, Client> extends Access<Creds, Client> {
  /** when the credentials in use were read */
  readAt: number
  /** where they were read from (a subaccount that names another source reads again) */
  source: string | null | undefined
}

export interface SubaccountClientsOptions<Sub extends SubaccountOf, Creds, Client> {
  /** what the credentials are, for the log ("Service Manager credentials") */
  what: string
  log: ReturnType<typeof cds.log>
  /** how long credentials are used before they are read again, ms */
  maxAgeMs(): number
  /** reads a subaccount's credentials; `fresh` bypasses caches of their source */
  read(sub: Sub, fresh: boolean): Promise<Creds>
  /** the source the subaccount names for its credentials (a destination), if any */
  source?(sub: Sub): string | null | undefined
  /** makes a subaccount's client; `renew` reads its credentials again, for the client to call after a 401 */
  open(sub: Sub, credentials: Creds, renew: () => Promise<Creds>): Promise<Client>
  /** hands credentials read again to a client */
  use(client: Client, credentials: Creds): void
  /** releases a client that is forgotten */
  close?(client: Client): void
}

export class SubaccountClients<Sub extends SubaccountOf, Creds, Client> {
  private readonly entries = new Map<string, Promise<Entry<Creds, Client>>>()

  constructor(private readonly options: SubaccountClientsOptions<Sub, Creds, Client>) {}

  /** The subaccount's client and credentials, the credentials read again when they are due. */
  async get(sub: Sub): Promise<Access<Creds, Client>> {
    const id = sub.subaccountId
    let pending = this.entries.get(id)
    if (!pending) {
      pending = this.open(sub)
      this.entries.set(id, pending)
      pending.catch(() => this.entries.get(id) === pending && this.entries.delete(id))
    }
    const entry = await pending
    const source = this.options.source?.(sub)
    const stale = now() - entry.readAt >= this.options.maxAgeMs()
    if (stale || (source !== undefined && source !== entry.source)) await this.reread(entry, sub, source)
    return entry
  }

  /** Forgets the clients (all, or one subaccount's): the next call reads the credentials again. */
  forget(subaccountId?: string): void {
    for (const [id, pending] of this.entries) {
      if (subaccountId !== undefined && id !== subaccountId) continue
      this.entries.delete(id)
      if (this.options.close) void pending.then(e => this.options.close?.(e.client), () => undefined)
    }
  }

  private async open(sub: Sub): Promise<Entry<Creds, Client>> {
    const credentials = await this.options.read(sub, false)
    const entry: Entry<Creds, Client> = { credentials, readAt: now(), source: this.options.source?.(sub), client: undefined as unknown as Client }
    // the client exists only once open() returns; until then `entry.client` is never read
    entry.client = await this.options.open(sub, credentials, async () => {
      const renewed = await this.options.read(sub, true)
      entry.credentials = renewed
      entry.readAt = now()
      return renewed
    })
    return entry
  }

  private async reread(entry: Entry<Creds, Client>, sub: Sub, source: string | null | undefined): Promise<void> {
    try {
      const credentials = await this.options.read(sub, true)
      this.options.use(entry.client, credentials)
      entry.credentials = credentials
      entry.source = source
    } catch (e) {
      // keep working with what we have; a 401 asks again
      this.options.log.warn(`Could not read the ${this.options.what} of ${sub.displayName ?? sub.subaccountId} again:`, (e as Error).message)
    }
    entry.readAt = now()
  }
}
