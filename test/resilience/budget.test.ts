/**
 * One Service Manager rate budget for two app instances: two app processes on one PostgreSQL database and
 * one standalone emulator whose own rate limits are on, scaled down (a 2-second "minute", 5 instance
 * creates, 10 binding calls and 40 calls in all per window) and set equal to the apps' limits. A burst of
 * instances with a key each, spread over both processes: every one ends Ready, the emulator never refuses a
 * call (429) and never sees more than a limit in any window (sliding, by arrival), although each process
 * alone would be allowed the full limits.
 *
 * PostgreSQL comes from scripts/ensure-postgres.sh (see multi-instance.test.ts); this suite never skips.
 */
import type { RecordedCall } from '../../emulator/types'
import { classOf } from '../../srv/service-manager/throttle'
import { PLANS, SUB1, quietFor } from '../helpers'
import { peakPerWindow } from '../support/windows'
import { stateIs } from './support'
import { useTwoApps } from './apps'

const COUNT = 24
const MINUTE_MS = 2000
const LIMITS = { all: 40, instanceCreates: 5, bindings: 10 }

jest.setTimeout(180_000)

const { apps, emu, keepCalls } = useTwoApps('budget', {
  emulator: {
    operationMs: 300,
    // every answer comes 40 ms late: a call counts until its answer arrived
    latencyMs: 40,
    rateLimit: { windowMs: MINUTE_MS, perMinute: LIMITS.all, instanceCreatesPerMinute: LIMITS.instanceCreates, bindingsPerMinute: LIMITS.bindings }
  },
  serviceManager: {
    limits: {
      minuteMs: MINUTE_MS,
      all: { perMinute: LIMITS.all },
      instanceCreates: { perMinute: LIMITS.instanceCreates },
      bindings: { perMinute: LIMITS.bindings }
    }
  }
})

/** The most calls that arrived within one window, sliding over their arrival times. */
const peak = (calls: RecordedCall[]) => peakPerWindow(calls.map(c => c.at), MINUTE_MS)

describe('two app processes, one SM rate budget', () => {
  test(`${COUNT} instances with a key each over both processes: all Ready, SM never sees more than its limits`, async () => {
    const started = Date.now()
    const pairs = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) => {
        const app = apps[i % 2]
        const name = `budget-${String(i).padStart(2, '0')}`
        const inst = await app.post('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
        expect(inst.status).toBe(201)
        const key = await app.post('/ServiceKeys', { instance_ID: inst.data.ID, name: `${name}-key` })
        expect(key.status).toBe(201)
        return { app, instance: inst.data.ID as string, key: key.data.ID as string }
      })
    )
    for (const p of pairs) {
      const inst = await p.app.waitFor(`/ServiceInstances(${p.instance})`, stateIs('Ready', 'Failed'), 120_000)
      expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])
      const key = await p.app.waitFor(`/ServiceKeys(${p.key})`, stateIs('Ready', 'Failed'), 120_000)
      expect([key.state_code, key.lastError]).toEqual(['Ready', null])
    }
    const tookMs = Date.now() - started
    await quietFor(200)

    const state = await emu.state()
    keepCalls(state.calls, started)
    const sm = state.calls.filter(c => c.path.startsWith('/v1/') && c.subaccountId)
    // the emulator refused nothing: no 429 at all
    expect(sm.filter(c => c.status === 429)).toEqual([])
    const creates = sm.filter(c => classOf(c.method, c.path) === 'instanceCreates')
    const bindings = sm.filter(c => classOf(c.method, c.path) === 'bindings')
    expect(creates).toHaveLength(COUNT)
    expect(bindings.filter(c => c.method === 'POST')).toHaveLength(COUNT)
    const peaks = { all: peak(sm), instanceCreates: peak(creates), bindings: peak(bindings) }
    expect(peaks.instanceCreates).toBeLessThanOrEqual(LIMITS.instanceCreates)
    expect(peaks.bindings).toBeLessThanOrEqual(LIMITS.bindings)
    expect(peaks.all).toBeLessThanOrEqual(LIMITS.all)
    // both processes called SM (each has its own client: X-CorrelationID); the creates were shared
    const perProcess = new Map<string, number>()
    for (const c of creates) perProcess.set(String(c.correlationId), (perProcess.get(String(c.correlationId)) ?? 0) + 1)
    expect(perProcess.size).toBe(2)
    // together they used the limit, not twice it: 24 creates at 5 per window take at least 4 windows
    expect(creates.at(-1)!.at - creates[0].at).toBeGreaterThanOrEqual(4 * MINUTE_MS - 50)
    console.log(
      `two app processes, limits per ${MINUTE_MS} ms window: all ${LIMITS.all}, instance creates ${LIMITS.instanceCreates}, bindings ${LIMITS.bindings}; ` +
        `SM peak per sliding window: all ${peaks.all}, instance creates ${peaks.instanceCreates}, bindings ${peaks.bindings}; ` +
        `creates per process ${[...perProcess.values()].join(' / ')}; ${sm.length} SM calls, no 429; all Ready after ${tookMs} ms`
    )
  })
})
