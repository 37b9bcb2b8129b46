/** SM-style error ({"error": "Code", "description": "..."}) thrown by handlers and turned into responses. */
export class SmError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    description: string,
    public readonly headers: Record<string, string> = {}
  ) {
    super(description)
  }

  get body(): { error: string; description: string } {
    return { error: this.code, description: this.message }
  }
}

export const badRequest = (description: string, code = 'BadRequest') => new SmError(400, code, description)
export const notFound = (description: string) => new SmError(404, 'NotFound', description)
export const conflict = (description: string) => new SmError(409, 'Conflict', description)
export const concurrentOp = (description: string) => new SmError(422, 'ConcurrentOperationInProgress', description)

/** Default error code for a status used by injected faults. */
export function codeForStatus(status: number): string {
  const codes: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    410: 'Gone',
    412: 'ConcurrentResourceUpdate',
    422: 'ConcurrentOperationInProgress',
    429: 'TooManyRequests',
    500: 'InternalError',
    502: 'BadGateway',
    503: 'ServiceUnavailable',
    504: 'GatewayTimeout'
  }
  return codes[status] ?? 'Error'
}
