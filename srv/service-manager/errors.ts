/**
 * The one place that maps Service Manager answers to errors (which statuses are retryable, and what a
 * Retry-After means: srv/lib/retry.ts).
 *
 * The single error type raised by the Service Manager client.
 *
 * Callers (the orchestration layer, request handlers) decide what to do from `retryable`, `status`, `code`
 * and `retryAfterMs`. Instances never carry request headers, tokens,
 * credentials or the raw HTTP library error, so they are safe to log and to JSON.stringify.
 */

import { isRetryableStatus } from '../lib/retry'

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


export class ServiceManagerError extends Error {
  readonly status: number | undefined
  readonly code: string
  readonly description: string | undefined
  readonly retryable: boolean
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

interface ParsedError {
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

function parseErrorBody(data: unknown): ParsedError {
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
