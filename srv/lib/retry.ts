/**
 * The retry policy of every remote API this app calls (Service Manager, Cloud Foundry, the Destination
 * service, their token endpoints): which answers are worth another try, what a Retry-After means, how long
 * to back off, and how long a 429 pauses. The clients, the rate budgets, the reconciler's schedule and the
 * requests' own retry (sm-rate-limit.ts) all decide by these rules.
 */

/** Statuses any HTTP API may answer differently later: a timeout, the rate limit, a server error. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429
}

/**
 * Service Manager's retryable statuses: the transient ones, and its concurrency clashes (412 an optimistic
 * lock, 422 another operation running on the instance).
 */
export function isRetryableStatus(status: number): boolean {
  return isTransientStatus(status) || status === 412 || status === 422
}

// asctime ("Sun Nov  6 08:49:37 1994") carries no zone: it is UTC
const ASCTIME = /^[a-z]{3} [a-z]{3} {1,2}\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$/i
// Go's time.String() ("2024-11-11 14:59:33 +0000 UTC") names the zone after its offset
const GO_ZONE_NAME = /^(\d{4}-\d{2}-\d{2}[ T][\d:.]+ [+-]\d{2}:?\d{2}) [a-z]{1,5}$/i
// what Date.parse is given must end in a zone: it reads many other strings ("foo 12", "-5") as local dates
const ZONED = /(?:gmt|utc|[+-]\d{2}:?\d{2})$/i

/**
 * A Retry-After value as a wait in ms: delta-seconds, an HTTP-date (RFC 9110, with its obsolete forms), or the
 * Go timestamp SAP's operators send ("2024-11-11 14:59:33 +0000 UTC"). 0 for a date in the past; undefined
 * when absent or not understood.
 */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  const v = value?.trim()
  if (!v) return undefined
  if (/^\d+$/.test(v)) {
    const seconds = Number(v)
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined
  }
  const text = ASCTIME.test(v) ? `${v} GMT` : v.replace(GO_ZONE_NAME, '$1')
  if (!ZONED.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Exponential backoff: `baseMs` for attempt 0, doubling, at most `maxMs`. */
export function backoff(attempt: number, opts: { baseMs: number; maxMs?: number }): number {
  return Math.min(opts.maxMs ?? Infinity, opts.baseMs * 2 ** Math.max(0, attempt))
}

/**
 * When a caller that failed with `e` should try again: the Retry-After the API gave (an error's `retryAfterMs`),
 * else exponential backoff from `baseMs` up to `maxMs`.
 */
export function retryDelay(e: unknown, attempt: number, opts: { baseMs: number; maxMs: number }): number {
  const retryAfterMs = (e as { retryAfterMs?: unknown } | undefined)?.retryAfterMs
  return typeof retryAfterMs === 'number' ? Math.max(retryAfterMs, 0) : backoff(attempt, opts)
}

/**
 * Whether a GET answered `status` is worth repeating inside the call, and after how long: 429 and 503 after
 * their Retry-After (else the caller's backoff), unless that is longer than `maxWaitMs` (the error goes to the
 * caller, who comes back later). Undefined: do not repeat.
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
 * How long calls pause after a 429 (a rate budget's class, a client): its Retry-After, or
 * `defaultRetryAfterMs` without one, at most `maxPauseMs`.
 */
export function pauseAfter429(retryAfterMs: number | undefined, limits: { defaultRetryAfterMs: number; maxPauseMs: number }): number {
  return Math.min(limits.maxPauseMs, Math.max(0, retryAfterMs ?? limits.defaultRetryAfterMs))
}

/** A wait as the whole seconds of a Retry-After header (at least 1; 1 when none is known). */
export function retryAfterSeconds(retryAfterMs: number | undefined): number {
  return Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000))
}
