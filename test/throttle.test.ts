/*
 * The Service Manager rate budget (srv/service-manager/budget.ts, limits in throttle.ts): the limiter on a
 * fake clock, its places kept in the database, then through the app (OData in, emulator out) with the
 * emulator's own rate limits switched on and the app's limits set equal to them, on a shortened "minute"
 * so that the windows pass within seconds.
 */
// before anything loads cds.env: SM limits of the emulator and of the app, on a 2-second "minute"
const MINUTE_MS = 2000
const LIMITS = { all: 40, instanceCreates: 3, bindings: 10 }
process.env.CDS_CONFIG = JSON.stringify({
  requires: {
    'service-manager': {
      emulator: {
        rateLimit: {
          windowMs: MINUTE_MS,
          perMinute: LIMITS.all,
          instanceCreatesPerMinute: LIMITS.instanceCreates,
          bindingsPerMinute: LIMITS.bindings
        }
      },
      // the client's own retries of a GET (a 503, a reset) wait 50 ms, doubling (default 500 ms): a retry of a
      // step during the outage test's outage takes a fraction of a second
      client: { retryBaseMs: 50 },
      limits: {
        minuteMs: MINUTE_MS,
        all: { perMinute: LIMITS.all },
        instanceCreates: { perMinute: LIMITS.instanceCreates },
        bindings: { perMinute: LIMITS.bindings }
      }
    }
  },
  // retries of a failed call back off to at most 4 s (default 60 s), so that the end of the outage test's
  // outage is noticed within seconds and the suite stays short
  provisioning: { retryMax: '4s' }
})

import cds from '@sap/cds'
import path from 'node:path'
import type { Emulator, RecordedCall } from '../emulator'
import { embeddedEmulator } from '../srv/service-manager/kinds'
import * as clock from '../srv/lib/clock'
import { parseRetryAfter } from '../srv/lib/retry'
import { BudgetStore, RateBudget, budgetDatabase, budgetFor, type BudgetTimers } from '../srv/service-manager/budget'
import { SM_LIMITS, classOf, resolveLimits, type ThrottleClass, type ThrottleLimits } from '../srv/service-manager/throttle'
import type { ThrottleOutcome } from '../srv/service-manager/types'
import { API, PLANS, SUB1, eventually, settle, as, stateIs, waitFor, type Client } from './helpers'

// ==================================================================================== the limiter

const flush = () => new Promise<void>(resolve => setImmediate(resolve))

/** A clock that only moves when told to, with timers that fire as it passes them. */
class FakeClock {
  t = 1_700_000_000_000
  /** how many timers were set: a busy loop would set one per turn */
  sets = 0
  private pending: Array<{ at: number; fn: () => void }> = []
  /** budgets on this clock: their database work is awaited before time moves on */
  readonly budgets: RateBudget[] = []
  readonly now = () => this.t
  readonly timers: BudgetTimers = {
    set: (fn, ms) => {
      this.sets++
      const h = { at: this.t + ms, fn }
      this.pending.push(h)
      return h
    },
    clear: h => {
      this.pending = this.pending.filter(p => p !== h)
    }
  }

  get armed() {
    return this.pending.length
  }

  /** Lets every budget finish what it does right now (database work included) and resolved promises run. */
  async quiet() {
    do {
      await flush()
      await Promise.all(this.budgets.map(b => b.idle()))
      await flush()
    } while (this.budgets.some(b => b.busy))
  }

  /** Moves the clock forward, firing due timers in time order, and lets the budgets do their work. */
  async advance(ms: number) {
    const end = this.t + ms
    for (;;) {
      await this.quiet()
      const due = this.pending.filter(p => p.at <= end).sort((a, b) => a.at - b.at)[0]
      if (!due) break
      this.pending = this.pending.filter(p => p !== due)
      this.t = Math.max(this.t, due.at)
      due.fn()
    }
    this.t = end
    await this.quiet()
  }
}

let budgetSeq = 0
/** A budget of its own subaccount on a fake clock; limits default to none but the ones given. */
async function limiter(limits: ThrottleLimits, clock = new FakeClock(), subaccount = `sub-${++budgetSeq}`) {
  const off = { perMinute: null, perHour: null }
  const cfg: ThrottleLimits = {
    all: off,
    bindings: off,
    offerings: off,
    plans: off,
    instanceCreates: off,
    instanceUpdates: off,
    ...limits
  }
  const store = new BudgetStore(await budgetDatabase())
  const budget = new RateBudget(subaccount, resolveLimits(cfg), store, { now: clock.now, timers: clock.timers })
  clock.budgets.push(budget)
  return { clock, budget }
}

interface Ticket {
  n: number
  grantedAt?: number
  settle?: (o?: ThrottleOutcome) => void
}

const CALLS: Record<ThrottleClass, [string, string]> = {
  bindings: ['POST', '/v1/service_bindings'],
  offerings: ['GET', '/v1/service_offerings'],
  plans: ['GET', '/v1/service_plans'],
  instanceCreates: ['POST', '/v1/service_instances'],
  instanceUpdates: ['DELETE', '/v1/service_instances/i-1'],
  other: ['GET', '/v1/service_instances/i-1/operations/op-1']
}

/** Asks for `count` places of a class; settles each call right when it is let through unless told not to. */
function ask(t: { budget: RateBudget; clock: FakeClock }, cls: ThrottleClass, count = 1, opts: { hold?: boolean; log?: Ticket[] } = {}) {
  const tickets: Ticket[] = []
  for (let i = 0; i < count; i++) {
    const ticket: Ticket = { n: opts.log?.length ?? i }
    opts.log?.push(ticket)
    tickets.push(ticket)
    const [method, p] = CALLS[cls]
    void t.budget.acquire({ method, path: p }).then(done => {
      ticket.grantedAt = t.clock.t
      ticket.settle = (o: ThrottleOutcome = { status: 200 }) => done(o)
      if (!opts.hold) done({ status: 200 })
    })
  }
  return tickets
}

const granted = (tickets: Ticket[]) => tickets.filter(t => t.grantedAt !== undefined).length

describe('rate budget: the limiter', () => {
  test('classes: each SM endpoint counts against its own level and the overall one', () => {
    expect(classOf('POST', '/v1/service_instances')).toBe('instanceCreates')
    expect(classOf('POST', '/v1/service_instances/')).toBe('instanceCreates')
    expect(classOf('GET', '/v1/service_instances')).toBe('other')
    expect(classOf('GET', '/v1/service_instances/i-1/operations/op-1')).toBe('other')
    expect(classOf('PATCH', '/v1/service_instances/i-1')).toBe('instanceUpdates')
    expect(classOf('DELETE', '/v1/service_instances/i-1')).toBe('instanceUpdates')
    expect(classOf('POST', '/v1/service_bindings')).toBe('bindings')
    expect(classOf('GET', '/v1/service_bindings/b-1/operations/op-1')).toBe('bindings')
    expect(classOf('GET', '/v1/service_offerings?fieldQuery=x')).toBe('offerings')
    expect(classOf('GET', '/v1/service_plans')).toBe('plans')
  })

  test("configuration: SM's documented limits by default, merged per level and window", () => {
    expect(SM_LIMITS).toMatchObject({
      all: { perMinute: 1000, perHour: 10000 },
      bindings: { perMinute: 600, perHour: 6000 },
      offerings: { perMinute: 100, perHour: 1000 },
      plans: { perMinute: 100, perHour: 1000 },
      instanceCreates: { perMinute: 50 },
      instanceUpdates: { perMinute: 600, perHour: 6000 }
    })
    const d = resolveLimits()
    expect(d.windows.all).toEqual([{ limit: 1000, ms: 60_000 }, { limit: 10000, ms: 3_600_000 }])
    expect(d.windows.instanceCreates).toEqual([{ limit: 50, ms: 60_000 }])
    const c = resolveLimits({ minuteMs: 1000, instanceCreates: { perMinute: 5 }, bindings: { perHour: null }, plans: null })
    expect(c.windows.instanceCreates).toEqual([{ limit: 5, ms: 1000 }])
    expect(c.windows.bindings).toEqual([{ limit: 600, ms: 1000 }])
    expect(c.windows.plans).toEqual([])
    expect(c.windows.all).toEqual([{ limit: 1000, ms: 1000 }, { limit: 10000, ms: 60_000 }])
    expect(() => resolveLimits({ all: { perMinute: -1 } })).toThrow(/Invalid Service Manager limit/)
  })

  test.each([
    ['instanceCreates', 3],
    ['bindings', 4],
    ['offerings', 2],
    ['plans', 2],
    ['instanceUpdates', 5]
  ] as const)('level %s: %i calls per window go at once, the next when the window has passed', async (cls, limit) => {
    const t = await limiter({ minuteMs: 1000, [cls]: { perMinute: limit } })
    const tickets = ask(t, cls, limit + 2)
    await t.clock.advance(0)
    expect(granted(tickets)).toBe(limit)
    // other endpoints are not held up by this level
    const others = ask(t, 'other', 3)
    await t.clock.advance(0)
    expect(granted(others)).toBe(3)
    await t.clock.advance(999)
    expect(granted(tickets)).toBe(limit)
    await t.clock.advance(1)
    expect(granted(tickets)).toBe(limit + 2)
    expect(tickets.map(x => x.grantedAt! - tickets[0].grantedAt!)).toEqual([...Array(limit).fill(0), 1000, 1000])
  })

  test('level all: counts every endpoint together, with the level of each endpoint on top', async () => {
    const t = await limiter({ minuteMs: 1000, all: { perMinute: 6 }, bindings: { perMinute: 2 } })
    const log: Ticket[] = []
    const b = ask(t, 'bindings', 3, { log })
    const o = ask(t, 'other', 5, { log })
    await t.clock.advance(0)
    // bindings: 2 (their own level); then the others until all 6 are used
    expect([granted(b), granted(o)]).toEqual([2, 4])
    await t.clock.advance(1000)
    expect([granted(b), granted(o)]).toEqual([3, 5])
  })

  test('per-minute and per-hour windows apply together', async () => {
    const t = await limiter({ minuteMs: 100, all: { perMinute: 5, perHour: 7 } })
    const tickets = ask(t, 'other', 12)
    await t.clock.advance(0)
    expect(granted(tickets)).toBe(5)
    await t.clock.advance(100)
    expect(granted(tickets)).toBe(7) // the hour (6000 ms here) allows only 7
    await t.clock.advance(5800)
    expect(granted(tickets)).toBe(7)
    await t.clock.advance(100)
    expect(granted(tickets)).toBe(12)
  })

  test('waiters go first come, first served; a class waiting for its own level holds up no other class', async () => {
    const t = await limiter({ minuteMs: 1000, all: { perMinute: 4 }, instanceCreates: { perMinute: 1 } })
    const log: Ticket[] = []
    const creates = ask(t, 'instanceCreates', 3, { log }) // 1 now, 2 wait for their level
    const polls = ask(t, 'other', 5, { log }) // 3 now (all: 4), 2 wait for all
    await t.clock.advance(0)
    expect([granted(creates), granted(polls)]).toEqual([1, 3])
    await t.clock.advance(1000)
    // the window passed: the oldest waiter first (create #2, then polls #4, #5), within all = 4
    expect([granted(creates), granted(polls)]).toEqual([2, 5])
    await t.clock.advance(1000)
    expect([granted(creates), granted(polls)]).toEqual([3, 5])
    const order = [...log].sort((a, b) => a.grantedAt! - b.grantedAt! || a.n - b.n).map(x => x.n)
    expect(order).toEqual([0, 3, 4, 5, 1, 6, 7, 2])
  })

  test('a burst of 300 instance creates is queued, not rejected: 50 per minute, in order, without busy waiting', async () => {
    const t = await limiter({ instanceCreates: SM_LIMITS.instanceCreates, all: SM_LIMITS.all })
    const tickets = ask(t, 'instanceCreates', 300)
    await t.clock.advance(0)
    expect(granted(tickets)).toBe(50)
    expect(t.budget.stats.waiting).toBe(250)
    const start = t.clock.t
    for (let minute = 1; minute <= 5; minute++) {
      await t.clock.advance(60_000)
      expect(granted(tickets)).toBe(50 * (minute + 1))
    }
    expect(t.budget.stats).toMatchObject({ granted: 300, waiting: 0, delayed: 250, maxWaitMs: 5 * 60_000 })
    // in the order asked, 50 per minute
    const minutes = tickets.map(x => Math.floor((x.grantedAt! - start) / 60_000))
    expect(minutes).toEqual(tickets.map((_, i) => Math.floor(i / 50)))
    // one timer per wake-up (a window passing), none left behind
    expect(t.clock.sets).toBeLessThanOrEqual(6 * 2)
    expect(t.clock.armed).toBe(0)
  })

  test('a burst of 1000 binding calls: 600 at once, 400 a minute later; 1000 polls go at once', async () => {
    const t = await limiter({ bindings: SM_LIMITS.bindings, all: { perMinute: 2000, perHour: null } })
    const b = ask(t, 'bindings', 1000)
    await t.clock.advance(0)
    expect(granted(b)).toBe(600)
    await t.clock.advance(60_000)
    expect(granted(b)).toBe(1000)
    const u = await limiter({ all: SM_LIMITS.all })
    const polls = ask(u, 'other', 1000)
    await u.clock.advance(0)
    expect(granted(polls)).toBe(1000)
    const extra = ask(u, 'other', 1)
    await u.clock.advance(0)
    expect(granted(extra)).toBe(0)
  }, 60_000)

  test('a call counts from its start until its answer came, plus the window', async () => {
    const t = await limiter({ minuteMs: 1000, all: { perMinute: 1 }, inFlightCapMs: 30_000, pollMs: 250 })
    const [a] = ask(t, 'other', 1, { hold: true })
    const [b] = ask(t, 'other', 1)
    await t.clock.advance(5000)
    expect(b.grantedAt).toBeUndefined() // a is still running
    a.settle!()
    await t.clock.advance(999)
    expect(b.grantedAt).toBeUndefined()
    await t.clock.advance(1)
    expect(b.grantedAt).toBe(a.grantedAt! + 6000)
    // a call that never reports its end counts until the in-flight cap has passed
    const [c] = ask(t, 'other', 1, { hold: true })
    await t.clock.advance(1000)
    expect(c.grantedAt).toBe(a.grantedAt! + 7000)
    const [d] = ask(t, 'other', 1)
    await t.clock.advance(29_999)
    expect(d.grantedAt).toBeUndefined()
    await t.clock.advance(1001)
    expect(d.grantedAt).toBe(c.grantedAt! + 31_000)
  })

  test('a call that runs in another app instance: waiters look again every pollMs and go once it ended there', async () => {
    // two processes' budgets of one subaccount on one database (here: two budget objects, one clock)
    const clock = new FakeClock()
    const one = await limiter({ minuteMs: 1000, all: { perMinute: 1 }, pollMs: 100 }, clock, 'shared-sub')
    const two = await limiter({ minuteMs: 1000, all: { perMinute: 1 }, pollMs: 100 }, clock, 'shared-sub')
    const [a] = ask(one, 'other', 1, { hold: true })
    await clock.advance(0)
    const [b] = ask(two, 'other', 1)
    await clock.advance(2000)
    expect([a.grantedAt, b.grantedAt]).toEqual([clock.t - 2000, undefined])
    const setsBefore = clock.sets
    a.settle!() // ends in process one; two learns of it at its next look
    await clock.advance(999)
    expect(b.grantedAt).toBeUndefined()
    await clock.advance(101)
    expect(b.grantedAt).toBeGreaterThanOrEqual(a.grantedAt! + 3000)
    expect(b.grantedAt).toBeLessThanOrEqual(a.grantedAt! + 3100)
    // looking again every 100 ms, not in a busy loop
    expect(clock.sets - setsBefore).toBeLessThanOrEqual(12)
  })

  test('book(): deferred callers are told their turn, spread over the windows, and keep their place', async () => {
    const t = await limiter({ minuteMs: 1000, instanceCreates: { perMinute: 3 } })
    const create = { method: 'POST', path: '/v1/service_instances' }
    const start = t.clock.t
    // three places are free now; the next three one window later, then the window after
    const waits: number[] = []
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) waits.push(await t.budget.book(create, id))
    expect(waits).toEqual([0, 0, 0, 1000, 1000, 1000, 2000])
    // other classes are not held up by the bookings
    expect(await t.budget.book({ method: 'POST', path: '/v1/service_bindings' }, 'x')).toBe(0)
    // the callers told 0 call now, using their bookings, and are let through at once
    const log: Ticket[] = []
    for (const id of ['a', 'b', 'c']) void t.budget.acquire({ ...create, booking: id }).then(done => { log.push({ n: log.length, grantedAt: t.clock.t }); done({ status: 201 }) })
    await t.clock.advance(0)
    expect(log).toHaveLength(3)
    // asking again keeps the place: not behind the callers who booked later
    await t.clock.advance(400)
    expect(await t.budget.book(create, 'd')).toBe(600)
    // when their time comes, the others are let through without waiting
    await t.clock.advance(start + 1000 - t.clock.t)
    for (const id of ['d', 'e', 'f']) {
      expect(await t.budget.book(create, id)).toBe(0)
      void t.budget.acquire({ ...create, booking: id }).then(done => { log.push({ n: log.length, grantedAt: t.clock.t }); done({ status: 201 }) })
    }
    await t.clock.advance(1)
    expect(log).toHaveLength(6)
    expect(t.budget.stats.delayed).toBe(0)
    // a newcomer goes after g, whose booking still stands
    expect(await t.budget.book(create, 'h')).toBe(1000 - 1)
  })

  test('book(): bookings are shared by every app instance on the database', async () => {
    const clock = new FakeClock()
    const one = await limiter({ minuteMs: 1000, instanceCreates: { perMinute: 2 } }, clock, 'booked-sub')
    const two = await limiter({ minuteMs: 1000, instanceCreates: { perMinute: 2 } }, clock, 'booked-sub')
    const create = { method: 'POST', path: '/v1/service_instances' }
    const told = [
      await one.budget.book(create, 'p1'),
      await two.budget.book(create, 'q1'),
      await one.budget.book(create, 'p2'),
      await two.budget.book(create, 'q2'),
      await two.budget.book(create, 'q3')
    ]
    expect(told).toEqual([0, 0, 1000, 1000, 2000])
  })

  test('book(): a booking nobody came back for is forgotten after a while', async () => {
    const t = await limiter({ minuteMs: 1000, instanceCreates: { perMinute: 1 } })
    const create = { method: 'POST', path: '/v1/service_instances' }
    expect(await t.budget.book(create, 'gone-1')).toBe(0)
    expect(await t.budget.book(create, 'gone-2')).toBe(1000)
    expect(await t.budget.book(create, 'next')).toBe(2000)
    // the two callers died; once their times are long past, they stand in front of nobody
    await t.clock.advance(60_000)
    expect(await t.budget.book(create, 'newcomer')).toBe(0)
  })

  test('a 429 pauses its endpoint class until Retry-After has passed, in every app instance; other classes go on', async () => {
    const clock = new FakeClock()
    const t = await limiter({ minuteMs: 1000, all: { perMinute: 100 }, defaultRetryAfterMs: 700 }, clock, 'paused-sub')
    const other = await limiter({ minuteMs: 1000, all: { perMinute: 100 }, defaultRetryAfterMs: 700 }, clock, 'paused-sub')
    const [first] = ask(t, 'instanceCreates', 1, { hold: true })
    await clock.advance(0)
    first.settle!({ status: 429, retryAfterMs: 5000 })
    await clock.advance(0)
    const creates = [...ask(t, 'instanceCreates', 1), ...ask(other, 'instanceCreates', 1)]
    const keys = ask(other, 'bindings', 2)
    await clock.advance(0)
    expect([granted(creates), granted(keys)]).toEqual([0, 2])
    expect(await other.budget.pausedUntilOf('instanceCreates')).toBe(first.grantedAt! + 5000)
    await clock.advance(4999)
    expect(granted(creates)).toBe(0)
    await clock.advance(1)
    expect(granted(creates)).toBe(2)
    // without Retry-After: the default pause
    const [k] = ask(t, 'bindings', 1, { hold: true })
    await clock.advance(0)
    k.settle!({ status: 429 })
    const [k2] = ask(t, 'bindings', 1)
    await clock.advance(699)
    expect(k2.grantedAt).toBeUndefined()
    await clock.advance(1)
    expect(k2.grantedAt).toBeDefined()
    expect(t.budget.stats.rateLimited).toBe(2)
  })

  test('waiting keeps no timer that holds the process alive', async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
    const before = timeouts()
    const b = new RateBudget('sub-unref', resolveLimits({ instanceCreates: { perMinute: 1 } }), new BudgetStore(await budgetDatabase()))
    const first = await b.acquire({ method: 'POST', path: '/v1/service_instances' })
    first({ status: 202 })
    let second = false
    void b.acquire({ method: 'POST', path: '/v1/service_instances' }).then(
      () => (second = true),
      () => undefined
    )
    await b.idle()
    await flush()
    expect(second).toBe(false)
    expect(b.stats.waiting).toBe(1)
    expect(timeouts()).toBe(before)
    // closed (the app shuts down): the waiter is refused and no timer outlives the budget
    const refused = b.acquire({ method: 'POST', path: '/v1/service_instances' })
    b.close()
    await expect(refused).rejects.toThrow(/closed/)
    // retryable: a step refused at shutdown comes back later instead of counting as an unexpected error
    await expect(refused).rejects.toMatchObject({ name: 'ServiceManagerError', code: 'ShuttingDown', retryable: true })
    expect(b.stats.waiting).toBe(0)
    await expect(b.acquire({ method: 'GET', path: '/v1/service_offerings' })).rejects.toThrow(/closed/)
  })

  test('one budget per subaccount, shared by all its clients', async () => {
    const a = await budgetFor('sub-a')
    expect(a).toBeDefined()
    expect(await budgetFor('sub-a')).toBe(a)
    expect(await budgetFor('sub-b')).not.toBe(a)
    // the configured limits of this suite
    expect(a!.limits.windows.instanceCreates).toEqual([{ limit: LIMITS.instanceCreates, ms: MINUTE_MS }])
  })
})

// ==================================================================================== through the app

// declared before cds.test, so it runs before the server stops: the queue is at rest when the suite ends
afterAll(() => settle(admin, 60_000))
const app = cds.test(path.join(__dirname, '..'))

let emu: Emulator
let admin: Client

beforeAll(async () => {
  emu = await embeddedEmulator()
  admin = as(app.axios, 'admin')
})
afterEach(() => {
  emu.clearFaults()
  clock.reset()
})

const INSTANCES = '/v1/service_instances'
const BINDINGS = '/v1/service_bindings'
/** How often each step of the outage test is tried during the outage, at least. */
const OUTAGE_ATTEMPTS = 5

/** 429s the emulator's own rate limiter answered (not injected faults): there must never be one. */
const limiterRejections = (from = 0) => emu.calls.slice(from).filter(c => c.status === 429 && !c.fault)

/** Asks for an instance; its ID. */
async function createInstance(name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
  expect(res.status).toBe(201)
  return res.data.ID as string
}

/** Asks for the key `<name>-key` of an instance (it waits for the instance); both IDs. */
async function createKey(instance: string, name: string) {
  const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: instance, name: `${name}-key` })
  expect(key.status).toBe(201)
  return { instance, key: key.data.ID as string }
}

/** Creates an instance and a key for it right away (the key waits for the instance); both rows. */
const createPair = async (name: string) => createKey(await createInstance(name), name)

async function expectReady(pairs: Array<{ instance: string; key: string }>, names: string[], timeoutMs = 30_000) {
  for (const p of pairs) {
    const inst = await waitFor(admin, `${API}/ServiceInstances(${p.instance})`, stateIs('Ready', 'Failed'), timeoutMs)
    expect([inst.name, inst.state_code, inst.lastError]).toEqual([inst.name, 'Ready', null])
    const key = await waitFor(admin, `${API}/ServiceKeys(${p.key})`, stateIs('Ready', 'Failed'), timeoutMs)
    expect([key.name, key.state_code, key.lastError]).toEqual([key.name, 'Ready', null])
  }
  // exactly one object in SM for each
  for (const name of names) {
    const inSm = emu.instances().filter(i => i.name === name)
    expect(inSm).toHaveLength(1)
    expect(emu.bindings().filter(b => b.name === `${name}-key` && b.service_instance_id === inSm[0].id)).toHaveLength(1)
  }
}

const classOfCall = (c: RecordedCall) => classOf(c.method, c.path)

/** After every 429, no call of the same endpoint class reached SM before its Retry-After had passed. */
function expectRetryAfterHonoured(calls: RecordedCall[], retryAfter: string) {
  const sm = calls.filter(c => c.path.startsWith('/v1/'))
  let checked = 0
  for (const [i, c] of sm.entries()) {
    if (c.status !== 429) continue
    const waitMs = parseRetryAfter(retryAfter, c.at) ?? 0
    const next = sm.slice(i + 1).find(n => classOfCall(n) === classOfCall(c))
    if (next) {
      expect(next.at - c.at).toBeGreaterThanOrEqual(waitMs - 30)
      checked++
    }
  }
  return checked
}

describe('rate budget: through the app', () => {
  test.each([
    ['delta-seconds', () => '1'],
    ['HTTP-date', () => new Date(Date.now() + 2000).toUTCString()],
    ['Go timestamp', () => `${new Date(Date.now() + 2000).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`]
  ])('a 429 storm with Retry-After as %s ends Ready with one instance and one key', async (form, value) => {
    const from = emu.calls.length
    const retryAfter = value()
    const faults = [
      { method: 'POST', path: INSTANCES, status: 429, retryAfter, times: 3 },
      { method: 'GET', path: /^\/v1\/service_instances\/[^/]+\/operations\//, status: 429, retryAfter, times: 2 },
      { method: 'POST', path: BINDINGS, status: 429, retryAfter, times: 3 }
    ]
    for (const f of faults) emu.addFault(f)
    const name = `storm-${form.replace(/[^a-z]/gi, '').toLowerCase()}`
    const pair = await createPair(name)
    await expectReady([pair], [name])
    const calls = emu.calls.slice(from)
    const injected = calls.filter(c => c.status === 429)
    expect(injected).toHaveLength(8)
    expect(injected.every(c => c.fault === 'status')).toBe(true)
    expect(expectRetryAfterHonoured(calls, retryAfter)).toBe(8)
    // a 429 never fails a step by itself
    const op = (await admin.get(`${API}/Operations?$filter=instance_ID eq ${pair.instance} and targetType eq 'instance'`)).data.value[0]
    expect(op.state_code).toBe('succeeded')
    expect(limiterRejections(from)).toEqual([])
  })

  test('connection resets before SM answered: every request ends Ready, one object each', async () => {
    const from = emu.calls.length
    emu.addFault({ method: 'POST', path: INSTANCES, resetConnection: true, times: 3 })
    emu.addFault({ method: 'GET', path: /^\/v1\/service_instances\/[^/]+\/operations\//, resetConnection: true, times: 2 })
    emu.addFault({ method: 'POST', path: BINDINGS, resetConnection: true, times: 3 })
    const names = ['reset-a', 'reset-b']
    const pairs = await Promise.all(names.map(createPair))
    await expectReady(pairs, names)
    expect(emu.calls.slice(from).filter(c => c.fault === 'resetConnection')).toHaveLength(8)
    expect(limiterRejections(from)).toEqual([])
  })

  test("SM's rate limits on and ours equal: a burst of creates never gets a 429 and all end Ready", async () => {
    const from = emu.calls.length
    const names = Array.from({ length: 12 }, (_, i) => `burst-${String(i).padStart(2, '0')}`)
    const started = Date.now()
    const pairs = await Promise.all(names.map(createPair))
    await expectReady(pairs, names, 40_000)
    const calls = emu.calls.slice(from)
    const creates = calls.filter(c => c.method === 'POST' && c.path === INSTANCES)
    expect(creates).toHaveLength(12)
    // the throttle held us to 3 creates per 2-second window: 12 creates take at least 3 windows
    expect(creates.at(-1)!.at - creates[0].at).toBeGreaterThanOrEqual(3 * MINUTE_MS - 50)
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * MINUTE_MS)
    expect(limiterRejections(from)).toEqual([])
    expect(calls.filter(c => c.status === 429)).toEqual([])
  })

  test('a burst of instance creates waiting for the rate limits holds up no other work', async () => {
    const base = await createPair('burst-base')
    await expectReady([base], ['burst-base'])
    const from = emu.calls.length
    // 15 creates at 3 per 2-second window: the last goes about 8 s after the first. They start as their instances
    // come in; the burst's keys are asked for after the extra key, or on a busy machine the 30 requests could
    // take as long as the burst itself
    const names = Array.from({ length: 15 }, (_, i) => `queue-burst-${String(i).padStart(2, '0')}`)
    const instances = await Promise.all(names.map(createInstance))
    // meanwhile a key of an instance that is Ready, and a key deletion, go through at once
    const extra = await admin.post(`${API}/ServiceKeys`, { instance_ID: base.instance, name: 'during-burst' })
    expect(extra.status).toBe(201)
    expect((await admin.delete(`${API}/ServiceKeys(${base.key})`)).status).toBe(204)
    const pairs = await Promise.all(instances.map((instance, i) => createKey(instance, names[i])))
    const key = await waitFor(admin, `${API}/ServiceKeys(${extra.data.ID})`, stateIs('Ready', 'Failed'), 20_000)
    expect(key.state_code).toBe('Ready')
    await waitFor(admin, `${API}/ServiceKeys(${base.key})`, stateIs('Deleted', 'Failed'), 20_000)
    await expectReady(pairs, names, 40_000)
    const calls = emu.calls.slice(from)
    const creates = calls.filter(c => c.method === 'POST' && c.path === INSTANCES)
    expect(creates).toHaveLength(15)
    const bindingOfExtra = calls.find(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === 'during-burst')!
    const deletion = calls.find(c => c.method === 'DELETE' && c.path.startsWith(`${BINDINGS}/`))!
    // both came before the burst was through: the waiting creates did not hold the queue
    expect(bindingOfExtra.at).toBeLessThan(creates.at(-1)!.at - MINUTE_MS)
    expect(deletion.at).toBeLessThan(creates.at(-1)!.at - MINUTE_MS)
    // the deferred creates were spread over the windows, not retried against the limit: one POST each
    expect(limiterRejections(from)).toEqual([])
    expect(calls.filter(c => c.status === 429)).toEqual([])
  }, 90_000)

  test('a 30-second SM outage (503s and connection resets): every request ends Ready, one object each', async () => {
    // one Ready instance before the outage, so that key creations hit the outage too
    const before = await createPair('outage-base')
    await expectReady([before], ['outage-base'])
    const from = emu.calls.length
    const huge = 1_000_000
    emu.addFault({ method: 'POST', path: INSTANCES, resetConnection: true, times: huge })
    emu.addFault({ method: 'POST', path: BINDINGS, resetConnection: true, times: huge })
    emu.addFault({ path: /^\/v1\//, status: 503, times: huge })
    const outageStart = Date.now()
    const names = ['outage-a', 'outage-b', 'outage-c']
    const pairs = await Promise.all(names.map(createPair))
    const extraKeys = await Promise.all(
      ['outage-k1', 'outage-k2'].map(async name => {
        const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: before.instance, name })
        expect(res.status).toBe(201)
        return res.data.ID as string
      })
    )
    // the steps that call SM during the outage (the pairs' keys wait for their instances)
    const steps = [
      ...pairs.map(p => `(targetType eq 'instance' and instance_ID eq ${p.instance})`),
      ...extraKeys.map(id => `(targetType eq 'serviceKey' and serviceKey_ID eq ${id})`)
    ]
    const stepsUrl = `${API}/Operations?$filter=${steps.join(' or ')}&$select=attempts,state_code`
    // SM is down for 30 s of the app's time (srv/lib/clock.ts), which from here on runs ten times as fast: the
    // reconciler's retries come due without waiting for them. The outage lasts until every step was tried again
    // a few times, 30 s at least.
    const outageEnd = clock.now() + 30_000
    const fast = setInterval(() => clock.advance(900), 100)
    try {
      const tried = await eventually(async () => (await admin.get(stepsUrl)).data.value as { attempts: number; state_code: string }[], {
        what: 'every step tried again during the outage, none given up',
        until: ops => ops.some(o => o.state_code === 'failed') || (clock.now() >= outageEnd && ops.every(o => o.attempts >= OUTAGE_ATTEMPTS)),
        timeout: 45_000
      })
      const to = emu.calls.length
      emu.clearFaults()
      expect(tried).toHaveLength(steps.length)
      // nothing gave up during the outage
      expect(tried.filter(o => o.state_code === 'failed')).toEqual([])
      const failed = await admin.get(`${API}/Operations?$filter=state_code eq 'failed'&$count=true&$top=0`)
      expect(failed.data['@odata.count']).toBe(0)
      // SM was really down and the app kept trying
      const outageCalls = emu.calls.slice(from, to).filter(c => c.path.startsWith('/v1/'))
      expect(outageCalls.filter(c => c.fault === 'status').length).toBeGreaterThan(5)
      expect(outageCalls.filter(c => c.fault === 'resetConnection').length).toBeGreaterThan(2)
      expect(outageCalls.every(c => c.fault === 'status' || c.fault === 'resetConnection')).toBe(true)
      await expectReady(pairs, names, 20_000)
      for (const id of extraKeys) {
        const key = await waitFor(admin, `${API}/ServiceKeys(${id})`, stateIs('Ready', 'Failed'), 20_000)
        expect(key.state_code).toBe('Ready')
      }
    } finally {
      clearInterval(fast)
    }
    expect(emu.bindings().filter(b => b.name === 'outage-k1' || b.name === 'outage-k2')).toHaveLength(2)
    expect(Date.now() - outageStart).toBeLessThan(60_000)
    expect(limiterRejections(from)).toEqual([])
  }, 90_000)
})
