/**
 * The one place that maps Service Manager answers to errors and decides what a Retry-After means.
 *
 * The single error type raised by the Service Manager client.
 *
 * Callers (the orchestration layer, CAP's persistent queue) decide what to do from `retryable` /
 * `unrecoverable`, `status`, `code` and `retryAfterMs`. Instances never carry request headers, tokens,
 * credentials or the raw HTTP library error, so they are safe to log and to JSON.stringify.
 */

/** Codes this client produces itself; other values of `code` are the SM `error` field verbatim. */
export type ClientErrorCode =
  | 'NetworkError'
  | 'Timeout'
  | 'TokenError'
  | 'OperationFailed'
  | 'OperationTimeout'
  | 'Aborted'
  | 'InvalidResponse'
  | 'InvalidQuery'
  | 'InvalidArgument'
  | 'InvalidCredentials'

/** Upstream broker failure details, normalised from `broker_error` / `brokerError` in any key casing. */
export interface BrokerErrorInfo {
  statusCode?: number
  errorMessage?: string
  description?: string
}

export interface ServiceManagerErrorInit {
  code: string
  description?: string
  status?: number
  retryable?: boolean
  retryAfterMs?: number
  method?: string
  path?: string
  correlationId?: string
  brokerError?: BrokerErrorInfo
  /** For failed operations: the `error` value of the operation's first error. */
  operationError?: string
  /** For OperationFailed / OperationTimeout: the last operation document seen. */
  operation?: unknown
}

/** Statuses worth retrying later (by the caller): timeouts, optimistic-lock and concurrency clashes, rate limit, 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 412 || status === 422 || status === 429
}

export class ServiceManagerError extends Error {
  readonly status: number | undefined
  readonly code: string
  readonly description: string | undefined
  readonly retryable: boolean
  /** CAP queue convention: errors flagged unrecoverable are not retried by the queue. */
  readonly unrecoverable: boolean
  readonly retryAfterMs: number | undefined
  readonly method: string | undefined
  /** Request path without query string. */
  readonly path: string | undefined
  readonly correlationId: string | undefined
  readonly brokerError: BrokerErrorInfo | undefined
  readonly operationError: string | undefined
  readonly operation: unknown

  constructor(init: ServiceManagerErrorInit) {
    super(formatMessage(init))
    this.name = 'ServiceManagerError'
    this.status = init.status
    this.code = init.code
    this.description = init.description
    this.retryable = init.retryable ?? (init.status !== undefined && isRetryableStatus(init.status))
    this.unrecoverable = !this.retryable
    this.retryAfterMs = init.retryAfterMs
    this.method = init.method
    this.path = init.path
    this.correlationId = init.correlationId
    this.brokerError = init.brokerError
    this.operationError = init.operationError
    this.operation = init.operation
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      description: this.description,
      retryable: this.retryable,
      unrecoverable: this.unrecoverable,
      retryAfterMs: this.retryAfterMs,
      method: this.method,
      path: this.path,
      correlationId: this.correlationId,
      brokerError: this.brokerError,
      operationError: this.operationError,
      operation: this.operation
    }
  }
}

export function isServiceManagerError(e: unknown): e is ServiceManagerError {
  return e instanceof ServiceManagerError
}

function formatMessage(init: ServiceManagerErrorInit): string {
  let msg = init.status !== undefined ? `Service Manager ${init.status} ${init.code}` : `Service Manager ${init.code}`
  if (init.description) msg += `: ${init.description}`
  if (init.method && init.path) msg += ` (${init.method} ${init.path})`
  return msg
}

// ------------------------------------------------------------------------------------------ SM error documents

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  408: 'RequestTimeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'ConcurrentResourceUpdate',
  413: 'PayloadTooLarge',
  422: 'UnprocessableEntity',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout'
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const normKey = (k: string) => k.toLowerCase().replace(/[_-]/g, '')

/** Case/underscore-insensitive property lookup: broker_error, brokerError, BrokerError all match. */
function prop(o: Obj, name: string): unknown {
  if (name in o) return o[name]
  const want = normKey(name)
  for (const k of Object.keys(o)) if (normKey(k) === want) return o[k]
  return undefined
}
const propStr = (o: Obj, name: string): string | undefined => {
  const v = prop(o, name)
  return typeof v === 'string' && v.trim() ? v : undefined
}

export interface ParsedError {
  error?: string
  description?: string
  brokerError?: BrokerErrorInfo
}

function parseBrokerError(v: unknown): BrokerErrorInfo | undefined {
  if (typeof v === 'string' && v.trim()) return { description: v }
  if (!isObj(v)) return undefined
  const sc = prop(v, 'statusCode') ?? prop(v, 'status')
  const info: BrokerErrorInfo = {
    statusCode: typeof sc === 'number' ? sc : typeof sc === 'string' && /^\d+$/.test(sc) ? Number(sc) : undefined,
    errorMessage: propStr(v, 'errorMessage') ?? propStr(v, 'error'),
    description: propStr(v, 'description')
  }
  return info.statusCode !== undefined || info.errorMessage || info.description ? info : undefined
}

/** Read an SM/XSUAA error document: {error, description, broker_error|brokerError}, any key casing. */
export function parseErrorDoc(doc: Obj): ParsedError {
  const brokerError = parseBrokerError(prop(doc, 'broker_error'))
  const description =
    brokerError?.description ??
    propStr(doc, 'description') ??
    brokerError?.errorMessage ??
    propStr(doc, 'error_description') ??
    propStr(doc, 'message')
  return { error: propStr(doc, 'error'), description, brokerError }
}

/** The first error of a failed operation: `errors` may be an object, an array, a JSON string, or nested. */
export function firstOperationError(errors: unknown): Obj | undefined {
  if (typeof errors === 'string') {
    if (!errors.trim()) return undefined
    try {
      return firstOperationError(JSON.parse(errors))
    } catch {
      return { description: errors }
    }
  }
  if (Array.isArray(errors)) {
    for (const e of errors) {
      const found = firstOperationError(e)
      if (found) return found
    }
    return undefined
  }
  if (isObj(errors)) {
    const nested = prop(errors, 'errors')
    if (Array.isArray(nested) && nested.length) return firstOperationError(nested)
    return Object.keys(errors).length ? errors : undefined
  }
  return undefined
}

export function parseErrorBody(data: unknown): ParsedError {
  if (isObj(data)) return parseErrorDoc(data)
  if (typeof data === 'string' && data.trim()) {
    try {
      const parsed: unknown = JSON.parse(data)
      if (isObj(parsed)) return parseErrorDoc(parsed)
    } catch {
      /* not JSON: use the text */
    }
    return { description: data.trim().slice(0, 300) }
  }
  return {}
}

/** The code of an HTTP status without an SM `error` field. */
export function statusCode(status: number): string {
  return STATUS_CODES[status] ?? `HTTP${status}`
}

/** An SM answer that is not a success, as the one error type (texts redacted by the caller's `redact`). */
export function errorFromResponse(
  res: { status: number; data: unknown; retryAfterMs?: number; routerError?: boolean },
  call: { method: string; path: string; correlationId?: string; redact: (text: string) => string }
): ServiceManagerError {
  const { redact } = call
  const parsed: ParsedError = res.routerError ? { description: 'SM is unreachable (X-Cf-RouterError: unknown_route)' } : parseErrorBody(res.data)
  const b = parsed.brokerError
  return new ServiceManagerError({
    status: res.status,
    code: (parsed.error && redact(parsed.error)) ?? statusCode(res.status),
    description: parsed.description ? redact(parsed.description) : undefined,
    retryAfterMs: res.retryAfterMs,
    method: call.method,
    path: call.path.split('?')[0],
    correlationId: call.correlationId,
    brokerError: b && {
      statusCode: b.statusCode,
      errorMessage: b.errorMessage && redact(b.errorMessage),
      description: b.description && redact(b.description)
    }
  })
}

// ------------------------------------------------------------------------------------------ Retry-After

export { parseRetryAfter } from './retry-after'

/**
 * How long an endpoint class pauses, for every app instance, after a 429 (rate budget): its Retry-After,
 * or `defaultRetryAfterMs` without one, at most `maxPauseMs`.
 */
export function pauseAfter429(retryAfterMs: number | undefined, limits: { defaultRetryAfterMs: number; maxPauseMs: number }): number {
  return Math.min(limits.maxPauseMs, Math.max(0, retryAfterMs ?? limits.defaultRetryAfterMs))
}

/**
 * Whether a GET that SM answered `status` is worth repeating inside the call, and after how long: 429 and
 * 503 after their Retry-After (else the caller's backoff), unless that is longer than `maxWaitMs` (the
 * error goes to the caller, who comes back later). Undefined: do not repeat.
 */
export function getRetryWait(status: number, retryAfterMs: number | undefined, backoffMs: number, maxWaitMs: number): number | undefined {
  if (status !== 429 && status !== 503) return undefined
  const wait = retryAfterMs ?? backoffMs
  return wait <= maxWaitMs ? wait : undefined
}

/** A 429 while polling an operation counts as "still in progress": poll again after Retry-After at the earliest. */
export function pollWaitAfter429(pollDelayMs: number, retryAfterMs: number | undefined): number {
  return Math.max(pollDelayMs, retryAfterMs ?? 0)
}

/**
 * When a caller that failed with `e` should try again (the reconciler's schedule): SM's Retry-After when
 * it gave one, else exponential backoff from `baseMs` (attempt 0 = baseMs) up to `maxMs`.
 */
export function retryDelay(e: unknown, attempt: number, opts: { baseMs: number; maxMs: number }): number {
  const backoff = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt))
  if (e instanceof ServiceManagerError && e.retryAfterMs !== undefined) return Math.max(e.retryAfterMs, 0)
  return backoff
}
