import { setTimeout as sleep } from 'node:timers/promises'
import { ServiceManagerError } from '../service-manager/errors'
import { withDeadline } from '../service-manager/deadline'
import { retryAfterSeconds, retryDelay } from './retry'

/**
 * Service Manager calls made inside a request (reveal, download, verify, refresh, adopt, remove, sweep,
 * catalog sync): a 429 is tried again after its Retry-After (or a short backoff) while the request has time
 * left, at most 5 s in all; after that the 429 propagates and the service answers 503 `SM_RATE_LIMITED`
 * with a Retry-After in seconds (see `rateLimitAnswer`).
 */
const RATE_LIMIT_BUDGET_MS = 5000

const isRateLimited = (e: unknown): e is ServiceManagerError => e instanceof ServiceManagerError && e.status === 429

/** Runs `work`, again after a 429 while the budget allows the wait; anything else propagates at once. */
async function retryRateLimited<T>(work: () => Promise<T>, budgetMs = RATE_LIMIT_BUDGET_MS): Promise<T> {
  const until = Date.now() + budgetMs
  for (let attempt = 0; ; attempt++) {
    try {
      // the SM calls of `work` do not wait past the budget either (a 429's pause, the client's GET retries)
      return await withDeadline(until, work)
    } catch (e) {
      if (!isRateLimited(e)) throw e
      const wait = retryDelay(e, attempt, { baseMs: 200, maxMs: 1000 })
      if (Date.now() + wait > until) throw e
      await sleep(wait)
    }
  }
}

/** A request handler whose Service Manager calls follow the rule above (the whole handler is run again). */
export function rateLimited<A extends unknown[], T>(handler: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  return (...args: A) => retryRateLimited(() => handler(...args))
}

/**
 * How the service answers a 429 that outlasted the budget: 503, message code (`CF_RATE_LIMITED` when the
 * Cloud Foundry API of an instance in a space gave it, srv/cloud-foundry/client.ts) and the wait in whole
 * seconds (at least 1) for the Retry-After header. Undefined for every other error.
 */
export function rateLimitAnswer(e: unknown): { status: 503; code: 'SM_RATE_LIMITED' | 'CF_RATE_LIMITED'; retryAfterSeconds: number } | undefined {
  if (!isRateLimited(e)) return undefined
  const code = e.code.startsWith('CF-') ? 'CF_RATE_LIMITED' : 'SM_RATE_LIMITED'
  return { status: 503, code, retryAfterSeconds: retryAfterSeconds(e.retryAfterMs) }
}
