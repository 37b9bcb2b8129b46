/** Sliding one-minute window rate limits per tenant and category (the window can be shortened for tests). */

const WINDOW_MS = 60_000

export interface LimitCheck {
  category: string
  limit: number
}

export class RateLimiter {
  private hits = new Map<string, number[]>()

  constructor(private readonly windowMs: number = WINDOW_MS) {}

  /**
   * Count a request against all given categories. Returns undefined when allowed (and records it),
   * or the number of seconds until a slot frees up when any limit is exceeded (nothing recorded).
   */
  hit(tenant: string, checks: LimitCheck[], now: number): number | undefined {
    let retryAfterMs = 0
    const lists: number[][] = []
    for (const { category, limit } of checks) {
      const key = `${tenant}\u0000${category}`
      const list = (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs)
      this.hits.set(key, list)
      lists.push(list)
      if (list.length >= limit) {
        const oldestRelevant = limit > 0 ? list[list.length - limit] : now
        retryAfterMs = Math.max(retryAfterMs, oldestRelevant + this.windowMs - now)
      }
    }
    if (retryAfterMs > 0) return Math.max(1, Math.ceil(retryAfterMs / 1000))
    for (const list of lists) list.push(now)
    return undefined
  }

  clear(): void {
    this.hits.clear()
  }
}
