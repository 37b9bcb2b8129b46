/**
 * The rate budget's tables on PostgreSQL (srv/service-manager/budget.ts, db/rate-budget.cds): places and
 * bookings taken by concurrent transactions on two connection pools of one database (what two app
 * instances do) never exceed a window's capacity, on the real clock.
 *
 * PostgreSQL comes from scripts/ensure-postgres.sh (starts or installs it when nothing listens on
 * 127.0.0.1:5432). When it cannot be made available, this suite fails; it never skips.
 */
import cds from '@sap/cds'
import { setTimeout as delay } from 'node:timers/promises'
import { BudgetStore, RateBudget, budgetModel } from '../srv/service-manager/budget'
import { resolveLimits } from '../srv/service-manager/throttle'
import { postgresDatabase } from './fixtures/postgres'
import { peakPerWindow } from './support/windows'

const DATABASE = `skm_budget_${process.pid}`
const pg = postgresDatabase(DATABASE)

jest.setTimeout(120_000)

/** Two database services on one PostgreSQL database, each with a pool of its own: two app instances. */
let pools: cds.DatabaseService[] = []

beforeAll(async () => {
  await pg.create()
  const csn = await budgetModel()
  const model = cds.linked(cds.compile.for.nodejs(csn) as unknown as cds.csn.CSN)
  const options = { kind: 'postgres', impl: '@cap-js/postgres', credentials: pg.credentials, pool: { max: 8 }, model }
  pools = (await Promise.all([cds.connect.to('budget-a', options as object), cds.connect.to('budget-b', options as object)])) as cds.DatabaseService[]
  await (cds as unknown as { deploy(m: unknown, o: object): { to(db: unknown): Promise<unknown> } }).deploy(csn, { silent: true }).to(pools[0])
}, 10 * 60_000)

/** every budget of the suite, closed before the pools go: no timer of theirs outlives the suite */
const made: RateBudget[] = []

afterAll(async () => {
  for (const b of made.splice(0)) b.close()
  await Promise.all(pools.map(p => (p as unknown as { disconnect(): Promise<void> }).disconnect()))
  await pg.drop()
}, 60_000)

const CREATE = { method: 'POST', path: '/v1/service_instances' }

function budgets(subaccount: string, limits: Parameters<typeof resolveLimits>[0]) {
  const resolved = resolveLimits({ all: null, bindings: null, offerings: null, plans: null, instanceCreates: null, instanceUpdates: null, ...limits })
  const pair = pools.map(db => new RateBudget(subaccount, resolved, new BudgetStore(db)))
  made.push(...pair)
  return pair
}

describe('rate budget on PostgreSQL: two instances, one budget', () => {
  test('batches of takes from two pools at one moment: together exactly the capacity', async () => {
    const stores = pools.map(db => new BudgetStore(db))
    const [a] = budgets('atomic-batch', { minuteMs: 60_000, instanceCreates: { perMinute: 11 } })
    const windows = a.windowsOf('instanceCreates')
    const now = Date.now()
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stores[i % 2].take('atomic-batch', 'instanceCreates', windows, now, 120_000, Array(4).fill(undefined)))
    )
    expect(results.reduce((n, r) => n + r.granted.length, 0)).toBe(11)
    // every place was handed out once
    const places = results.flatMap(r => r.granted.map(held => held.map(h => `${h.window}#${h.slot}#${h.turn}`).join()))
    expect(new Set(places).size).toBe(11)
    expect(await a.active('instanceCreates')).toEqual([11])
  })

  test('40 concurrent takes at one moment from two pools: exactly the capacity is granted', async () => {
    const stores = pools.map(db => new BudgetStore(db))
    const [a] = budgets('atomic-take', { minuteMs: 60_000, instanceCreates: { perMinute: 7 } })
    const windows = a.windowsOf('instanceCreates')
    const now = Date.now()
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => stores[i % 2].take('atomic-take', 'instanceCreates', windows, now, 120_000, [undefined]))
    )
    expect(results.filter(r => r.granted.length === 1)).toHaveLength(7)
    // every refused take was told to come back when the oldest place leaves the window
    const refused = results.filter(r => r.granted.length === 0)
    expect(refused).toHaveLength(33)
    expect(refused.every(r => r.retryAt === now + 120_000 + 60_000 && r.running === true)).toBe(true)
    expect(await a.active('instanceCreates')).toEqual([7])
  })

  test('concurrent callers in two instances: never more than the limit in any window, nobody refused', async () => {
    const WINDOW = 1000
    const LIMIT = 5
    const pair = budgets('atomic-calls', { minuteMs: WINDOW, instanceCreates: { perMinute: LIMIT }, pollMs: 20 })
    const starts: number[] = []
    const ends: number[] = []
    const started = Date.now()
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const done = await pair[i % 2].acquire(CREATE)
        starts.push(Date.now())
        // the call takes a while; it counts until its answer came
        await delay(20 + (i % 4) * 30)
        ends.push(Date.now())
        done({ status: 202 })
      })
    )
    expect(starts).toHaveLength(24)
    // a call counts from its start to its end plus the window: so no window of starts holds more than LIMIT
    expect(peakPerWindow(starts, WINDOW)).toBeLessThanOrEqual(LIMIT)
    // 24 calls at 5 per window: at least 4 windows passed
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * WINDOW)
    // both instances got their share
    expect(pair.map(b => b.stats.granted)).toEqual([12, 12])
  })

  test('concurrent bookings from two instances: each turn is promised at most capacity times', async () => {
    const pair = budgets('atomic-bookings', { minuteMs: 10_000, instanceCreates: { perMinute: 3 } })
    const told = await Promise.all(Array.from({ length: 15 }, (_, i) => pair[i % 2].book(CREATE, `step-${i}`)))
    // turns: 3 now, 3 a window later, ... (measured from slightly different moments: round to windows)
    const rounds = new Map<number, number>()
    for (const ms of told) rounds.set(Math.round(ms / 10_000), (rounds.get(Math.round(ms / 10_000)) ?? 0) + 1)
    expect([...rounds.entries()].sort((x, y) => x[0] - y[0])).toEqual([[0, 3], [1, 3], [2, 3], [3, 3], [4, 3]])
  })

  test('a 429 seen by one instance pauses the class in the other', async () => {
    const [one, two] = budgets('atomic-pause', { minuteMs: 60_000, instanceCreates: { perMinute: 50 }, defaultRetryAfterMs: 700 })
    const done = await one.acquire(CREATE)
    done({ status: 429, retryAfterMs: 1500 })
    await one.idle()
    const asked = Date.now()
    const later = await two.acquire(CREATE)
    const waited = Date.now() - asked
    later({ status: 202 })
    await two.idle()
    expect(waited).toBeGreaterThanOrEqual(1300)
    expect(waited).toBeLessThan(5000)
  })
})
