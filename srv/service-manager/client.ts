/**
 * ServiceManagerClient — the only module that speaks SAP Service Manager HTTP.
 *
 * Responsibilities: OAuth token (client secret or X.509/mTLS) with caching and a single refresh on 401,
 * full pagination, query building, explicit `async`, 201/202 handling with relative Location, operation
 * polling, and mapping every failure to ServiceManagerError. It does not retry mutating calls: the
 * orchestration layer decides (it must look objects up before re-POSTing). Only idempotent GETs are
 * retried a few times on 429/503/network errors.
 */
import type https from 'node:https'
import cds from '@sap/cds'
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as wait } from 'node:timers/promises'
import axios, { type AxiosInstance, type AxiosResponse } from 'axios'
import {
  ServiceManagerError,
  firstOperationError,
  errorFromResponse,
  parseErrorDoc,
  type BrokerErrorInfo
} from './errors'
import { backoff, getRetryWait, parseRetryAfter, pollWaitAfter429 } from '../lib/retry'
import { fieldQuery, labelQuery, validateLabel, encodeQueryComponent, type Criterion } from './query'
import { resolveTokenAuth, stripTrailingSlashes, type SMCredentials } from './credentials'
import { requestToken, secretsOf, tokenAgent, TokenCache, TokenRequestError, type ClientAuth, type Token } from '../lib/oauth'
import { currentDeadline } from './deadline'
import type {
  AsyncOptions,
  AsyncResult,
  ClientOptions,
  CreateBindingBody,
  CreateInstanceBody,
  UpdateInstanceBody,
  LabelOp,
  ListQuery,
  SMBinding,
  SMInstance,
  SMLabels,
  SMOffering,
  SMOperation,
  SMPlan,
  WaitOptions
} from './types'

export type { SMCredentials } from './credentials'

const LOG = cds.log('sm-client')

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'
type QueryParams = Record<string, string | number | boolean | undefined>

interface CallOptions {
  query?: QueryParams
  body?: unknown
  /** Non-2xx statuses handed back to the caller instead of thrown. */
  pass?: readonly number[]
  signal?: AbortSignal
  /** the throttle booking this call uses up */
  booking?: string
}

interface SMResponse {
  status: number
  data: unknown
  location?: string
  retryAfterMs?: number
  /** 404 with X-Cf-RouterError: unknown_route, rewritten to 503 */
  routerError?: boolean
}

const LOCATION_ID = /^\/v1\/service_(instances|bindings)\/([^/]+)\/operations\//
const DELETE_LOCATIONS_MAX = 1000

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)

function header(res: AxiosResponse, name: string): string | undefined {
  const v: unknown = res.headers?.[name]
  if (typeof v === 'string') return v
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0]
  return undefined
}

function abortedError(method?: string, path?: string): ServiceManagerError {
  return new ServiceManagerError({ code: 'Aborted', description: 'aborted by caller', retryable: true, method, path })
}

/** Waits `ms`; an abort of `signal` ends the wait with the Aborted error. */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(Math.max(0, ms), undefined, { signal })
  } catch (e) {
    if (signal?.aborted) throw abortedError()
    throw e
  }
}

function invalidArgument(description: string): ServiceManagerError {
  return new ServiceManagerError({ code: 'InvalidArgument', description, retryable: false })
}

function requireId(id: string, what: string): string {
  if (typeof id !== 'string' || !id.trim()) throw invalidArgument(`${what} id is required`)
  return encodeURIComponent(id)
}

function validateLabels(labels: SMLabels | undefined): void {
  if (labels === undefined) return
  if (!isObj(labels)) throw invalidArgument('labels must be an object of key -> string[]')
  for (const [k, values] of Object.entries(labels)) {
    validateLabel(k, values)
    if (values.length === 0) throw invalidArgument(`label "${k}" needs at least one value`)
  }
}

function toExpression(q: Criterion[] | string | undefined, build: (c: Criterion[]) => string): string | undefined {
  if (q === undefined) return undefined
  const expr = typeof q === 'string' ? q : build(q)
  return expr.trim() ? expr : undefined
}

export class ServiceManagerClient {
  readonly correlationId: string
  private base: string
  private auth: ClientAuth
  private readonly http: AxiosInstance
  private tokenAgent: https.Agent | undefined
  /** what the current credentials were made from (to tell whether renewed ones differ) */
  private fingerprint = ''
  private readonly renew: ClientOptions['renew']
  private readonly ca: string | undefined
  private readonly timeoutMs: number
  private readonly pollInitialMs: number
  private readonly pollMaxMs: number
  private readonly getRetries: number
  private readonly retryBaseMs: number
  private readonly maxRetryWaitMs: number
  private readonly pageSize: number
  private readonly throttle: ClientOptions['throttle']
  private readonly book: ClientOptions['book']
  private readonly pausedUntil: ClientOptions['pausedUntil']
  private readonly tokens = new TokenCache(() => this.fetchToken())
  /** values that must never leave this object in an error text */
  private readonly secrets = new Set<string>()
  private readonly deleteLocations = new Set<string>()

  constructor(creds: SMCredentials, opts: ClientOptions = {}) {
    this.ca = opts.ca
    this.renew = opts.renew
    const { auth, base } = this.parse(creds)
    this.auth = auth
    this.base = base
    this.useCredentials(creds)
    this.correlationId = opts.correlationId ?? randomUUID()
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.pollInitialMs = Math.max(1, opts.pollInitialMs ?? 1_000)
    this.pollMaxMs = Math.max(this.pollInitialMs, opts.pollMaxMs ?? 15_000)
    this.getRetries = Math.max(0, opts.getRetries ?? 3)
    this.retryBaseMs = Math.max(0, opts.retryBaseMs ?? 500)
    this.maxRetryWaitMs = opts.maxRetryWaitMs ?? 30_000
    this.pageSize = opts.pageSize ?? 100
    this.throttle = opts.throttle
    this.book = opts.book
    this.pausedUntil = opts.pausedUntil
    this.http = axios.create({
      timeout: this.timeoutMs,
      maxRedirects: 0,
      validateStatus: () => true,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: true }
    })
  }

  private parse(creds: SMCredentials): { auth: ClientAuth; base: string } {
    const auth = resolveTokenAuth(creds)
    const base = stripTrailingSlashes(creds.sm_url.trim())
    if (!/^https?:\/\/[^/]/i.test(base)) throw invalidArgument('sm_url must be an absolute http(s) URL')
    return { auth, base }
  }

  /**
   * Switches to other credentials (renewed after a 401, or re-read after their maximum age): the next call
   * fetches a token with them. Nothing changes when they are the ones in use.
   */
  useCredentials(creds: SMCredentials): void {
    const { auth, base } = this.parse(creds)
    const fingerprint = createHash('sha256')
      .update(JSON.stringify({ base, ca: creds.ca, auth: { ...auth, pfx: auth.kind === 'pfx' ? auth.pfx.toString('base64') : undefined } }))
      .digest('base64')
    if (fingerprint === this.fingerprint) return
    this.fingerprint = fingerprint
    this.auth = auth
    this.base = base
    for (const s of secretsOf(auth)) this.secrets.add(s)
    this.tokens.drop()
    this.tokenAgent?.destroy()
    this.tokenAgent = tokenAgent(auth, [this.ca, creds.ca])
  }

  /** How this client authenticates: client secret or client certificate (never the secret itself). */
  get authentication(): 'secret' | 'certificate' {
    return this.auth.kind === 'secret' ? 'secret' : 'certificate'
  }

  // ---------------------------------------------------------------- catalog

  listOfferings(q?: ListQuery): Promise<SMOffering[]> {
    return this.listAll<SMOffering>('/v1/service_offerings', q, false)
  }

  listPlans(q?: ListQuery): Promise<SMPlan[]> {
    return this.listAll<SMPlan>('/v1/service_plans', q, false)
  }

  // ---------------------------------------------------------------- instances

  listInstances(q?: ListQuery): Promise<SMInstance[]> {
    return this.listAll<SMInstance>('/v1/service_instances', q, true)
  }

  getInstance(id: string): Promise<SMInstance | undefined> {
    return this.getById<SMInstance>(`/v1/service_instances/${requireId(id, 'instance')}`)
  }

  async createInstance(body: CreateInstanceBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMInstance>> {
    if (!isObj(body) || typeof body.name !== 'string' || !body.name.trim()) throw invalidArgument('instance name is required')
    const byId = !!body.service_plan_id
    const byName = !!body.service_offering_name || !!body.service_plan_name
    if (byId === byName || (byName && !(body.service_offering_name && body.service_plan_name)))
      throw invalidArgument('give either service_plan_id or both service_offering_name and service_plan_name')
    validateLabels(body.labels)
    const path = '/v1/service_instances'
    const res = await this.call('POST', path, { query: { async: opts.async ?? true }, body, booking: opts.booking })
    return this.asyncResult<SMInstance>('POST', path, res)
  }

  async deleteInstance(id: string, opts: AsyncOptions = {}): Promise<AsyncResult<void>> {
    const path = `/v1/service_instances/${requireId(id, 'instance')}`
    const res = await this.call('DELETE', path, { query: { async: opts.async ?? true }, pass: [404, 410], booking: opts.booking })
    return this.deleteResult('DELETE', path, res, id)
  }

  /** PATCH an instance's parameters and/or plan (default async=true): SM's update, a tracked operation. */
  async updateInstance(id: string, body: UpdateInstanceBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMInstance>> {
    if (!isObj(body) || (body.parameters === undefined && body.service_plan_id === undefined)) throw invalidArgument('parameters or service_plan_id is required')
    const path = `/v1/service_instances/${requireId(id, 'instance')}`
    const res = await this.call('PATCH', path, { query: { async: opts.async ?? true }, body, booking: opts.booking })
    return this.asyncResult<SMInstance>('PATCH', path, res, id)
  }

  /** PATCH label operations (default async=false). */
  async updateInstanceLabels(id: string, ops: LabelOp[], opts: AsyncOptions = {}): Promise<AsyncResult<SMInstance>> {
    const path = `/v1/service_instances/${requireId(id, 'instance')}`
    const res = await this.call('PATCH', path, { query: { async: opts.async ?? false }, body: { labels: this.labelOps(ops) } })
    return this.asyncResult<SMInstance>('PATCH', path, res, id)
  }

  // ---------------------------------------------------------------- bindings

  listBindings(q?: ListQuery): Promise<SMBinding[]> {
    return this.listAll<SMBinding>('/v1/service_bindings', q, true)
  }

  getBinding(id: string): Promise<SMBinding | undefined> {
    return this.getById<SMBinding>(`/v1/service_bindings/${requireId(id, 'binding')}`)
  }

  async createBinding(body: CreateBindingBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMBinding>> {
    if (!isObj(body) || typeof body.name !== 'string' || !body.name.trim()) throw invalidArgument('binding name is required')
    if (typeof body.service_instance_id !== 'string' || !body.service_instance_id.trim())
      throw invalidArgument('service_instance_id is required')
    validateLabels(body.labels)
    const path = '/v1/service_bindings'
    const res = await this.call('POST', path, { query: { async: opts.async ?? false }, body, booking: opts.booking })
    return this.asyncResult<SMBinding>('POST', path, res)
  }

  async deleteBinding(id: string, opts: AsyncOptions = {}): Promise<AsyncResult<void>> {
    const path = `/v1/service_bindings/${requireId(id, 'binding')}`
    const res = await this.call('DELETE', path, { query: { async: opts.async ?? false }, pass: [404, 410], booking: opts.booking })
    return this.deleteResult('DELETE', path, res, id)
  }

  /** Bindings accept only name/label changes, synchronously (async=true is rejected by SM). */
  async updateBindingLabels(id: string, ops: LabelOp[]): Promise<AsyncResult<SMBinding>> {
    const path = `/v1/service_bindings/${requireId(id, 'binding')}`
    const res = await this.call('PATCH', path, { query: { async: false }, body: { labels: this.labelOps(ops) } })
    return this.asyncResult<SMBinding>('PATCH', path, res, id)
  }

  // ---------------------------------------------------------------- operations

  /** GET the operation behind a (relative) Location path. */
  async getOperation(location: string): Promise<SMOperation> {
    const path = this.relativeLocation(location)
    const res = await this.call('GET', path)
    return this.operationOf(path, res)
  }

  /**
   * How long a call would wait for the rate limits (0 without a throttle), for a caller that comes back
   * then instead of waiting: books a place for `id`, used up by the call that passes `booking: id`.
   */
  async expectedWait(method: Method, path: string, id: string): Promise<number> {
    return this.book ? this.book({ method, path }, id) : 0
  }

  /**
   * Poll until the operation succeeds (resolves) or fails (throws OperationFailed, not retryable), or the
   * deadline passes (throws OperationTimeout, retryable). Waits pollInitialMs, doubling up to pollMaxMs.
   * 429 counts as still in progress (waits at least Retry-After); 404/410 on a delete operation = succeeded.
   */
  async waitForOperation(location: string, opts: WaitOptions): Promise<SMOperation> {
    const path = this.relativeLocation(location)
    let isDelete = opts.expectDelete === true || this.deleteLocations.has(path)
    let delay = this.pollInitialMs
    let last: SMOperation | undefined
    for (;;) {
      if (opts.signal?.aborted) throw abortedError('GET', path)
      const res = await this.call('GET', path, { pass: [404, 410, 429], signal: opts.signal })
      let wait = delay
      if (res.status === 404 || res.status === 410) {
        if (isDelete) return this.goneOperation(path, last)
        throw this.httpError('GET', path, res)
      } else if (res.status === 429) {
        wait = pollWaitAfter429(delay, res.retryAfterMs)
      } else {
        const op = this.operationOf(path, res)
        last = op
        if (String(op.type ?? '').toLowerCase() === 'delete') isDelete = true
        const state = String(op.state ?? '').toLowerCase()
        if (state === 'succeeded') return op
        if (state === 'failed') throw this.operationFailed(path, op)
      }
      const remaining = opts.deadline - Date.now()
      if (remaining <= 0) {
        throw new ServiceManagerError({
          code: 'OperationTimeout',
          description: `operation still ${last?.state ?? 'in progress'} at the deadline`,
          retryable: true,
          method: 'GET',
          path,
          correlationId: this.correlationId,
          operation: this.redactDeep(last)
        })
      }
      await sleep(Math.min(wait, remaining), opts.signal)
      delay = Math.min(delay * 2, this.pollMaxMs)
    }
  }

  // ---------------------------------------------------------------- token

  /** Reads the credentials again (ClientOptions.renew); true when they changed. */
  private async renewCredentials(): Promise<boolean> {
    if (!this.renew) return false
    const before = this.fingerprint
    this.useCredentials(await this.renew())
    if (LOG._debug) LOG.debug(`credentials renewed after a 401: ${before === this.fingerprint ? 'unchanged' : 'changed'}`)
    return before !== this.fingerprint
  }

  /** A token from the token endpoint; its failures as TokenError (retryable for timeouts, 429 and 5xx). */
  private async fetchToken(): Promise<Token> {
    const auth = this.auth
    try {
      const token = await requestToken(auth, { agent: this.tokenAgent, timeoutMs: this.timeoutMs })
      this.secrets.add(token.value)
      if (LOG._debug) LOG.debug('token fetched', { kind: auth.kind, expiresIn: token.expiresInSec })
      return token
    } catch (e) {
      if (!(e instanceof TokenRequestError)) throw e
      const description = e.status === undefined ? `token request failed: ${e.reason}` : e.reason
      throw new ServiceManagerError({ code: 'TokenError', status: e.status, description: this.redact(description), retryable: e.retryable, method: 'POST', path: '/oauth/token' })
    }
  }

  // ---------------------------------------------------------------- HTTP core

  private url(path: string, query?: QueryParams): string {
    const qs = Object.entries(query ?? {})
      .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
      .map(([k, v]) => `${encodeQueryComponent(k)}=${encodeQueryComponent(String(v))}`)
      .join('&')
    return qs ? `${this.base}${path}?${qs}` : `${this.base}${path}`
  }

  /**
   * Inside a request with a deadline (deadline.ts): a call that a 429's pause holds back beyond it is not
   * queued; the caller gets the 429 at once, with the time left in the pause as its Retry-After.
   */
  private async failFastWhenPaused(method: Method, path: string) {
    const deadline = currentDeadline()
    if (deadline === undefined || !this.pausedUntil) return
    const until = await this.pausedUntil({ method, path })
    if (until <= deadline) return
    throw new ServiceManagerError({
      status: 429,
      code: 'TooManyRequests',
      description: 'Service Manager asked to wait before calls like this one',
      retryAfterMs: until - Date.now(),
      retryable: true,
      method,
      path,
      correlationId: this.correlationId
    })
  }

  /** One logical SM request: throttle hook, bearer token, one refresh on 401, router 404 -> 503. */
  private async exchange(method: Method, path: string, opts: CallOptions): Promise<SMResponse> {
    let refreshed = false
    let renewed = false
    for (;;) {
      await this.failFastWhenPaused(method, path)
      const held = this.throttle ? await this.throttle({ method, path, booking: opts.booking }) : undefined
      const settle = typeof held === 'function' ? held : undefined
      let token: string
      try {
        token = await this.tokens.get()
      } catch (e) {
        settle?.({})
        // the token endpoint refused our client (a rotated secret or certificate): read the credentials again
        if (!renewed && isRejectedClient(e)) {
          renewed = true
          if (await this.renewCredentials()) continue
        }
        throw e
      }
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        'X-CorrelationID': this.correlationId
      }
      if (method === 'POST' || method === 'PATCH') headers['Content-Type'] = 'application/json'
      const started = Date.now()
      let res: AxiosResponse
      try {
        res = await this.http.request({
          method,
          url: this.url(path, opts.query),
          headers,
          data: method === 'POST' || method === 'PATCH' ? JSON.stringify(opts.body ?? {}) : undefined,
          signal: opts.signal
        })
      } catch (e) {
        settle?.({})
        throw this.transportError(e, method, path, opts.signal)
      }
      const retryAfterMs = parseRetryAfter(header(res, 'retry-after'))
      settle?.({ status: res.status, retryAfterMs })
      if (LOG._debug) LOG.debug(`${method} ${path} -> ${res.status} (${Date.now() - started} ms)`)
      if (res.status === 401 && !refreshed) {
        refreshed = true
        this.tokens.drop(token)
        continue
      }
      if (res.status === 401 && !renewed) {
        renewed = true
        if (await this.renewCredentials()) continue
      }
      const routerError = res.status === 404 && /unknown_route/i.test(header(res, 'x-cf-routererror') ?? '')
      return {
        status: routerError ? 503 : res.status,
        data: res.data,
        location: header(res, 'location'),
        retryAfterMs,
        routerError
      }
    }
  }

  /** exchange() plus GET retries (429/503/network, honouring Retry-After) and error mapping. */
  private async call(method: Method, path: string, opts: CallOptions = {}): Promise<SMResponse> {
    const maxRetries = method === 'GET' ? this.getRetries : 0
    for (let attempt = 0; ; attempt++) {
      const backoffMs = backoff(attempt, { baseMs: this.retryBaseMs })
      let res: SMResponse
      try {
        res = await this.exchange(method, path, opts)
      } catch (e) {
        if (
          attempt < maxRetries &&
          e instanceof ServiceManagerError &&
          (e.code === 'NetworkError' || e.code === 'Timeout')
        ) {
          await sleep(backoffMs, opts.signal)
          continue
        }
        throw e
      }
      if (res.status >= 200 && res.status < 300) return res
      if (opts.pass?.includes(res.status)) return res
      if (attempt < maxRetries) {
        const retryWait = getRetryWait(res.status, res.retryAfterMs, backoffMs, this.maxRetryWaitMs)
        const deadline = currentDeadline()
        if (retryWait !== undefined && (deadline === undefined || Date.now() + retryWait <= deadline)) {
          await sleep(retryWait, opts.signal)
          continue
        }
      }
      throw this.httpError(method, path, res)
    }
  }

  private httpError(method: Method, path: string, res: SMResponse): ServiceManagerError {
    return errorFromResponse(res, { method, path, correlationId: this.correlationId, redact: text => this.redact(text) })
  }

  private transportError(e: unknown, method: Method, path: string, signal?: AbortSignal): ServiceManagerError {
    if (e instanceof ServiceManagerError) return e
    const { code, message } = describeTransportError(e)
    if (signal?.aborted || code === 'ERR_CANCELED') return abortedError(method, path)
    const timeout = code === 'ETIMEDOUT' || code === 'ECONNABORTED'
    return new ServiceManagerError({
      code: timeout ? 'Timeout' : 'NetworkError',
      description: this.redact(`${code}${message ? `: ${message}` : ''}`),
      retryable: true,
      method,
      path,
      correlationId: this.correlationId
    })
  }

  private redact(text: string): string {
    let out = text
    for (const s of this.secrets) if (s && out.includes(s)) out = out.split(s).join('***')
    return out
  }

  /** Deep copy with every string redacted (operation documents attached to errors). */
  private redactDeep(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.redact(value)
    if (depth > 20 || value === null || typeof value !== 'object') return value
    if (Array.isArray(value)) return value.map((v) => this.redactDeep(v, depth + 1))
    const out: Obj = {}
    for (const [k, v] of Object.entries(value)) out[k] = this.redactDeep(v, depth + 1)
    return out
  }

  private redactBroker(b: BrokerErrorInfo | undefined): BrokerErrorInfo | undefined {
    if (!b) return undefined
    return {
      statusCode: b.statusCode,
      errorMessage: b.errorMessage && this.redact(b.errorMessage),
      description: b.description && this.redact(b.description)
    }
  }

  // ---------------------------------------------------------------- helpers

  private async getById<T>(path: string): Promise<T | undefined> {
    const res = await this.call('GET', path, { pass: [404] })
    if (res.status === 404) return undefined
    if (!isObj(res.data)) throw this.invalidResponse('GET', path, 'expected a JSON object')
    return res.data as T
  }

  private async listAll<T>(path: string, q: ListQuery | undefined, attachable: boolean): Promise<T[]> {
    const pageSize = q?.maxItems ?? this.pageSize
    if (!Number.isInteger(pageSize) || pageSize < 1) throw invalidArgument('maxItems must be a positive integer')
    const query: QueryParams = {
      fieldQuery: toExpression(q?.fieldQuery, fieldQuery),
      labelQuery: toExpression(q?.labelQuery, labelQuery),
      max_items: pageSize,
      attach_last_operations: attachable && q?.attachLastOperations ? true : undefined,
      environment: q?.environment
    }
    let restarted = false
    for (;;) {
      const items: T[] = []
      const seen = new Set<string>()
      let token: string | undefined
      for (;;) {
        const res = await this.call('GET', path, { query: { ...query, token }, pass: token ? [400, 404] : undefined })
        if (res.status === 400 || res.status === 404) {
          const err = this.httpError('GET', path, res)
          const badToken = res.status === 404 || /token/i.test(`${err.code} ${err.description ?? ''}`)
          if (badToken && !restarted) {
            if (LOG._debug) LOG.debug(`${path}: paging token rejected (${res.status}), restarting listing`)
            break
          }
          throw err
        }
        const page = res.data
        if (!isObj(page) || !Array.isArray(page.items)) throw this.invalidResponse('GET', path, 'list response without items')
        items.push(...(page.items as T[]))
        const next = typeof page.token === 'string' && page.token ? page.token : undefined
        if (!next) return items
        if (seen.has(next)) throw this.invalidResponse('GET', path, 'paging token repeated')
        seen.add(next)
        token = next
      }
      // only a rejected paging token ends the page loop without returning: list once more from the start
      restarted = true
    }
  }

  private labelOps(ops: LabelOp[]): LabelOp[] {
    if (!Array.isArray(ops) || ops.length === 0) throw invalidArgument('at least one label operation is required')
    const allowed = new Set(['add', 'remove', 'add_values', 'remove_values'])
    return ops.map((o) => {
      if (!isObj(o) || !allowed.has(o.op)) throw invalidArgument(`unsupported label operation "${String(o?.op)}"`)
      validateLabel(o.key, o.values)
      if (o.op !== 'remove' && !o.values?.length) throw invalidArgument(`label operation "${o.op}" on "${o.key}" needs values`)
      return o.values ? { op: o.op, key: o.key, values: [...o.values] } : { op: o.op, key: o.key }
    })
  }

  /** Location headers are relative; accept absolute ones only if they point at our SM. */
  private relativeLocation(location: string): string {
    if (typeof location !== 'string' || !location.trim()) throw invalidArgument('operation location is required')
    let p = location.trim()
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
      if (!p.toLowerCase().startsWith(`${this.base.toLowerCase()}/`))
        throw invalidArgument('operation location does not belong to this Service Manager')
      p = p.slice(this.base.length)
    }
    const pathOnly = p.split('?')[0]
    if (!pathOnly.startsWith('/v1/') || pathOnly.split('/').some((seg) => seg === '..' || seg === '.'))
      throw invalidArgument('operation location must be a /v1/... path')
    return p
  }

  private asyncResult<T>(method: Method, path: string, res: SMResponse, knownId?: string): AsyncResult<T> {
    if (res.status === 202) {
      if (!res.location) throw this.invalidResponse(method, path, '202 Accepted without Location header')
      const location = this.relativeLocation(res.location)
      const id = LOCATION_ID.exec(location)?.[2] ?? knownId
      if (!id) throw this.invalidResponse(method, path, 'cannot read the resource id from the Location header')
      return { kind: 'accepted', id: decodeURIComponent(id), location }
    }
    const resource = isObj(res.data) && Object.keys(res.data).length ? (res.data as T) : undefined
    const idFromBody = isObj(res.data) && typeof res.data.id === 'string' ? res.data.id : undefined
    return { kind: 'done', resource, id: idFromBody ?? knownId }
  }

  private deleteResult(method: Method, path: string, res: SMResponse, id: string): AsyncResult<void> {
    if (res.status === 404 || res.status === 410) return { kind: 'done', id }
    const result = this.asyncResult<void>(method, path, res, id)
    if (result.kind === 'accepted') {
      if (this.deleteLocations.size >= DELETE_LOCATIONS_MAX) {
        const oldest = this.deleteLocations.values().next().value
        if (oldest !== undefined) this.deleteLocations.delete(oldest)
      }
      this.deleteLocations.add(result.location)
      return result
    }
    return { kind: 'done', id }
  }

  private operationOf(path: string, res: SMResponse): SMOperation {
    const op = res.data
    if (!isObj(op) || typeof op.state !== 'string') throw this.invalidResponse('GET', path, 'operation without state')
    return op as unknown as SMOperation
  }

  private goneOperation(path: string, last: SMOperation | undefined): SMOperation {
    const m = /^\/v1\/([^/]+)\/([^/]+)\/operations\/([^/?]+)/.exec(path)
    return {
      ...(last ?? {}),
      id: last?.id ?? (m ? decodeURIComponent(m[3]) : ''),
      type: last?.type ?? 'delete',
      state: 'succeeded',
      resource_id: last?.resource_id ?? (m ? decodeURIComponent(m[2]) : undefined),
      resource_type: last?.resource_type ?? (m ? `/v1/${m[1]}` : undefined)
    }
  }

  private operationFailed(path: string, op: SMOperation): ServiceManagerError {
    const first = firstOperationError(op.errors)
    const parsed = first ? parseErrorDoc(first) : {}
    const description = parsed.description ?? parsed.error ?? op.description ?? 'operation failed'
    return new ServiceManagerError({
      code: 'OperationFailed',
      description: this.redact(description),
      retryable: false,
      method: 'GET',
      path,
      correlationId: this.correlationId,
      brokerError: this.redactBroker(parsed.brokerError),
      operationError: parsed.error && this.redact(parsed.error),
      operation: this.redactDeep(op)
    })
  }

  private invalidResponse(method: Method, path: string, description: string): ServiceManagerError {
    return new ServiceManagerError({
      code: 'InvalidResponse',
      description,
      retryable: true,
      method,
      path: path.split('?')[0],
      correlationId: this.correlationId
    })
  }
}

/** The token endpoint answered that it does not know our client or its secret/certificate. */
function isRejectedClient(e: unknown): boolean {
  return e instanceof ServiceManagerError && e.code === 'TokenError' && (e.status === 401 || e.status === 400 || e.status === 403)
}

function describeTransportError(e: unknown): { code: string; message: string } {
  if (axios.isAxiosError(e)) return { code: e.code ?? 'ERR_NETWORK', message: e.message }
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code
    return { code: code ?? e.name, message: e.message }
  }
  return { code: 'ERR_NETWORK', message: '' }
}
