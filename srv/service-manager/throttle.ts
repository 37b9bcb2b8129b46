/**
 * Client-side rate limiting of Service Manager calls, so that we stay under SM's limits instead of
 * running into 429s (reference 10.4). SM counts per caller (one OAuth client per subaccount here), so
 * there is one Throttle per subaccount, shared by every client of that subaccount in the process.
 *
 * Levels (all apply together; each may have a per-minute and a per-hour limit):
 *   all              every SM API call                        1000/min, 10000/h
 *   bindings         /v1/service_bindings...                   600/min,  6000/h
 *   offerings        /v1/service_offerings...                  100/min,  1000/h
 *   plans            /v1/service_plans...                      100/min,  1000/h
 *   instanceCreates  POST /v1/service_instances                 50/min
 *   instanceUpdates  PATCH, DELETE /v1/service_instances/{id}  600/min,  6000/h
 *
 * Each limit is a sliding log: a call may start when fewer than `limit` calls were active in the last
 * window. A call counts from the moment it is let through until its answer arrived plus the window, so
 * however the network delays requests, SM never sees more than `limit` of them in any window (fixed or
 * sliding). Callers that find no free slot wait in a queue, first come first served per endpoint class
 * (see `classOf`); nothing is ever rejected. Waiting uses one unref'd timer per throttle, set to the moment
 * the first waiter can go, so no busy loop and nothing that keeps the process alive.
 *
 * Callers that would rather come back later than wait (queued steps) book their expected turn instead
 * (`book`), and make their call when it has come.
 *
 * A 429 from SM pauses the endpoint class of the call that got it until its Retry-After has passed (all
 * three formats are parsed by the client), so that other steps do not run into the same wall.
 *
 * Configuration: `cds.requires['service-manager'].limits`, merged over SM_LIMITS per level and window,
 * e.g. `{ "instanceCreates": { "perMinute": 25 }, "bindings": { "perHour": null } }` (null: no limit at
 * that window), or `false` to switch the throttle off. `minuteMs` shortens the minute for tests and
 * benchmarks (an hour is 60 of them).
 */
import cds from '@sap/cds'
import type { ThrottleOutcome, ThrottleRequest } from './types'

export type LevelName = 'all' | 'bindings' | 'offerings' | 'plans' | 'instanceCreates' | 'instanceUpdates'
/** Endpoint classes: who queues behind whom, and what a 429 pauses. */
export type ThrottleClass = Exclude<LevelName, 'all'> | 'other'

export interface LevelLimits {
  perMinute?: number | null
  perHour?: number | null
}

export interface ThrottleLimits extends Partial<Record<LevelName, LevelLimits | null>> {
  /** Length of a "minute" in ms (default 60000); tests and benchmarks shorten time with it. */
  minuteMs?: number
  /** Pause after a 429 without a usable Retry-After (default 1000 ms). */
  defaultRetryAfterMs?: number
  /** Longest pause a single Retry-After may cause (default 10 minutes). */
  maxPauseMs?: number
  /** A call that never reports its end counts as ended this long after it started (default 120 s). */
  inFlightCapMs?: number
}

/** SM's documented limits per caller (reference 10.4). */
export const SM_LIMITS: Readonly<Record<LevelName, Readonly<LevelLimits>>> = Object.freeze({
  all: { perMinute: 1000, perHour: 10000 },
  bindings: { perMinute: 600, perHour: 6000 },
  offerings: { perMinute: 100, perHour: 1000 },
  plans: { perMinute: 100, perHour: 1000 },
  instanceCreates: { perMinute: 50 },
  instanceUpdates: { perMinute: 600, perHour: 6000 }
})

const LEVELS = Object.keys(SM_LIMITS) as LevelName[]
/** How long after its time a booking nobody came back for still counts (see Throttle.book). */
const BOOKING_GRACE_MS = 30_000
const CLASSES: ThrottleClass[] = ['bindings', 'offerings', 'plans', 'instanceCreates', 'instanceUpdates', 'other']

/** The endpoint class of a call (its most specific level; `other` for calls only `all` counts). */
export function classOf(method: string, path: string): ThrottleClass {
  const p = path.split('?')[0].replace(/\/+$/, '')
  const m = method.toUpperCase()
  if (p === '/v1/service_bindings' || p.startsWith('/v1/service_bindings/')) return 'bindings'
  if (p === '/v1/service_offerings' || p.startsWith('/v1/service_offerings/')) return 'offerings'
  if (p === '/v1/service_plans' || p.startsWith('/v1/service_plans/')) return 'plans'
  if (m === 'POST' && p === '/v1/service_instances') return 'instanceCreates'
  if ((m === 'PATCH' || m === 'DELETE') && /^\/v1\/service_instances\/[^/]+$/.test(p)) return 'instanceUpdates'
  return 'other'
}

/** The levels that count a call of a class. */
const levelsOf = (cls: ThrottleClass): LevelName[] => (cls === 'other' ? ['all'] : ['all', cls])

// ------------------------------------------------------------------------------------------ config

interface WindowSpec {
  limit: number
  ms: number
}

export interface ResolvedLimits {
  windows: Record<LevelName, WindowSpec[]>
  defaultRetryAfterMs: number
  maxPauseMs: number
  inFlightCapMs: number
}

function count(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === false) return undefined
  const n = typeof v === 'string' && v.trim() ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 1) throw new Error(`Invalid Service Manager limit ${what}: ${String(v)}`)
  return Math.floor(n)
}

function duration(v: unknown, fallback: number, what: string): number {
  if (v === undefined || v === null) return fallback
  const n = typeof v === 'string' && v.trim() ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`Invalid Service Manager limits.${what}: ${String(v)}`)
  return n
}

/** Merges a `limits` configuration over SM_LIMITS. */
export function resolveLimits(cfg: ThrottleLimits = {}): ResolvedLimits {
  const minute = duration(cfg.minuteMs, 60_000, 'minuteMs')
  if (minute <= 0) throw new Error('Invalid Service Manager limits.minuteMs: must be > 0')
  const windows = {} as Record<LevelName, WindowSpec[]>
  for (const level of LEVELS) {
    const given = cfg[level]
    const merged: LevelLimits = given === null ? {} : { ...SM_LIMITS[level], ...(given ?? {}) }
    const specs: WindowSpec[] = []
    const perMinute = count(merged.perMinute, `${level}.perMinute`)
    const perHour = count(merged.perHour, `${level}.perHour`)
    if (perMinute) specs.push({ limit: perMinute, ms: minute })
    if (perHour) specs.push({ limit: perHour, ms: minute * 60 })
    windows[level] = specs
  }
  return {
    windows,
    defaultRetryAfterMs: duration(cfg.defaultRetryAfterMs, 1000, 'defaultRetryAfterMs'),
    maxPauseMs: duration(cfg.maxPauseMs, 10 * 60_000, 'maxPauseMs'),
    inFlightCapMs: duration(cfg.inFlightCapMs, 120_000, 'inFlightCapMs')
  }
}

// ------------------------------------------------------------------------------------------ limiter

/**
 * Sliding log of the last `limit` calls of one level and window, as a ring in grant order. Each entry is
 * the time from which its call no longer counts, minus the window: its end (or, while it runs, its start
 * plus the in-flight cap). A new call may take the oldest entry's place once that one has expired. Every
 * entry that was replaced had expired, so at most `limit` calls count at any moment.
 */
class SlidingWindow {
  private ends: number[] = []
  private gens: number[] = []
  /** start of each entry's call, and whether it still runs (for estimates: its end is not known yet) */
  private starts: number[] = []
  private running: boolean[] = []
  private next = 0

  constructor(
    readonly limit: number,
    readonly ms: number
  ) {}

  /** Earliest time at which a new call may start. */
  freeAt(now: number): number {
    if (this.ends.length < this.limit) return now
    return this.ends[this.next] + this.ms
  }

  take(start: number, provisionalEnd: number): { i: number; gen: number } {
    const i = this.next
    if (this.ends.length < this.limit) {
      this.ends.push(provisionalEnd)
      this.gens.push(0)
    } else {
      this.ends[i] = provisionalEnd
      this.gens[i]++
    }
    this.starts[i] = start
    this.running[i] = true
    this.next = (i + 1) % this.limit
    return { i, gen: this.gens[i] }
  }

  /** The call behind a slot ended at `end` (ignored when the slot was reused after the in-flight cap). */
  settle(slot: { i: number; gen: number }, end: number): void {
    if (this.gens[slot.i] !== slot.gen) return
    this.ends[slot.i] = end
    this.running[slot.i] = false
  }

  /**
   * Earliest start of the n-th (0-based) of the next calls if each went as soon as the window lets it:
   * the first free places go now, the others when the call they replace leaves the window. Calls still
   * running count from their start (their end is not known yet), so this is an estimate.
   */
  nthFree(now: number, n: number): number {
    const free = this.limit - this.ends.length
    const rounds = Math.floor(n / this.limit)
    const j = n % this.limit
    // oldest first: the free places, then the entries from the oldest one on
    let base = now - this.ms
    if (j >= free) {
      const i = this.ends.length < this.limit ? j - free : (this.next + j - free) % this.limit
      base = this.running[i] ? this.starts[i] : this.ends[i]
    }
    return Math.max(now, base + this.ms * (1 + rounds))
  }

  /** Calls counted at `now` (for stats and tests). */
  active(now: number): number {
    return this.ends.filter(e => e + this.ms > now).length
  }
}

interface Waiter {
  seq: number
  cls: ThrottleClass
  since: number
  resolve: (settle: (outcome: ThrottleOutcome) => void) => void
}

/** Timer functions (default: the global ones; a timer is unref'd when it can be). */
export interface ThrottleTimers {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

const GLOBAL_TIMERS: ThrottleTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  }
}

export interface ThrottleOptions {
  /** Clock (default Date.now) and timers, for tests with a fake clock. */
  now?: () => number
  timers?: ThrottleTimers
  /** For log lines, e.g. the subaccount. */
  name?: string
}

export interface ThrottleStats {
  /** calls let through */
  granted: number
  /** of them, calls that had to wait */
  delayed: number
  /** callers waiting right now */
  waiting: number
  /** 429 answers seen */
  rateLimited: number
  /** longest wait of a caller, ms */
  maxWaitMs: number
}

const LOG = cds.log('service-manager')

/** The limiter of one SM caller. */
export class Throttle {
  private readonly windows: Record<LevelName, SlidingWindow[]>
  private readonly queues = new Map<ThrottleClass, Waiter[]>(CLASSES.map(c => [c, []]))
  private readonly pausedUntil = new Map<ThrottleClass, number>()
  /** start times promised by book(), per class and caller */
  private readonly bookings = new Map<ThrottleClass, Map<string, number>>(CLASSES.map(c => [c, new Map()]))
  private readonly now: () => number
  private readonly timers: ThrottleTimers
  private seq = 0
  private timer: unknown
  private timerAt = Infinity
  private readonly counters = { granted: 0, delayed: 0, rateLimited: 0, maxWaitMs: 0 }

  constructor(
    readonly limits: ResolvedLimits,
    private readonly opts: ThrottleOptions = {}
  ) {
    this.now = opts.now ?? Date.now
    this.timers = opts.timers ?? GLOBAL_TIMERS
    this.windows = {} as Record<LevelName, SlidingWindow[]>
    for (const level of LEVELS) this.windows[level] = limits.windows[level].map(w => new SlidingWindow(w.limit, w.ms))
  }

  /**
   * Waits for a slot for the call and takes it. Resolves with the function to call once with the call's
   * outcome (status and Retry-After, or {} when no answer came).
   */
  acquire(req: ThrottleRequest): Promise<(outcome: ThrottleOutcome) => void> {
    const cls = classOf(req.method, req.path)
    if (req.booking) this.bookings.get(cls)!.delete(req.booking)
    const queue = this.queues.get(cls)!
    const now = this.now()
    // fast path: nobody waits and a slot is free now (otherwise the queue keeps the order)
    if (!this.hasWaiters() && this.readyAt(cls, now) <= now) return Promise.resolve(this.grant(cls, now, now))
    return new Promise(resolve => {
      queue.push({ seq: this.seq++, cls, since: now, resolve })
      this.pump()
    })
  }

  /**
   * For callers that would rather come back later than wait here (a queued step holding a worker): how
   * long until a call of this kind can be expected to go, counting the callers waiting now and the places
   * booked before. The place is booked for `id` until the call that names it (ThrottleRequest.booking)
   * comes, so that the next caller is told a later time and deferred callers come back spread over the
   * windows instead of all at once. When `id` asks again, it keeps its place in the line and is told the
   * time left until the limits are expected to let it go (0: call now). A booking is an estimate, not a
   * slot: the call itself still goes through acquire(), which alone guarantees the limits. Bookings nobody
   * used are forgotten a while after their time.
   */
  book(req: ThrottleRequest, id: string): number {
    const cls = classOf(req.method, req.path)
    const now = this.now()
    const booked = this.bookings.get(cls)!
    for (const [other, at] of booked) if (at < now - BOOKING_GRACE_MS) booked.delete(other)
    // in front: the callers waiting now and the places booked before this one
    const mine = booked.get(id)
    let ahead = this.queues.get(cls)!.length
    if (mine === undefined) ahead += booked.size
    else for (const at of booked.values()) if (at < mine) ahead++
    let at = Math.max(now, mine ?? 0, this.pausedUntil.get(cls) ?? 0)
    for (const level of levelsOf(cls)) for (const w of this.windows[level]) at = Math.max(at, w.nthFree(now, ahead))
    booked.set(id, at)
    return at - now
  }

  /** The hook for ClientOptions.throttle. */
  get hook(): (req: ThrottleRequest) => Promise<(outcome: ThrottleOutcome) => void> {
    return req => this.acquire(req)
  }

  /** No calls of this class start before `until` (epoch ms). */
  pause(cls: ThrottleClass, until: number): void {
    if (until > (this.pausedUntil.get(cls) ?? 0)) this.pausedUntil.set(cls, until)
    this.pump()
  }

  /** Until when calls of a class are paused after a 429 (0 when not paused). */
  pausedUntilOf(cls: ThrottleClass): number {
    const t = this.pausedUntil.get(cls) ?? 0
    return t > this.now() ? t : 0
  }

  get stats(): ThrottleStats {
    let waiting = 0
    for (const q of this.queues.values()) waiting += q.length
    return { ...this.counters, waiting }
  }

  /** Calls a level counts right now, per window (tests, diagnostics). */
  active(level: LevelName): number[] {
    const now = this.now()
    return this.windows[level].map(w => w.active(now))
  }

  // ---------------------------------------------------------------------------------------- internals

  /** Earliest time a call of `cls` may start, given pauses and every window of its levels. */
  private readyAt(cls: ThrottleClass, now: number): number {
    let t = Math.max(now, this.pausedUntil.get(cls) ?? 0)
    for (const level of levelsOf(cls)) for (const w of this.windows[level]) t = Math.max(t, w.freeAt(now))
    return t
  }

  private grant(cls: ThrottleClass, now: number, since: number): (outcome: ThrottleOutcome) => void {
    const provisional = now + this.limits.inFlightCapMs
    const taken: Array<[SlidingWindow, { i: number; gen: number }]> = []
    for (const level of levelsOf(cls)) for (const w of this.windows[level]) taken.push([w, w.take(now, provisional)])
    this.counters.granted++
    const waited = now - since
    if (waited > 0) {
      this.counters.delayed++
      if (waited > this.counters.maxWaitMs) this.counters.maxWaitMs = waited
    }
    let settled = false
    return (outcome: ThrottleOutcome = {}) => {
      if (settled) return
      settled = true
      const end = this.now()
      for (const [w, slot] of taken) w.settle(slot, end)
      if (outcome.status === 429) this.rateLimited(cls, end, outcome.retryAfterMs)
      if (this.hasWaiters()) this.pump()
    }
  }

  private rateLimited(cls: ThrottleClass, now: number, retryAfterMs: number | undefined): void {
    this.counters.rateLimited++
    const wait = Math.min(this.limits.maxPauseMs, Math.max(0, retryAfterMs ?? this.limits.defaultRetryAfterMs))
    LOG.info(`Service Manager rate limit (429) on ${cls}${this.opts.name ? ` of ${this.opts.name}` : ''}: pausing ${wait} ms`)
    this.pause(cls, now + wait)
  }

  private hasWaiters(): boolean {
    for (const q of this.queues.values()) if (q.length) return true
    return false
  }

  /** Lets through every waiter that may go now (oldest first), then sleeps until the next one may. */
  private pump(): void {
    const now = this.now()
    let wakeAt = Infinity
    for (;;) {
      // the oldest waiting head that may go now; heads that may not go yet set the wake-up time
      let best: Waiter | undefined
      wakeAt = Infinity
      for (const q of this.queues.values()) {
        const head = q[0]
        if (!head) continue
        const at = this.readyAt(head.cls, now)
        if (at <= now) {
          if (!best || head.seq < best.seq) best = head
        } else if (at < wakeAt) wakeAt = at
      }
      if (!best) break
      this.queues.get(best.cls)!.shift()
      best.resolve(this.grant(best.cls, now, best.since))
    }
    this.schedule(wakeAt, now)
  }

  private schedule(at: number, now: number): void {
    if (at === this.timerAt) return
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (at === Infinity) return
    this.timer = this.timers.set(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.pump()
    }, Math.max(1, at - now))
  }
}

// ------------------------------------------------------------------------------------------ registry

const throttles = new Map<string, Throttle>()

/** `cds.requires['service-manager'].limits`, resolved; undefined when the throttle is switched off. */
export function configuredLimits(): ResolvedLimits | undefined {
  const sm = (cds.env.requires as unknown as Record<string, { limits?: ThrottleLimits | false } | undefined>)['service-manager']
  const cfg = sm?.limits
  if (cfg === false) return undefined
  return resolveLimits(cfg ?? {})
}

/**
 * The throttle of one SM caller (a subaccount), created with the configured limits on first use and
 * shared by every client of that caller in the process. Undefined when `limits` is false.
 */
export function throttleFor(caller: string): Throttle | undefined {
  let t = throttles.get(caller)
  if (!t) {
    const limits = configuredLimits()
    if (!limits) return undefined
    t = new Throttle(limits, { name: caller })
    throttles.set(caller, t)
  }
  return t
}

/** Forget all throttles (tests; a changed configuration). */
export function resetThrottles(): void {
  throttles.clear()
}
