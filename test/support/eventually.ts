export interface EventuallyOptions<T> {
  /** what is awaited, for the failure message */
  what?: string
  /** the value is good enough (default: truthy) */
  until?: (value: T) => boolean
  /** how the last value reads in the failure message (default: JSON) */
  show?: (value: T) => string
  timeout?: number
  interval?: number
}

/**
 * Calls `probe` until its value satisfies `until` (default: truthy) and answers that value. A probe that throws
 * counts as not yet (an `expect` inside a probe is retried). After `timeout` ms it fails with the last value
 * or error seen.
 */
export async function eventually<T>(probe: () => T | Promise<T>, options: EventuallyOptions<T> = {}): Promise<T> {
  const { what = 'condition', until = (v: T) => Boolean(v), show = (v: T) => JSON.stringify(v), timeout = 20_000, interval = 100 } = options
  const end = Date.now() + timeout
  let last: string
  for (;;) {
    try {
      const value = await probe()
      if (until(value)) return value
      last = show(value)
    } catch (e) {
      last = `error ${e instanceof Error ? e.message : String(e)}`
    }
    if (Date.now() >= end) throw new Error(`Timed out after ${timeout} ms waiting for ${what}; last seen: ${last}`)
    await new Promise(r => setTimeout(r, interval))
  }
}

/** Lets `ms` pass, for a test that shows that something does not happen meanwhile (never to wait for something). */
export const quietFor = (ms: number) => new Promise<void>(r => setTimeout(r, ms))
