/**
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
