/**
 * The Service Manager rate budget: one per subaccount, kept in the app's database (db/rate-budget.cds), so
 * that every app instance on that database draws on the same limits (throttle.ts lists them).
 *
 * Each limit (a level and window length, e.g. all calls per minute) is a sliding log of the last `capacity`
 * calls, kept as a ring in the order they were let through. A call counts from the moment it is let through
 * until its answer arrived plus the window; a new call may take the oldest entry's place only once that
 * call has left the window. Every entry that was replaced had left, so however the network delays
 * requests, SM never sees more than `capacity` of them in any window (fixed or sliding, by arrival): a call
 * that arrives at SM at time t was let through before t and answered after t, so it counts at t. A call
 * whose answer never comes (its process died) counts until the in-flight cap has passed.
 *
 * Taking a place is one short transaction that locks the rows of the windows concerned (`SELECT ... FOR
 * UPDATE`, always in the same order, the level `all` first), reads the oldest entries and the class's
 * 429 pause, and writes the new entries: two app instances never hand out the same place. The budget runs
 * on a connection pool of its own, so its transactions never wait for the app's (SQLite's single
 * connection may be held by the very request that calls SM); an in-memory SQLite database is one process
 * only, and its budget lives in an in-memory database of its own.
 *
 * In a process, callers that find no free place wait in a queue per endpoint class, first come first
 * served; nothing is ever rejected. The queue looks again when the oldest entry leaves its window, when a
 * call of this process ends, or, while the call it waits for still runs (maybe in another process), every
 * `pollMs`. Waiting uses one unref'd timer per budget: no busy loop, nothing that keeps the process alive.
 *
 * Callers that would rather come back later than wait (reconciler steps) book their expected turn instead
 * (`book`): the booking is a row, so every instance counts it when it tells the next caller its turn, and
 * the call that names the booking uses it up.
 *
 * A 429 from SM pauses the endpoint class of the call that got it, for every instance, until its
 * Retry-After has passed (errors.ts reads the header; `defaultRetryAfterMs` without one).
 */
import path from 'node:path'
import cds from '@sap/cds'
import {
  CLASSES,
  classOf,
  configuredLimits,
  levelsOf,
  type LevelName,
  type ResolvedLimits,
  type ThrottleClass
} from './throttle'
import { pauseAfter429 } from '../lib/retry'
import { ServiceManagerError } from './errors'
import type { ThrottleOutcome, ThrottleRequest } from './types'
import { onShutdown } from '../lib/app-events'
import { requiresEntry } from '../lib/config'

const LOG = cds.log('service-manager')
/** How long after its time a booking nobody came back for still counts. */
const BOOKING_GRACE_MS = 30_000
/** Most waiters of one class let through in one transaction. */
const MAX_BATCH = 100

// ------------------------------------------------------------------------------------------ store

/** A limit of one subaccount: a row of RateWindows. */
export interface BudgetWindow {
  ID: string
  scope: LevelName
  span: number
  capacity: number
}

/** The ring entry a granted call holds, to report its end. */
interface Held {
  window: string
  slot: number
  turn: number
}

/** Places for the first callers of a batch; when one may not go yet, when to look again. */
interface TakeResult {
  granted: Held[][]
  retryAt?: number
  running?: boolean
}

interface WindowRow {
  ID: string
  capacity: number
  filled: number
  head: number
  span: number
}

interface CallRow {
  began: number
  ended: number
  running: boolean
  turn: number
}

type Row = Record<string, unknown>
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true'

/**
 * The budget's tables, on a database service of its own (see budgetDatabase). Every access is a root
 * transaction of its own (`db.tx(fn)`), never part of the caller's: a request's transaction would hold the
 * budget's connection until the request ends.
 */
export class BudgetStore {
  private readonly known = new Set<string>()
  private readonly entities: Record<'RateWindows' | 'RateCalls' | 'RatePauses' | 'RateBookings', cds.entity>

  constructor(private readonly db: cds.DatabaseService) {
    const ns = db.model.entities('btp.provisioning')
    const { RateWindows, RateCalls, RatePauses, RateBookings } = ns
    if (!RateWindows || !RateCalls || !RatePauses || !RateBookings) throw new Error('The rate budget entities (db/rate-budget.cds) are not in the model')
    this.entities = { RateWindows, RateCalls, RatePauses, RateBookings }
  }

  /** Creates the window rows on first use (another process may create them at the same time). */
  private async ensure(subaccount: string, windows: BudgetWindow[]): Promise<void> {
    const { RateWindows } = this.entities
    for (const w of windows) {
      if (this.known.has(w.ID)) continue
      const exists = () => this.db.tx(tx => tx.run(SELECT.one.from(RateWindows).columns('ID').where({ ID: w.ID })))
      if (!(await exists())) {
        try {
          await this.db.tx(tx => tx.run(INSERT.into(RateWindows).entries({ ID: w.ID, subaccount, scope: w.scope, span: w.span, capacity: w.capacity, filled: 0, head: 0 })))
        } catch (e) {
          // lost the race to another process: fine, as long as the row is there now
          if (!(await exists())) throw e
        }
      }
      this.known.add(w.ID)
    }
  }

  /** Locks the window rows, `all` first (their IDs sort so); the lock is what makes a take atomic. */
  private async lock(tx: cds.Transaction, windows: BudgetWindow[]): Promise<WindowRow[]> {
    if (!windows.length) return []
    const ids = windows.map(w => w.ID)
    const rows = (await tx.run(SELECT.from(this.entities.RateWindows).where({ ID: { in: ids } }).orderBy('ID').forUpdate())) as Row[]
    return rows.map(r => ({ ID: String(r.ID), capacity: num(r.capacity), filled: num(r.filled), head: num(r.head), span: num(r.span) }))
  }

  private async entry(tx: cds.Transaction, window: string, slot: number): Promise<CallRow | undefined> {
    const r = (await tx.run(SELECT.one.from(this.entities.RateCalls).where({ window_ID: window, slot }))) as Row | undefined
    return r ? { began: num(r.began), ended: num(r.ended), running: bool(r.running), turn: num(r.turn) } : undefined
  }

  private async pausedUntil(tx: cds.Transaction, subaccount: string, cls: ThrottleClass): Promise<number> {
    const r = (await tx.run(SELECT.one.from(this.entities.RatePauses).columns('resumeAt').where({ subaccount, endpoint: cls }))) as Row | undefined
    return r ? num(r.resumeAt) : 0
  }

  /**
   * Takes a place in every window for each of `wanted` callers, in order, as long as the windows let them
   * go; for the first one that may not go yet, tells when to look again: the time the oldest entry leaves
   * its window or the pause ends, and whether that entry's call still runs (its end not known yet). One
   * transaction for the whole batch.
   */
  async take(
    subaccount: string,
    cls: ThrottleClass,
    windows: BudgetWindow[],
    now: number,
    inFlightCapMs: number,
    wanted: Array<string | undefined>
  ): Promise<TakeResult> {
    await this.ensure(subaccount, windows)
    const { RateWindows, RateCalls, RateBookings } = this.entities
    return this.db.tx(async tx => {
      const rows = await this.lock(tx, windows)
      const paused = await this.pausedUntil(tx, subaccount, cls)
      if (paused > now) return { granted: [], retryAt: paused, running: false }
      const rings = []
      for (const w of rows) rings.push(await this.ring(tx, w, wanted.length))
      const granted: Held[][] = []
      const written: Row[] = []
      const provisional = now + inFlightCapMs
      let blocked: { retryAt: number; running: boolean } | undefined
      for (let i = 0; i < wanted.length && !blocked; i++) {
        // the oldest entry of every full window must have left it
        for (const r of rings) {
          if (r.filled < r.w.capacity) continue
          const e = r.entries.get(r.head)
          if (!e) throw new Error(`Rate budget window ${r.w.ID} lacks entry ${r.head}`)
          const free = e.ended + r.w.span
          if (free > now && free > (blocked?.retryAt ?? 0)) blocked = { retryAt: free, running: e.running }
        }
        if (blocked) break
        const held: Held[] = []
        for (const r of rings) {
          const slot = r.filled < r.w.capacity ? r.filled : r.head
          const turn = (r.entries.get(slot)?.turn ?? -1) + 1
          const entry = { began: now, ended: provisional, running: true, turn }
          r.entries.set(slot, entry)
          written.push({ window_ID: r.w.ID, slot, ...entry })
          if (r.filled < r.w.capacity) r.filled++
          r.head = (slot + 1) % r.w.capacity
          held.push({ window: r.w.ID, slot, turn })
        }
        granted.push(held)
      }
      if (written.length) await tx.run(UPSERT.into(RateCalls).entries(written))
      for (const r of rings) if (r.filled !== r.w.filled || r.head !== r.w.head) await tx.run(UPDATE(RateWindows, r.w.ID).with({ filled: r.filled, head: r.head }))
      const used = wanted.slice(0, granted.length).filter((b): b is string => !!b)
      if (used.length) await tx.run(DELETE.from(RateBookings).where({ subaccount, endpoint: cls, booking: { in: used } }))
      return { granted, ...blocked }
    })
  }

  /** A window's ring as far as `count` takes may reach: the entries they would reuse, oldest first. */
  private async ring(tx: cds.Transaction, w: WindowRow, count: number) {
    const entries = new Map<number, CallRow>()
    const reused = Math.min(w.capacity, Math.max(0, count - (w.capacity - w.filled)))
    if (reused > 0) {
      const slots = Array.from({ length: reused }, (_, i) => (w.filled < w.capacity ? i : (w.head + i) % w.capacity))
      const found = (await tx.run(SELECT.from(this.entities.RateCalls).where({ window_ID: w.ID, slot: { in: slots } }))) as Row[]
      for (const r of found) entries.set(num(r.slot), { began: num(r.began), ended: num(r.ended), running: bool(r.running), turn: num(r.turn) })
    }
    return { w, entries, filled: w.filled, head: w.head }
  }

  /**
   * Calls ended (entries reused since are left alone); a 429 pauses its class. One transaction for all,
   * holding the windows' locks so that no take reuses an entry between reading and writing it.
   */
  async settle(ends: Array<{ subaccount: string; cls: ThrottleClass; held: Held[]; end: number; pauseUntil?: number }>): Promise<void> {
    const { RateCalls, RateWindows } = this.entities
    const byWindow = new Map<string, Map<number, { turn: number; end: number }>>()
    for (const { held, end } of ends)
      for (const h of held) {
        const slots = byWindow.get(h.window) ?? new Map<number, { turn: number; end: number }>()
        slots.set(h.slot, { turn: h.turn, end })
        byWindow.set(h.window, slots)
      }
    await this.db.tx(async tx => {
      const ids = [...byWindow.keys()].sort()
      if (ids.length) await tx.run(SELECT.from(RateWindows).columns('ID').where({ ID: { in: ids } }).orderBy('ID').forUpdate())
      const written: Row[] = []
      for (const id of ids) {
        const slots = byWindow.get(id)!
        const rows = (await tx.run(SELECT.from(RateCalls).where({ window_ID: id, slot: { in: [...slots.keys()] } }))) as Row[]
        for (const r of rows) {
          const ended = slots.get(num(r.slot))
          if (ended && num(r.turn) === ended.turn) written.push({ window_ID: id, slot: num(r.slot), began: num(r.began), ended: ended.end, running: false, turn: ended.turn })
        }
      }
      if (written.length) await tx.run(UPSERT.into(RateCalls).entries(written))
      for (const { subaccount, cls, pauseUntil } of ends) if (pauseUntil !== undefined) await this.extendPause(tx, subaccount, cls, pauseUntil)
    })
  }

  private async extendPause(tx: cds.Transaction, subaccount: string, cls: ThrottleClass, until: number): Promise<void> {
    const { RatePauses } = this.entities
    const changed: unknown = await tx.run(UPDATE(RatePauses).set({ resumeAt: until }).where({ subaccount, endpoint: cls, resumeAt: { '<': until } }))
    if (num(changed) > 0) return
    const existing: unknown = await tx.run(SELECT.one.from(RatePauses).columns('resumeAt').where({ subaccount, endpoint: cls }))
    if (!existing) await tx.run(UPSERT.into(RatePauses).entries({ subaccount, endpoint: cls, resumeAt: until }))
  }

  /** No call of the class starts before `until`, in any app instance. */
  async pause(subaccount: string, cls: ThrottleClass, until: number): Promise<void> {
    await this.db.tx(tx => this.extendPause(tx, subaccount, cls, until))
  }

  async pausedUntilOf(subaccount: string, cls: ThrottleClass): Promise<number> {
    return this.db.tx(tx => this.pausedUntil(tx, subaccount, cls))
  }

  /**
   * Books (or keeps) the place of `booking` and tells when its call can be expected to go: after the
   * callers `waiting` in this process and the bookings made before, each going as soon as the windows let
   * it (calls still running count from their start: an estimate; the call itself still takes its place).
   */
  async book(subaccount: string, cls: ThrottleClass, windows: BudgetWindow[], booking: string, now: number, waiting: number): Promise<number> {
    await this.ensure(subaccount, windows)
    const { RateBookings } = this.entities
    return this.db.tx(async tx => {
      const rows = await this.lock(tx, windows)
      await tx.run(DELETE.from(RateBookings).where({ subaccount, endpoint: cls, turnAt: { '<': now - BOOKING_GRACE_MS } }))
      const booked = ((await tx.run(SELECT.from(RateBookings).columns('booking', 'turnAt').where({ subaccount, endpoint: cls }))) as Row[]).map(r => ({
        booking: String(r.booking),
        at: num(r.turnAt)
      }))
      const mine = booked.find(b => b.booking === booking)
      const ahead = waiting + (mine ? booked.filter(b => b.at < mine.at).length : booked.length)
      let at = Math.max(now, mine?.at ?? 0, await this.pausedUntil(tx, subaccount, cls))
      for (const w of rows) at = Math.max(at, await this.nthFree(tx, w, now, ahead))
      if (mine) await tx.run(UPDATE(RateBookings).set({ turnAt: at }).where({ subaccount, endpoint: cls, booking }))
      else await tx.run(INSERT.into(RateBookings).entries({ subaccount, endpoint: cls, booking, turnAt: at }))
      return at - now
    })
  }

  /**
   * Earliest start of the n-th (0-based) of the next calls if each went as soon as the window lets it: the
   * free places go now, the others when the call they replace leaves the window, round after round.
   */
  private async nthFree(tx: cds.Transaction, w: WindowRow, now: number, n: number): Promise<number> {
    const free = w.capacity - w.filled
    const rounds = Math.floor(n / w.capacity)
    const j = n % w.capacity
    let base = now - w.span
    if (j >= free) {
      const i = w.filled < w.capacity ? j - free : (w.head + j - free) % w.capacity
      const e = await this.entry(tx, w.ID, i)
      if (e) base = e.running ? e.began : e.ended
    }
    return Math.max(now, base + w.span * (1 + rounds))
  }

  /** Calls a window counts at `now` (tests, diagnostics). */
  async active(windowId: string, span: number, now: number): Promise<number> {
    const rows = (await this.db.tx(tx => tx.run(SELECT.from(this.entities.RateCalls).columns('ended').where({ window_ID: windowId })))) as Row[]
    return rows.filter(r => num(r.ended) + span > now).length
  }
}

let database: Promise<cds.DatabaseService> | undefined

/** db/rate-budget.cds, parsed (the tables of the budget alone). */
export async function budgetModel(): Promise<cds.csn.CSN> {
  return cds.load(path.join(__dirname, '..', '..', 'db', 'rate-budget.cds'))
}

/** cds.deploy, which @cap-js/cds-types does not declare */
interface Deployer {
  deploy(model: unknown, options?: { silent?: boolean }): { to(db: cds.DatabaseService): Promise<unknown> }
}

/**
 * The database service of the budget: the app's database (`cds.requires.db`) with a connection pool of its
 * own. An in-memory SQLite database cannot be shared by two connections: the budget then gets an in-memory
 * database of its own (one process only, so nothing is lost).
 */
export function budgetDatabase(): Promise<cds.DatabaseService> {
  database ??= (async () => {
    const main = { ...requiresEntry<Record<string, unknown>>('db') }
    const credentials = (main.credentials ?? {}) as Record<string, unknown>
    const inMemory = main.kind === 'sqlite' && (!credentials.url || credentials.url === ':memory:') && !credentials.database
    // the budget's own model: for a database of its own, and where the app's model lacks it (a script)
    const csn = !inMemory && cds.model?.definitions['btp.provisioning.RateWindows'] ? undefined : await budgetModel()
    const model = csn ? cds.linked(cds.compile.for.nodejs(csn) as unknown as cds.csn.CSN) : cds.model
    const db = (await cds.connect.to('rate-budget', { ...main, model, silent: true } as object)) as cds.DatabaseService
    // in a root transaction of its own: deploy's db.run() would otherwise join the request that got here first
    if (inMemory) await db.tx(tx => (cds as unknown as Deployer).deploy(csn, { silent: true }).to(tx as unknown as cds.DatabaseService))
    onShutdown(() => forgetDatabase(db))
    return db
  })()
  return database
}

async function forgetDatabase(db: cds.DatabaseService) {
  if (database && (await database.catch(() => undefined)) === db) database = undefined
  const open = [...budgets.values()]
  budgets.clear()
  for (const b of await Promise.allSettled(open)) if (b.status === 'fulfilled') b.value?.close()
  await (db as unknown as { disconnect?: () => Promise<void> }).disconnect?.()
}

// ------------------------------------------------------------------------------------------ budget

interface Waiter {
  seq: number
  cls: ThrottleClass
  since: number
  booking?: string
  resolve: (settle: (outcome: ThrottleOutcome) => void) => void
  reject: (e: unknown) => void
}

/** Timer functions (default: the global ones; a timer is unref'd when it can be). */
export interface BudgetTimers {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

const GLOBAL_TIMERS: BudgetTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return t
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  }
}

export interface BudgetOptions {
  /** Clock (default Date.now) and timers, for tests with a fake clock. */
  now?: () => number
  timers?: BudgetTimers
}

export interface BudgetStats {
  /** calls let through by this process */
  granted: number
  /** of them, calls that had to wait */
  delayed: number
  /** callers waiting in this process right now */
  waiting: number
  /** 429 answers seen by this process */
  rateLimited: number
  /** longest wait of a caller, ms */
  maxWaitMs: number
}

/** The rate budget of one SM caller (a subaccount), as seen from this process. */
export class RateBudget {
  private readonly queues = new Map<ThrottleClass, Waiter[]>(CLASSES.map(c => [c, []]))
  private readonly now: () => number
  private readonly timers: BudgetTimers
  private seq = 0
  private timer: unknown
  private timerAt = Infinity
  private pumping: Promise<void> | undefined
  /** the waiters whose places the pump is taking */
  private taking: { cls: ThrottleClass; count: number } | undefined
  private again = false
  private closed = false
  /** pauses after a 429 seen by this process (written to the database for the others) */
  private readonly pausedHere = new Map<ThrottleClass, number>()
  /** ends of calls not written yet, and the write under way */
  private readonly ends: Parameters<BudgetStore['settle']>[0] = []
  private settling: Promise<void> | undefined
  private readonly counters = { granted: 0, delayed: 0, rateLimited: 0, maxWaitMs: 0 }

  constructor(
    readonly subaccount: string,
    readonly limits: ResolvedLimits,
    private readonly store: BudgetStore,
    opts: BudgetOptions = {}
  ) {
    this.now = opts.now ?? Date.now
    this.timers = opts.timers ?? GLOBAL_TIMERS
  }

  /** The windows that count a call of `cls`, `all` first. */
  windowsOf(cls: ThrottleClass): BudgetWindow[] {
    return levelsOf(cls).flatMap(scope =>
      this.limits.windows[scope].map(w => ({ ID: `${this.subaccount}|${scope}|${w.ms}|${w.limit}`, scope, span: w.ms, capacity: w.limit }))
    )
  }

  /**
   * Waits for a place for the call and takes it. Resolves with the function to call once with the call's
   * outcome (status and Retry-After, or {} when no answer came).
   */
  acquire(req: ThrottleRequest): Promise<(outcome: ThrottleOutcome) => void> {
    const cls = classOf(req.method, req.path)
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closedError())
      this.queues.get(cls)!.push({ seq: this.seq++, cls, since: this.now(), booking: req.booking, resolve, reject })
      this.kick()
    })
  }

  /** The hook for ClientOptions.throttle. */
  get hook(): (req: ThrottleRequest) => Promise<(outcome: ThrottleOutcome) => void> {
    return req => this.acquire(req)
  }

  /**
   * For callers that would rather come back later than wait here: books a place for `id` (in the
   * database, so every app instance counts it) and tells how many ms until its call can be expected to go
   * (0: now). Asking again keeps the place in the line. The call that names the booking
   * (ThrottleRequest.booking) uses it up; a booking is an estimate, not a place: the call still takes its
   * place through acquire(), which alone guarantees the limits. Bookings nobody used are forgotten a while
   * after their time.
   */
  book(req: ThrottleRequest, id: string): Promise<number> {
    const cls = classOf(req.method, req.path)
    // the waiter whose place is being taken right now is no longer in front (it may be in the ring already)
    const waiting = this.queues.get(cls)!.length - (this.taking?.cls === cls ? this.taking.count : 0)
    return this.store.book(this.subaccount, cls, this.windowsOf(cls), id, this.now(), waiting)
  }

  /** No calls of this class start before `until` (epoch ms), in any app instance. */
  async pause(cls: ThrottleClass, until: number): Promise<void> {
    if (until > (this.pausedHere.get(cls) ?? 0)) this.pausedHere.set(cls, until)
    await this.store.pause(this.subaccount, cls, until)
    this.kick()
  }

  /** Until when calls of a class are paused after a 429 (0 when not paused). */
  async pausedUntilOf(cls: ThrottleClass): Promise<number> {
    // a pause this process saw counts at once (its write to the database may still be on its way)
    const t = Math.max(await this.store.pausedUntilOf(this.subaccount, cls), this.pausedHere.get(cls) ?? 0)
    return t > this.now() ? t : 0
  }

  get stats(): BudgetStats {
    let waiting = 0
    for (const q of this.queues.values()) waiting += q.length
    return { ...this.counters, waiting }
  }

  /** Calls a level counts right now, per window, over all app instances (tests, diagnostics). */
  async active(level: LevelName): Promise<number[]> {
    const now = this.now()
    const windows = this.windowsOf(level === 'all' ? 'other' : level).filter(w => w.scope === level)
    return Promise.all(windows.map(w => this.store.active(w.ID, w.span, now)))
  }

  /** Whether this process is handing out places or writing ends right now. */
  get busy(): boolean {
    return this.pumping !== undefined || this.settling !== undefined
  }

  /** Resolves once this process has nothing to hand out or write right now (tests with a fake clock). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [this.pumping, this.settling].filter((p): p is Promise<void> => p !== undefined)
      if (!busy.length) return
      await Promise.allSettled(busy)
    }
  }

  // ---------------------------------------------------------------------------------------- internals

  /**
   * Stops handing out places (the app shuts down, its database goes): no timer stays armed, and who
   * still waits is refused instead of reaching a database that is gone.
   */
  close(): void {
    this.closed = true
    this.schedule(Infinity)
    const refused = this.closedError()
    for (const q of this.queues.values()) for (const w of q.splice(0)) w.reject(refused)
  }

  /** Retryable: a step refused here comes back later (in this process after a restart, or in another). */
  private closedError(): ServiceManagerError {
    return new ServiceManagerError({ code: 'ShuttingDown', description: `The rate budget of ${this.subaccount} is closed: the app is shutting down`, retryable: true })
  }

  private kick(): void {
    if (this.closed) return
    this.again = true
    if (this.pumping) return
    this.pumping = (async () => {
      while (this.again) {
        this.again = false
        await this.pass()
      }
    })().finally(() => {
      this.pumping = undefined
    })
  }

  /**
   * Lets through every waiter that may go now, oldest first over all classes; a class whose head may not
   * go yet holds up no other class. The waiters of a class that are older than every other class's head go
   * as one batch (one transaction). Then sleeps until the first blocked head may go.
   */
  private async pass(): Promise<void> {
    let wakeAt = Infinity
    const blocked = new Set<ThrottleClass>()
    for (;;) {
      let head: Waiter | undefined
      let next = Infinity
      for (const [cls, q] of this.queues) {
        if (!q.length || blocked.has(cls)) continue
        if (!head || q[0].seq < head.seq) {
          if (head) next = Math.min(next, head.seq)
          head = q[0]
        } else next = Math.min(next, q[0].seq)
      }
      if (!head) break
      const queue = this.queues.get(head.cls)!
      // a 429 this process saw pauses the class at once (the other instances learn it from the database)
      const pausedHere = this.pausedHere.get(head.cls) ?? 0
      if (pausedHere > this.now()) {
        blocked.add(head.cls)
        wakeAt = Math.min(wakeAt, pausedHere)
        continue
      }
      const batch = queue.slice(0, MAX_BATCH).filter((w, i) => i === 0 || w.seq < next)
      const now = this.now()
      let result: TakeResult
      this.taking = { cls: head.cls, count: batch.length }
      try {
        result = await this.store.take(this.subaccount, head.cls, this.windowsOf(head.cls), now, this.limits.inFlightCapMs, batch.map(w => w.booking))
      } catch (e) {
        queue.splice(0, batch.length)
        for (const w of batch) w.reject(e)
        continue
      } finally {
        this.taking = undefined
      }
      queue.splice(0, result.granted.length)
      result.granted.forEach((held, i) => batch[i].resolve(this.granted(batch[i], held, now)))
      if (result.retryAt === undefined) continue
      blocked.add(head.cls)
      wakeAt = Math.min(wakeAt, result.running ? Math.min(result.retryAt, now + this.limits.pollMs) : result.retryAt)
    }
    this.schedule(wakeAt)
  }

  private granted(w: Waiter, held: Held[], now: number): (outcome: ThrottleOutcome) => void {
    this.counters.granted++
    const waited = now - w.since
    if (waited > 0) {
      this.counters.delayed++
      if (waited > this.counters.maxWaitMs) this.counters.maxWaitMs = waited
    }
    let settled = false
    return (outcome: ThrottleOutcome = {}) => {
      if (settled) return
      settled = true
      const end = this.now()
      let pauseUntil: number | undefined
      if (outcome.status === 429) {
        this.counters.rateLimited++
        const wait = pauseAfter429(outcome.retryAfterMs, this.limits)
        LOG.info(`Rate limit (429) on ${w.cls} of ${this.subaccount}: pausing ${wait} ms`)
        pauseUntil = end + wait
        if (pauseUntil > (this.pausedHere.get(w.cls) ?? 0)) this.pausedHere.set(w.cls, pauseUntil)
      }
      this.ends.push({ subaccount: this.subaccount, cls: w.cls, held, end, pauseUntil })
      this.settling ??= new Promise<void>(resolve => setImmediate(resolve)).then(() => this.writeEnds())
    }
  }

  /** Writes the ends of calls reported since the last write, in one transaction. */
  private async writeEnds(): Promise<void> {
    const ends = this.ends.splice(0)
    try {
      await this.store.settle(ends)
    } catch (e) {
      LOG.warn(`Could not record the end of ${ends.length} Service Manager calls of ${this.subaccount}; they count until the in-flight cap`, e)
    } finally {
      this.settling = undefined
      if (this.ends.length) this.settling = this.writeEnds()
      else if (this.hasWaiters()) this.kick()
    }
  }

  private hasWaiters(): boolean {
    for (const q of this.queues.values()) if (q.length) return true
    return false
  }

  private schedule(at: number): void {
    if (at === this.timerAt) return
    if (this.timer !== undefined) this.timers.clear(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (at === Infinity || this.closed) return
    this.timer = this.timers.set(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.kick()
    }, Math.max(1, at - this.now()))
  }
}

// ------------------------------------------------------------------------------------------ registry

const budgets = new Map<string, Promise<RateBudget>>()

/**
 * The rate budget of one SM caller (a subaccount) with the configured limits, shared by every client of
 * that caller in the process (and, through the database, with every other app instance). Undefined when
 * `limits` is false.
 */
export async function budgetFor(subaccount: string): Promise<RateBudget | undefined> {
  return budgetOf(subaccount, configuredLimits())
}

/**
 * The rate budget of a caller named `key` with `limits`, kept like a subaccount's SM budget (per process,
 * and through the database for every app instance); undefined without limits. Other APIs' callers use it
 * under keys of their own, e.g. a subaccount's Cloud Foundry technical user (srv/cloud-foundry/budget.ts).
 */
export async function budgetOf(key: string, limits: ResolvedLimits | undefined): Promise<RateBudget | undefined> {
  if (!limits) return undefined
  let b = budgets.get(key)
  if (!b) {
    b = budgetDatabase().then(db => new RateBudget(key, limits, new BudgetStore(db)))
    budgets.set(key, b)
    b.catch(() => budgets.delete(key))
  }
  return b
}
