/**
 * The time the scan, rotation and reconciler's schedule go by: the wall clock, moved by an offset that tests
 * set in-process (advance/reset), so that days pass without waiting and without fake timers (which would
 * freeze the HTTP servers and the queue). The offset lives on the global object: every copy of this
 * module shares it.
 */
const SLOT = Symbol.for('service-key-manager.clock.offset')
const holder = globalThis as unknown as Record<symbol, number | undefined>

/** Milliseconds since the epoch, as the app sees it. */
export function now(): number {
  return Date.now() + (holder[SLOT] ?? 0)
}

export function nowDate(): Date {
  return new Date(now())
}

export function nowIso(): string {
  return new Date(now()).toISOString()
}

/** Moves the app's time forward (or back, with a negative value). */
export function advance(ms: number): void {
  if (!Number.isFinite(ms)) throw new Error('clock.advance: a finite number of milliseconds is needed')
  holder[SLOT] = (holder[SLOT] ?? 0) + ms
}

/** Back to the wall clock. What was scheduled by the moved time (the reconciler's retries) comes that much later. */
export function reset(): void {
  holder[SLOT] = 0
}

/** How far the app's time is ahead of the wall clock. */
export function offset(): number {
  return holder[SLOT] ?? 0
}
