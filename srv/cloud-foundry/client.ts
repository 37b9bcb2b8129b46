/**
 * The one place that speaks the Cloud Foundry v3 API: a technical user's password grant against the CF UAA
 * (the `cf` client with an empty secret, as the cf CLI and the Terraform provider do; the token cached and
 * fetched again before it ends or after a 401), paging through `pagination.next`, label selectors, jobs,
 * CF's rate-limit headers (a 429, or an answer with `X-RateLimit-Remaining: 0`, pauses this client until
 * `X-RateLimit-Reset`, or `Retry-After` when given), the subaccount's CF rate budget (budget.ts: every v3 call
 * takes its place first, a 429 pauses the technical user in every app instance; inside a request with a
 * deadline, a pause beyond it answers 429 at once), and CF errors mapped to the Service Manager error class the reconciler understands (srv/service-manager/
 * errors.ts): retryable for 5xx, 429, timeouts and an operation in progress, not for the rest. Errors never
 * carry the token or the password.
 */
import axios, { type AxiosInstance, type AxiosResponse } from 'axios'
import https from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import tls from 'node:tls'
import { ServiceManagerError } from '../service-manager/errors'
import { backoff, getRetryWait, isTransientStatus, parseRetryAfter } from '../lib/retry'
import { currentDeadline } from '../service-manager/deadline'
import type { ThrottleOutcome, ThrottleRequest } from '../service-manager/types'

/** How a subaccount reaches its CF org: the API endpoint and a technical platform user. */
export interface CfCredentials {
  /** the API endpoint, e.g. https://api.cf.eu10.hana.ondemand.com */
  api: string
  username: string
  password: string
  /** the UAA's base URL; default: from the API's root document (links.uaa / links.login) */
  uaa?: string
  /** OAuth client of the password grant (default `cf`, with an empty secret) */
  clientId?: string
  clientSecret?: string
  /** an extra CA to trust (PEM) */
  ca?: string
  /** the org, when the credentials name it (a destination's property) */
  org?: string
}

export interface CfClientOptions {
  timeoutMs?: number
  /** after a 401: read the credentials again */
  renew?: () => Promise<CfCredentials>
  /** GETs answered 429/5xx are repeated this many times inside the call */
  getRetries?: number
  retryBaseMs?: number
  /** a GET does not wait longer than this for a 429 inside the call (the error goes to the caller) */
  maxRetryWaitMs?: number
  pageSize?: number
  /** the rate budget: waits for a place, answers the function that reports the call's outcome */
  throttle?: (req: ThrottleRequest) => Promise<void | ((outcome: ThrottleOutcome) => void)>
  /** books a place for a call `id` makes later; the expected wait in ms */
  book?: (req: ThrottleRequest, id: string) => Promise<number>
  /** until when (epoch ms) a 429 holds the technical user's calls back, in any app instance (0: not paused) */
  pausedUntil?: () => Promise<number>
  /** no call before `until` (epoch ms), in any app instance */
  pause?: (until: number) => Promise<void>
  /** the clock a token's lifetime goes by (default Date.now; tests move it) */
  now?: () => number
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
/** The value at a path of a JSON document (undefined where a step is missing). */
function at(doc: unknown, ...path: (string | number)[]): unknown {
  let v = doc
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined
  return v
}
/** A JSON document CF answered: a resource, a list page, a job or an error (read by the caller, which knows which). */
export interface CfDocument {
  guid?: string
  name?: string
  [k: string]: unknown
}

export interface CfResource {
  guid: string
  name: string
  [k: string]: unknown
}

export interface CfJob {
  guid: string
  operation: string
  state: 'PROCESSING' | 'POLLING' | 'COMPLETE' | 'FAILED'
  errors?: { code?: number; title?: string; detail?: string }[]
}

interface Answer {
  status: number
  data: CfDocument
  location?: string
}

const trimSlash = (s: string) => s.replace(/\/+$/, '')

/** CF error codes that mean "another operation runs on this instance": try again later. */
const IN_PROGRESS = new Set([60016, 390008, 10016])
/** CF error codes that mean "the name is taken" (answered 409 like SM's conflict). */
const NAME_TAKEN = new Set([60002, 360001, 90003, 130003])

/** A CF error answer as the error the reconciler understands. */
export function cfError(method: string, path: string, status: number, data: unknown, retryAfterMs?: number): ServiceManagerError {
  const first = at(data, 'errors', 0)
  const errorCode = at(first, 'code')
  const code = str(at(first, 'title')) ?? `CF-${status}`
  const inProgress = typeof errorCode === 'number' && IN_PROGRESS.has(errorCode)
  const taken = typeof errorCode === 'number' && NAME_TAKEN.has(errorCode)
  return new ServiceManagerError({
    code,
    description: str(at(first, 'detail')) ?? `Cloud Foundry answered ${status}`,
    // SM's statuses for the same situations: 409 a name taken, 422 an operation in progress
    status: taken ? 409 : inProgress ? 422 : status,
    retryable: inProgress || isTransientStatus(status),
    retryAfterMs,
    method,
    path
  })
}

/**
 * Whether an error came from the Cloud Foundry API (this client) or from the CF checks of platform.ts, not from
 * Service Manager: request handlers name the API that answered.
 */
export function fromCloudFoundry(e: ServiceManagerError): boolean {
  return /^CF[-_]/.test(e.code) || e.path === '/' || !!e.path?.startsWith('/v3/')
}

export class CloudFoundryClient {
  private creds!: CfCredentials
  private readonly http: AxiosInstance
  private agent: https.Agent | undefined
  private cached: { token: string; until: number; userGuid?: string; username?: string } | undefined
  private inFlight: Promise<string> | undefined
  private uaaBase: string | undefined
  /** a 429 holds every call of this client back until then */
  private pausedUntil = 0
  private readonly opts: Required<Pick<CfClientOptions, 'timeoutMs' | 'getRetries' | 'retryBaseMs' | 'maxRetryWaitMs' | 'pageSize'>> & CfClientOptions
  private readonly now: () => number

  constructor(creds: CfCredentials, opts: CfClientOptions = {}) {
    this.opts = { timeoutMs: 30_000, getRetries: 3, retryBaseMs: 300, maxRetryWaitMs: 5_000, pageSize: 100, ...opts }
    this.http = axios.create({ timeout: this.opts.timeoutMs, maxRedirects: 0, validateStatus: () => true })
    this.now = opts.now ?? Date.now
    this.useCredentials(creds)
  }

  /** Other credentials (renewed, or read again): the next call fetches a token with them. */
  useCredentials(creds: CfCredentials): void {
    if (!/^https?:\/\/[^/]/i.test(creds.api ?? '')) throw new ServiceManagerError({ code: 'InvalidCredentials', description: 'the Cloud Foundry API endpoint must be an absolute http(s) URL', retryable: false })
    if (!creds.username || !creds.password) throw new ServiceManagerError({ code: 'InvalidCredentials', description: 'the Cloud Foundry technical user needs a username and a password', retryable: false })
    const same = this.creds && JSON.stringify(this.creds) === JSON.stringify(creds)
    this.creds = { ...creds, api: trimSlash(creds.api) }
    if (same) return
    this.cached = undefined
    this.uaaBase = creds.uaa ? trimSlash(creds.uaa) : undefined
    this.agent?.destroy()
    this.agent = creds.ca ? new https.Agent({ ca: [...tls.rootCertificates, creds.ca], minVersion: 'TLSv1.2' }) : undefined
  }

  get api(): string {
    return this.creds.api
  }

  get username(): string {
    return this.creds.username
  }

  /** ms until a 429's pause ends (0: none) */
  pausedFor(): number {
    return Math.max(0, this.pausedUntil - Date.now())
  }

  /**
   * How long a call would wait for the rate limits, for a caller that comes back then instead of waiting:
   * books a place for `id` in the budget (used up by the call that names it), else this client's pause.
   */
  async expectedWait(method: Method, id: string): Promise<number> {
    const booked = this.opts.book ? await this.opts.book({ method, path: '/v3' }, id) : 0
    return Math.max(booked, this.pausedFor())
  }

  close(): void {
    this.agent?.destroy()
  }

  // ---- token --------------------------------------------------------------------------------------

  /** The technical user's GUID (the `user_id` of its token), for role checks. */
  async userGuid(): Promise<string> {
    await this.token()
    return this.cached!.userGuid!
  }

  private async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.until) return this.cached.token
    this.inFlight ??= this.fetchToken().finally(() => (this.inFlight = undefined))
    return this.inFlight
  }

  private async uaa(): Promise<string> {
    if (this.uaaBase) return this.uaaBase
    const res = await this.send('GET', this.creds.api + '/', {})
    const href = str(at(res.data, 'links', 'uaa', 'href')) ?? str(at(res.data, 'links', 'login', 'href'))
    if (res.status !== 200 || typeof href !== 'string') throw cfError('GET', '/', res.status === 200 ? 502 : res.status, res.data)
    return (this.uaaBase = trimSlash(href))
  }

  private async fetchToken(): Promise<string> {
    const base = await this.uaa()
    const form = new URLSearchParams({ grant_type: 'password', username: this.creds.username, password: this.creds.password })
    const res = await this.send('POST', `${base}/oauth/token`, {
      data: form.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      auth: { username: this.creds.clientId ?? 'cf', password: this.creds.clientSecret ?? '' }
    })
    const token = str(at(res.data, 'access_token'))
    if (res.status !== 200 || !token) {
      const description = res.status === 401 ? 'the UAA refused the technical user (wrong username or password)' : `the UAA answered ${res.status}`
      throw new ServiceManagerError({ code: 'TokenError', description, status: res.status, retryable: isTransientStatus(res.status), method: 'POST', path: '/oauth/token' })
    }
    let claims: unknown
    try {
      claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
    } catch {
      /* an opaque token: no user GUID */
    }
    const ttl = Number(at(res.data, 'expires_in') ?? 600) * 1000
    this.cached = { token, until: this.now() + Math.max(1000, ttl - Math.min(60_000, ttl / 5)), userGuid: str(at(claims, 'user_id')), username: str(at(claims, 'user_name')) }
    return token
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private async send(method: Method, url: string, cfg: Obj): Promise<AxiosResponse> {
    try {
      return await this.http.request({ method, url, ...(this.agent && url.startsWith('https:') ? { httpsAgent: this.agent } : {}), ...cfg })
    } catch (e) {
      const code = (e as { code?: string }).code
      const timeout = code === 'ECONNABORTED' || code === 'ETIMEDOUT'
      throw new ServiceManagerError({
        code: timeout ? 'Timeout' : 'NetworkError',
        description: timeout ? 'Cloud Foundry did not answer in time' : `Cloud Foundry could not be reached (${code ?? 'network error'})`,
        retryable: true,
        method,
        path: new URL(url).pathname
      })
    }
  }

  private retryAfter(res: AxiosResponse): number | undefined {
    const ra = parseRetryAfter(res.headers?.['retry-after'] as string | undefined)
    if (ra !== undefined) return ra
    return this.untilReset(res)
  }

  /** ms until CF's rate-limit window ends (`X-RateLimit-Reset`, epoch seconds) */
  private untilReset(res: AxiosResponse): number | undefined {
    const reset = Number(res.headers?.['x-ratelimit-reset'])
    return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - Date.now()) : undefined
  }

  /** Holds every call back until `until`: in this client, and through the budget in every app instance. */
  private async holdUntil(until: number): Promise<void> {
    if (until <= this.pausedUntil) return
    this.pausedUntil = until
    await this.opts.pause?.(until).catch(() => undefined)
  }

  /**
   * Inside a request with a deadline (srv/service-manager/deadline.ts): a call that a 429's pause holds back
   * beyond it is not queued; the caller gets the 429 at once, with the time left in the pause.
   */
  private async failFastWhenPaused(method: Method, rel: string): Promise<void> {
    const deadline = currentDeadline()
    if (deadline === undefined) return
    const until = Math.max(this.pausedUntil, this.opts.pausedUntil ? await this.opts.pausedUntil() : 0)
    if (until <= deadline) return
    throw new ServiceManagerError({ code: 'CF-RateLimitExceeded', description: 'Cloud Foundry rate-limits the technical user', status: 429, retryable: true, retryAfterMs: until - Date.now(), method, path: rel })
  }

  /** One call of the v3 API: budget, token, 401 once more with fresh credentials, 429 pause, GET retries. */
  async call(method: Method, path: string, opts: { query?: Obj; body?: unknown; pass?: number[]; booking?: string } = {}): Promise<Answer> {
    const url = path.startsWith('http') ? path : `${this.creds.api}${path}`
    const rel = new URL(url).pathname
    // links CF hands out (a job's Location, pagination.next) are followed only on the API's own host: the token goes nowhere else
    if (new URL(url).origin !== new URL(this.creds.api).origin)
      throw new ServiceManagerError({ code: 'InvalidResponse', description: `Cloud Foundry pointed to another host (${new URL(url).host})`, retryable: false, method, path: rel })
    let renewed = false
    for (let attempt = 0; ; attempt++) {
      const wait = this.pausedFor()
      if (wait > 0) {
        // rate-limited: a GET waits a short pause out, anything else goes back to the caller's schedule
        if (method !== 'GET' || wait > this.opts.maxRetryWaitMs)
          throw new ServiceManagerError({ code: 'CF-RateLimitExceeded', description: 'Cloud Foundry rate-limits the technical user', status: 429, retryable: true, retryAfterMs: wait, method, path: rel })
        await sleep(wait)
      }
      await this.failFastWhenPaused(method, rel)
      // a place in the budget first (the booking is used by the first attempt only)
      const held = this.opts.throttle ? await this.opts.throttle({ method, path: rel, booking: attempt === 0 ? opts.booking : undefined }) : undefined
      const settle = typeof held === 'function' ? held : undefined
      let res: AxiosResponse
      try {
        res = await this.send(method, url, {
          params: opts.query,
          data: opts.body,
          headers: { Authorization: `bearer ${await this.token()}`, Accept: 'application/json', ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}) }
        })
      } catch (e) {
        settle?.({})
        throw e
      }
      const retryAfterMs = res.status === 429 || res.status === 503 ? this.retryAfter(res) : undefined
      // the budget pauses the technical user after a 429 (all app instances); the window used up: until its reset
      settle?.({ status: res.status, retryAfterMs })
      if (res.status === 429) await this.holdUntil(Date.now() + (retryAfterMs ?? 1000))
      else if (res.headers?.['x-ratelimit-remaining'] === '0') {
        const reset = this.untilReset(res)
        if (reset) await this.holdUntil(Date.now() + reset)
      }
      if (res.status === 401 && !renewed) {
        renewed = true
        this.cached = undefined
        if (this.opts.renew) this.useCredentials(await this.opts.renew())
        continue
      }
      if (method === 'GET' && attempt < this.opts.getRetries && (res.status === 429 || res.status >= 500)) {
        const delay = getRetryWait(res.status === 429 ? 429 : 503, retryAfterMs, backoff(attempt, { baseMs: this.opts.retryBaseMs }), this.opts.maxRetryWaitMs)
        const deadline = currentDeadline()
        if (delay !== undefined && (deadline === undefined || Date.now() + delay <= deadline)) {
          await sleep(delay)
          continue
        }
      }
      if (res.status >= 400 && !opts.pass?.includes(res.status)) throw cfError(method, rel, res.status, res.data, retryAfterMs)
      const location = res.headers?.location as string | undefined
      return { status: res.status, data: isObj(res.data) ? res.data : {}, location }
    }
  }

  /** Every resource of a list, page by page (`pagination.next`). */
  async list<T = CfResource>(path: string, query: Obj = {}): Promise<T[]> {
    const out: T[] = []
    let next: string | undefined = path
    let q: Obj | undefined = { per_page: this.opts.pageSize, ...query }
    for (let pages = 0; next && pages < 1000; pages++) {
      const res: Answer = await this.call('GET', next, { query: q })
      const resources = res.data.resources
      // the caller names the type of the list's resources
      if (Array.isArray(resources)) out.push(...(resources as T[]))
      next = str(at(res.data, 'pagination', 'next', 'href'))
      q = undefined // the next link carries the query
    }
    return out
  }

  async get<T = CfResource>(path: string): Promise<T | undefined> {
    const res = await this.call('GET', path, { pass: [404] })
    return res.status === 404 ? undefined : (res.data as T)
  }

  /** A POST or DELETE that CF answers with a job (202 Location) or at once (201/204). */
  async change(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, booking?: string): Promise<{ job?: string; resource?: CfDocument; gone?: boolean }> {
    const res = await this.call(method, path, { body, pass: method === 'DELETE' ? [404] : [], booking })
    if (res.status === 404) return { gone: true }
    if (res.status === 202) return { job: res.location }
    return { resource: res.data }
  }

  async job(location: string): Promise<CfJob | undefined> {
    return this.get<CfJob>(location)
  }
}
