/**
 * The Cloud Foundry rate budget (srv/cloud-foundry/budget.ts), through OData over HTTP and the CF emulator's
 * HTTP API: the emulator's rate limit per user is on, scaled down (a 1-second window) and set equal to the
 * app's CF limit. A burst of instances with a key each in a space ends Ready without a single 429 and CF never
 * sees more than the limit in any window (sliding, by arrival); a 429 pauses every call of the technical user
 * until its X-RateLimit-Reset, and so does an answer with X-RateLimit-Remaining 0 when another tool used the
 * window up; a pause beyond a request's time answers 503 CF_RATE_LIMITED with Retry-After,
 * and a request during that pause does not reach CF at all.
 */
const WINDOW_MS = 1000
const LIMIT = 10
process.env.CDS_CONFIG = JSON.stringify({
  requires: {
    'cloud-foundry': {
      limits: { minuteMs: WINDOW_MS, perMinute: LIMIT, perHour: null },
      emulator: { rateLimit: { limit: LIMIT, windowMs: WINDOW_MS } }
    }
  }
})

import cds from '@sap/cds'
import axios from 'axios'
import type { CfEmulator, CfRecordedCall } from '../../emulator/cf'
import { embeddedCfEmulator } from '../../srv/cloud-foundry/kind-emulator'
import { API, PLANS, SUB1, quietFor, stateIs, waitFor } from '../helpers'
import { useApp } from '../support/app'
import { peakPerWindow } from '../support/windows'

afterAll(() => delete process.env.CDS_CONFIG)
const { as, admin } = useApp()

let cf: CfEmulator

beforeAll(async () => {
  cf = await embeddedCfEmulator<CfEmulator>()
})
afterEach(() => cf.clearFaults())

/** Lets the current rate windows (CF's and the app's, both on real time) end. */
const windowsPass = () => quietFor(2 * WINDOW_MS)
const v3 = (from: number) => cf.calls.slice(from).filter(c => c.path.startsWith('/v3'))
const reveal = (key: { ID: string }) => as('reader').post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})

/** The most calls that arrived within one window, sliding over their arrival times. */
const peak = (calls: CfRecordedCall[]) => peakPerWindow(calls.map(c => c.at), WINDOW_MS)

async function instanceWithKey(name: string) {
  const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.integrationAssessment, environment: 'cloudfoundry', space: 'dev', name })
  expect(inst.status).toBe(201)
  const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: `${name}-key` })
  expect(key.status).toBe(201)
  return {
    instance: await waitFor(admin, `${API}/ServiceInstances(${inst.data.ID})`, stateIs('Ready', 'Failed'), 60_000),
    key: await waitFor(admin, `${API}/ServiceKeys(${key.data.ID})`, stateIs('Ready', 'Failed'), 60_000)
  }
}

describe('the Cloud Foundry rate budget of a subaccount', () => {
  test('a burst of instances with a key each: all Ready, CF never answers 429 and never sees more than its limit per window', async () => {
    const from = cf.calls.length
    const pairs = await Promise.all(Array.from({ length: 4 }, (_, i) => instanceWithKey(`cf-burst-${i}`)))
    for (const { instance, key } of pairs) {
      expect([instance.state_code, instance.lastError]).toEqual(['Ready', null])
      expect([key.state_code, key.lastError]).toEqual(['Ready', null])
    }
    const calls = v3(from)
    // the burst needed several windows: without the budget it would have run into CF's limit
    expect(calls.length).toBeGreaterThan(3 * LIMIT)
    expect(calls.filter(c => c.status === 429)).toEqual([])
    expect(peak(calls)).toBeLessThanOrEqual(LIMIT)
  }, 90_000)

  test('a 429 pauses every call of the technical user until X-RateLimit-Reset, then the calls go on', async () => {
    const { key: a } = await instanceWithKey('cf-paused-a')
    const { key: b } = await instanceWithKey('cf-paused-b')
    // let the window the creates used end, so that only the fault answers 429
    await windowsPass()
    const from = cf.calls.length
    cf.addFault({ method: 'GET', path: `/v3/service_credential_bindings/${a.smId}`, status: 429, resetInMs: 1500 })
    // two reads at once: one meets the 429, the other must wait for the same pause
    const [ra, rb] = await Promise.all([reveal(a), quietFor(100).then(() => reveal(b))])
    expect([ra.status, rb.status]).toEqual([200, 200])
    const calls = v3(from)
    const limited = calls.find(c => c.status === 429)!
    expect(limited.path).toBe(`/v3/service_credential_bindings/${a.smId}`)
    // nothing arrived before the reset CF named (X-RateLimit-Reset, at least the 1.5 s of the fault)
    const after = calls.filter(c => c.at > limited.at)
    expect(after.map(c => c.path)).toEqual(
      expect.arrayContaining([`/v3/service_credential_bindings/${a.smId}/details`, `/v3/service_credential_bindings/${b.smId}/details`])
    )
    for (const c of after) expect(c.at).toBeGreaterThanOrEqual(limited.at + 1500)
    expect(after.filter(c => c.status === 429)).toEqual([])
  }, 90_000)

  test('another tool used up the window: an answer with X-RateLimit-Remaining 0 holds the next calls until X-RateLimit-Reset', async () => {
    const { key } = await instanceWithKey('cf-used-up')
    // another tool with the same technical user (the cf CLI, say), outside this app's budget
    const user = cf.users[0]
    const token = await axios.post(`${cf.uaaUrl}/oauth/token`, new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password }), {
      auth: { username: 'cf', password: '' }
    })
    const tool = axios.create({ baseURL: cf.url, headers: { Authorization: `bearer ${token.data.access_token}` }, validateStatus: () => true })
    await windowsPass()
    const from = cf.calls.length
    // the tool takes all but one call of a fresh window; the read's first call takes the last one
    for (let i = 0; i < LIMIT - 1; i++) expect((await tool.get('/v3/spaces')).status).toBe(200)
    expect((await reveal(key)).status).toBe(200)
    const calls = v3(from)
    const last = calls.find(c => c.path === `/v3/service_credential_bindings/${key.smId}`)!
    expect(calls.indexOf(last)).toBe(LIMIT - 1)
    const next = calls.find(c => c.path === `/v3/service_credential_bindings/${key.smId}/details`)!
    // the read's next call waited for the next window (X-RateLimit-Reset) instead of running into a 429
    expect(calls.filter(c => c.status === 429)).toEqual([])
    expect(next.at).toBeGreaterThanOrEqual(calls[0].at + WINDOW_MS)
  }, 60_000)

  test('a pause longer than a request may wait: 503 CF_RATE_LIMITED with Retry-After; a read during it does not reach CF', async () => {
    const { key } = await instanceWithKey('cf-reveal-paused')
    expect(key.state_code).toBe('Ready')
    await windowsPass()
    cf.addFault({ method: 'GET', path: `/v3/service_credential_bindings/${key.smId}/details`, status: 429, resetInMs: 8000 })
    const from = cf.calls.length
    const first = await reveal(key)
    expect([first.status, first.data.error?.code]).toEqual([503, 'CF_RATE_LIMITED'])
    const retryAfter = Number(first.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(5)
    expect(retryAfter).toBeLessThanOrEqual(9)
    expect(first.data.error.message).toBe(cds.i18n.messages.at('CF_RATE_LIMITED', [retryAfter]))
    expect(v3(from).map(c => c.status)).toEqual([200, 429])

    const during = cf.calls.length
    const second = await reveal(key)
    expect([second.status, second.data.error?.code]).toEqual([503, 'CF_RATE_LIMITED'])
    expect(Number(second.headers['retry-after'])).toBeLessThanOrEqual(retryAfter)
    expect(v3(during)).toEqual([])
  }, 60_000)
})
