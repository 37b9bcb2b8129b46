import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * How long Service Manager calls made inside a user's request may wait. The request's own code (reveal,
 * download, refresh, catalog sync...) runs under a deadline; a call that Service Manager's last 429 holds back
 * beyond it is answered at once with that 429 instead of waiting out the pause, and the client's own retries
 * of GETs do not wait past it. Background work (the reconciler) runs without one and waits its turn.
 */
const deadlines = new AsyncLocalStorage<number>()

/** Runs `work` with calls to Service Manager bounded by `until` (epoch ms). */
export function withDeadline<T>(until: number, work: () => Promise<T>): Promise<T> {
  return deadlines.run(until, work)
}

/** The deadline of the current request's Service Manager calls, if it has one. */
export function currentDeadline(): number | undefined {
  return deadlines.getStore()
}
