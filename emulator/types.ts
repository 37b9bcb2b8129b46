/**
 * Public types of the Service Manager emulator. Re-exported by emulator/index.ts.
 */
import type { CredentialFactory } from './credentials'
import type { CatalogOffering } from './catalog'

export interface EmulatorTenant {
  subaccountId: string
  clientid: string
  clientsecret: string
  /** "offering:plan" pairs the subaccount is entitled to */
  entitled: string[]
  /** optional subdomain used in generated credentials (identityzone); derived from the id when absent */
  subdomain?: string
}

export interface EmulatorOptions {
  /** default 0 = random free port; the server always binds 127.0.0.1 */
  port?: number
  /** default: DEFAULT_TENANTS from catalog.ts */
  tenants?: EmulatorTenant[]
  /** how long async operations stay 'in progress' (default 0 = done at first poll) */
  operationMs?: number
  /** added to every response (default 0) */
  requestLatencyMs?: number
  /** lifetime of issued access tokens, default 43199 */
  tokenTtlSeconds?: number
  /** default: off; exceeding a limit -> 429 with Retry-After (seconds) */
  rateLimit?: { perMinute?: number; instanceCreatesPerMinute?: number; bindingsPerMinute?: number }
  /** one line per request (method, path, status, duration; never bodies or headers). true = console.log */
  log?: boolean | ((line: string) => void)
  /** replace the default catalog (DEFAULT_CATALOG) */
  catalog?: CatalogOffering[]
  /** extra or replacement credential factories keyed by credential-type (e.g. 'x509' later) */
  credentialTypes?: Record<string, CredentialFactory>
}

export interface RecordedCall {
  method: string
  /** path without query */
  path: string
  query: Record<string, string>
  /** parsed request body (JSON or form), secrets redacted to '***' */
  body: any
  /** status sent (or that would have been sent for dropResponse); 0 when the connection was reset */
  status: number
  subaccountId?: string
  /** ms epoch when the request arrived */
  at: number
  /** which fault (if any) affected this call: 'status' | 'dropResponse' | 'resetConnection' | 'operation' */
  fault?: string
}

export interface Fault {
  /** match (path without query); absent = any */
  method?: string
  path?: string | RegExp
  /** how many matching calls it affects (default 1) */
  times?: number
  /** respond with this status and an SM error body instead of handling */
  status?: number
  /** Retry-After header value to send with status */
  retryAfter?: string
  /** custom body for status */
  body?: unknown
  /** perform the action, then destroy the socket without answering */
  dropResponse?: boolean
  /** destroy the socket before doing anything */
  resetConnection?: boolean
  /** the async operation created by this call ends 'failed' with these errors */
  failOperation?: { error: string; description: string }
  /** override operation duration for the operation this call creates */
  operationMs?: number
  /** with failOperation: report operation.errors as an array instead of an object */
  errorsAsArray?: boolean
}

export interface Emulator {
  /** http://127.0.0.1:<port> — SM base and UAA base (token endpoint: url + '/oauth/token') */
  url: string
  port: number
  tenants: EmulatorTenant[]
  /** every request received, token calls included */
  calls: RecordedCall[]
  addFault(f: Fault): void
  clearFaults(): void
  instances(subaccountId?: string): any[]
  bindings(subaccountId?: string): any[]
  plant(kind: 'instance' | 'binding', obj: Record<string, any>): any
  remove(kind: 'instance' | 'binding', id: string): void
  revokeBinding(id: string): void
  reset(): void
  close(): Promise<void>
}
