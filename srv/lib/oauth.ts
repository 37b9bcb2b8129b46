/**
 * OAuth 2.0 client credentials (RFC 6749, 4.4): the one way this app fetches a token for a client, its own
 * (Service Manager, the Destination service) or a key's (verification). With a client secret as form
 * parameters, or with a client certificate (mutual TLS at the certificate URL). Every answer carries the
 * HTTP status and the latency; errors carry the endpoint's reason, never the secret, the key or a token.
 * (xssec's token fetch wants XSUAA-shaped credentials and hides the status and latency verification reports.)
 */
import https from 'node:https'
import tls from 'node:tls'
import axios from 'axios'
import { isTransientStatus } from './retry'

export type ClientAuth =
  | { kind: 'secret'; tokenUrl: string; clientId: string; clientSecret: string }
  | { kind: 'x509'; tokenUrl: string; clientId: string; certificate: string; key: string; passphrase?: string }
  | { kind: 'pfx'; tokenUrl: string; clientId: string; pfx: Buffer; passphrase?: string }

export interface Token {
  value: string
  /** the token's lifetime as the endpoint gave it (`expires_in`), if it did */
  expiresInSec: number | undefined
  status: number
  latencyMs: number
}

/** No token: `status` is the endpoint's answer (undefined: none came), `reason` its error text or the transport's. */
export class TokenRequestError extends Error {
  constructor(
    readonly reason: string,
    readonly status: number | undefined,
    readonly latencyMs: number,
    readonly retryable: boolean
  ) {
    super(reason)
    this.name = 'TokenRequestError'
  }
}

/** What must never appear in a text about this client. */
export function secretsOf(auth: ClientAuth): string[] {
  const secrets = auth.kind === 'secret' ? [auth.clientSecret] : auth.kind === 'x509' ? [auth.key] : []
  if (auth.kind !== 'secret' && auth.passphrase) secrets.push(auth.passphrase)
  return secrets
}

/** The TLS agent for the token endpoint: the client certificate, extra CAs over the public roots; none without either. */
export function tokenAgent(auth: ClientAuth, ca: ReadonlyArray<string | undefined> = []): https.Agent | undefined {
  const extra = ca.filter((c): c is string => !!c)
  const options: https.AgentOptions = { minVersion: 'TLSv1.2', keepAlive: false, ...(extra.length ? { ca: [...tls.rootCertificates, ...extra] } : {}) }
  if (auth.kind === 'x509') return new https.Agent({ ...options, cert: auth.certificate, key: auth.key, passphrase: auth.passphrase })
  if (auth.kind === 'pfx') return new https.Agent({ ...options, pfx: auth.pfx, passphrase: auth.passphrase })
  return extra.length ? new https.Agent(options) : undefined
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v : undefined)

/** The reason in a token endpoint's error answer (XSUAA: error_description, error). */
function reasonOf(status: number, data: unknown): string {
  const doc = isObj(data) ? data : {}
  return text(doc.error_description) ?? text(doc.description) ?? text(doc.error) ?? text(doc.message) ?? `HTTP ${status}`
}

function transportCode(e: unknown): { code: string; message: string } {
  if (axios.isAxiosError(e)) return { code: e.code ?? 'ERR_NETWORK', message: e.message }
  if (e instanceof Error) return { code: (e as NodeJS.ErrnoException).code ?? e.name, message: e.message }
  return { code: 'ERR_NETWORK', message: '' }
}

/**
 * Fetches a token. `agent` for mTLS or extra CAs (tokenAgent; the caller keeps or destroys it). Throws
 * TokenRequestError when the endpoint gives none; its texts are redacted of the client's secrets.
 */
export async function requestToken(auth: ClientAuth, opts: { agent?: https.Agent; timeoutMs?: number } = {}): Promise<Token> {
  const secrets = secretsOf(auth)
  const redact = (s: string) => secrets.reduce((out, secret) => (secret ? out.split(secret).join('***') : out), s)
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: auth.clientId })
  if (auth.kind === 'secret') form.set('client_secret', auth.clientSecret)
  const started = Date.now()
  let res
  try {
    res = await axios.post<unknown>(auth.tokenUrl, form.toString(), {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      httpsAgent: opts.agent,
      timeout: opts.timeoutMs ?? 15_000,
      validateStatus: () => true,
      maxRedirects: 0
    })
  } catch (e) {
    const { code, message } = transportCode(e)
    throw new TokenRequestError(redact(message ? `${code} (${message})` : code), undefined, Date.now() - started, true)
  }
  const latencyMs = Date.now() - started
  if (res.status !== 200) throw new TokenRequestError(redact(reasonOf(res.status, res.data)), res.status, latencyMs, isTransientStatus(res.status))
  const data = isObj(res.data) ? res.data : {}
  const value = text(data.access_token)
  if (!value) throw new TokenRequestError('the answer holds no access_token', res.status, latencyMs, true)
  const ttl = Number(data.expires_in)
  return { value, expiresInSec: Number.isFinite(ttl) && ttl > 0 ? ttl : undefined, status: res.status, latencyMs }
}

/**
 * A client's token, kept until shortly before it ends (a tenth of its lifetime, at most 5 minutes; 10 minutes
 * when the endpoint gave none); one fetch at a time.
 */
export class TokenCache {
  private cached: { value: string; refreshAt: number } | undefined
  private inFlight: Promise<string> | undefined

  constructor(private readonly fetch: () => Promise<Token>) {}

  get(): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return Promise.resolve(this.cached.value)
    this.inFlight ??= this.fetch()
      .then(t => {
        const ttlSec = t.expiresInSec ?? 600
        this.cached = { value: t.value, refreshAt: Date.now() + (ttlSec - Math.min(300, ttlSec * 0.1)) * 1000 }
        return t.value
      })
      .finally(() => (this.inFlight = undefined))
    return this.inFlight
  }

  /** Forgets the token (all, or only when it is `value`: a 401 answered to it). */
  drop(value?: string): void {
    if (value === undefined || this.cached?.value === value) this.cached = undefined
  }
}
