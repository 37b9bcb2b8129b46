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
  /**
   * optional PEM client certificate: the tenant's SM client may then also get tokens over mTLS at
   * certUrl + '/oauth/token' with exactly this certificate (pinned); the secret keeps working at url
   */
  certificate?: string
}

export interface EmulatorOptions {
  /** default 0 = random free port; the server always binds 127.0.0.1 */
  port?: number
  /** port of the HTTPS (mTLS) token endpoint, default 0 = random free port; binds 127.0.0.1 */
  tlsPort?: number
  /** default: DEFAULT_TENANTS from catalog.ts */
  tenants?: EmulatorTenant[]
  /** how long async operations stay 'in progress' (default 0 = done at first poll) */
  operationMs?: number
  /** when set, each async operation lasts a random time between operationMs and this (races, benchmarks) */
  operationMaxMs?: number
  /** added to every response (default 0) */
  requestLatencyMs?: number
  /** lifetime of issued access tokens, default 43199 */
  tokenTtlSeconds?: number
  /**
   * default: off; exceeding a limit -> 429 with Retry-After (seconds). `windowMs` (default 60000) shortens
   * the "minute" the limits count in, for tests.
   */
  rateLimit?: { perMinute?: number; instanceCreatesPerMinute?: number; bindingsPerMinute?: number; windowMs?: number }
  /** one line per request (method, path, status, duration; never bodies or headers). true = console.log */
  log?: boolean | ((line: string) => void)
  /** replace the default catalog (DEFAULT_CATALOG) */
  catalog?: CatalogOffering[]
  /**
   * default: off. Serve the admin API under /__emulator (faults and state of this emulator for other
   * processes, e.g. tests that run the app as a child process): POST/DELETE /__emulator/faults,
   * GET /__emulator/state, POST /__emulator/reset. Never recorded, never faulted; binds 127.0.0.1 like the rest.
   */
  admin?: boolean
  /** extra or replacement credential factories keyed by credential-type ('binding-secret' and 'x509' are built in) */
  credentialTypes?: Record<string, CredentialFactory>
}

/**
 * A JSON document the emulator hands to tests as it is: a recorded request body, an instance or a binding as SM
 * shows it. Tests read them by path, whatever their shape, so they stay untyped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- documents of any shape, read by path in the tests
export type JsonDocument = any

export interface RecordedCall {
  method: string
  /** path without query */
  path: string
  query: Record<string, string>
  /** parsed request body (JSON or form), secrets redacted to '***' */
  body: JsonDocument
  /** status sent (or that would have been sent for dropResponse); 0 when the connection was reset */
  status: number
  subaccountId?: string
  /** ms epoch when the request arrived */
  at: number
  /** which fault (if any) affected this call: 'status' | 'dropResponse' | 'resetConnection' | 'operation' */
  fault?: string
  /** true for calls to the HTTPS (mTLS) token endpoint at certUrl */
  mtls?: boolean
  /** the X-CorrelationID (or X-Correlation-ID, X-Request-ID, X-Vcap-Request-ID) header the client sent, if any */
  correlationId?: string
}

/**
 * An instance put into the store as if another platform had created it: SM's fields (snake_case), the
 * subaccount (default: the first tenant's) and the plan by ID or by offering and plan name. Checked when planted.
 */
export interface PlantInstance {
  id?: string
  name?: unknown
  subaccount_id?: string
  subaccountId?: string
  service_plan_id?: string
  service_offering_name?: string
  offering?: string
  service_plan_name?: string
  plan?: string
  platform_id?: string
  parameters?: Record<string, unknown>
  labels?: unknown
  /** SM's context; platform, instance_name and subaccount_id are the emulator's own */
  context?: unknown
  ready?: boolean
  usable?: boolean
  shared?: boolean
  created_at?: string
}

/** A binding put into the store as if another platform had created it; without `credentials` they are issued. */
export interface PlantBinding {
  id?: string
  name?: unknown
  service_instance_id?: string
  parameters?: Record<string, unknown>
  labels?: unknown
  ready?: boolean
  bind_resource?: Record<string, unknown>
  credentials?: Record<string, unknown>
  created_at?: string
}

export interface ClientCertificateOptions {
  /** subject CN (the subject is CN=<cn>, O=Emulator Test Clients) */
  cn: string
  /** validity in days from notBefore when notAfter is absent (default 30) */
  days?: number
  /** default: now - 1 minute */
  notBefore?: Date
  notAfter?: Date
  /** RSA key length, default 2048 */
  keyLength?: number
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
  /**
   * perform the action, then answer only after this many ms (on top of requestLatencyMs): the caller may
   * time out or die in between while the emulator's state already holds the outcome
   */
  delayResponseMs?: number
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
  /** https://127.0.0.1:<tlsPort> — mTLS token endpoint base (certurl of x509 bindings): certUrl + '/oauth/token' */
  certUrl: string
  tlsPort: number
  /** PEM of the emulator's local CA (issuer of the HTTPS server certificate and of generated client certificates); pass it as `ca` */
  caPem: string
  /** A client certificate + PKCS#8 key issued by the emulator CA (EKU clientAuth). */
  issueClientCertificate(opts: ClientCertificateOptions): Promise<{ certPem: string; keyPem: string }>
  tenants: EmulatorTenant[]
  /** every request received, token calls included */
  calls: RecordedCall[]
  addFault(f: Fault): void
  clearFaults(): void
  instances(subaccountId?: string): JsonDocument[]
  bindings(subaccountId?: string): JsonDocument[]
  /**
   * Puts an object into the store as if another platform had created it. A binding whose credentials are
   * generated asynchronously (service-managed X.509) is refused, or with `wait` planted once they exist (a promise).
   */
  plant(kind: 'instance' | 'binding', obj: PlantInstance | PlantBinding, opts?: { wait?: boolean }): JsonDocument
  remove(kind: 'instance' | 'binding', id: string): void
  /** the binding's clients stop authenticating (401 invalid_client, also over mTLS); issued tokens become invalid */
  revokeBinding(id: string): void
  /**
   * Gives the tenant (subaccount) SM client a new client secret (random unless given); the old one stops
   * working at once, and so do tokens issued before (unless `revokeTokens` is false). Returns the secret.
   */
  rotateTenantSecret(subaccountId: string, opts?: { secret?: string; revokeTokens?: boolean }): string
  /**
   * The emulator's time: the wall clock moved by an offset. It is what the validity of new certificates
   * starts from and what presented certificates are checked against at the mTLS token endpoint (their
   * expiry); tokens and operations keep the wall clock. `advanceClock` returns the new offset.
   */
  now(): number
  advanceClock(ms: number): number
  resetClock(): void
  reset(): void
  /** stops the HTTP and the HTTPS server */
  close(): Promise<void>
}
