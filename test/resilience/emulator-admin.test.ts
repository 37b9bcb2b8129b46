/**
 * The emulator features the resilience suites rely on: the `delayResponseMs` fault (act first, answer
 * late), the admin API for driving a standalone emulator from another process, and the recorded
 * X-CorrelationID.
 */
import { startEmulator, type Emulator } from '../../emulator'
import { eventually } from '../support/eventually'

let emu: Emulator
let plain: Emulator
const tenant = () => emu.tenants[0]

beforeAll(async () => {
  ;[emu, plain] = await Promise.all([startEmulator({ admin: true }), startEmulator()])
})
afterAll(() => Promise.all([emu?.close(), plain?.close()]))
afterEach(() => emu.reset())

async function token(): Promise<string> {
  const t = tenant()
  const res = await fetch(`${emu.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: t.clientid, client_secret: t.clientsecret })
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

async function createInstance(bearer: string, name: string, headers: Record<string, string> = {}) {
  return fetch(`${emu.url}/v1/service_instances?async=true`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ name, service_plan_id: (await plans(bearer))[0] })
  })
}

async function plans(bearer: string): Promise<string[]> {
  const res = await fetch(`${emu.url}/v1/service_plans`, { headers: { Authorization: `Bearer ${bearer}` } })
  return ((await res.json()) as { items: { id: string }[] }).items.map(p => p.id)
}

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${emu.url}/__emulator${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })

describe('delayResponseMs', () => {
  test('the action is performed at once, the answer comes after the delay', async () => {
    const bearer = await token()
    emu.addFault({ method: 'POST', path: '/v1/service_instances', delayResponseMs: 700 })
    const started = Date.now()
    const pending = createInstance(bearer, 'delayed')
    // SM holds the instance long before its answer arrives
    await eventually(() => emu.instances().some(i => i.name === 'delayed'), { what: 'the instance in SM before the answer', timeout: 600, interval: 20 })
    expect(Date.now() - started).toBeLessThan(700)
    const res = await pending
    expect(res.status).toBe(202)
    expect(Date.now() - started).toBeGreaterThanOrEqual(700)
    expect(emu.calls.find(c => c.method === 'POST' && c.path === '/v1/service_instances')?.fault).toBe('delayResponse')
  })

  test('also applies to calls that create no operation (the token endpoint)', async () => {
    emu.addFault({ method: 'POST', path: '/oauth/token', delayResponseMs: 500 })
    const started = Date.now()
    await token()
    expect(Date.now() - started).toBeGreaterThanOrEqual(500)
  })
})

describe('admin API', () => {
  test('faults are added (string or regex path), listed as pending, cleared', async () => {
    expect((await admin('POST', '/faults', [{ method: 'GET', pathRegex: '^/v1/service_plans', status: 503 }, { method: 'GET', path: '/v1/info', status: 500 }])).status).toBe(204)
    expect(((await (await admin('GET', '/state?calls=false')).json()) as { pendingFaults: number }).pendingFaults).toBe(2)
    const bearer = await token()
    const res = await fetch(`${emu.url}/v1/service_plans`, { headers: { Authorization: `Bearer ${bearer}` } })
    expect(res.status).toBe(503)
    expect((await admin('DELETE', '/faults')).status).toBe(204)
    expect((await fetch(`${emu.url}/v1/info`)).status).toBe(200)
    expect((await admin('POST', '/faults', { pathRegex: 42 })).status).toBe(400)
  })

  test('state: instances, bindings and the recorded calls (with X-CorrelationID); admin calls are not recorded', async () => {
    const bearer = await token()
    expect((await createInstance(bearer, 'seen', { 'X-CorrelationID': 'process-a' })).status).toBe(202)
    const state = (await (await admin('GET', '/state')).json())
    expect(state.url).toBe(emu.url)
    expect(state.instances.map((i: any) => i.name)).toEqual(['seen'])
    expect(state.bindings).toEqual([])
    expect(state.calls.some((c: any) => c.path.startsWith('/__emulator'))).toBe(false)
    const post = state.calls.find((c: any) => c.method === 'POST' && c.path === '/v1/service_instances')
    expect(post.correlationId).toBe('process-a')
    expect(state.callCount).toBe(state.calls.length)
    const later = (await (await admin('GET', `/state?since=${state.callCount - 1}`)).json())
    expect(later.calls).toHaveLength(1)
    expect((await admin('POST', '/reset')).status).toBe(204)
    expect(emu.instances()).toEqual([])
  })

  test('plant: objects another tool created, found by the SM API; no call recorded', async () => {
    const bearer = await token()
    const plan = (await plans(bearer))[0]
    const res = await admin('POST', '/plant', { kind: 'instance', object: { name: 'made-elsewhere', service_plan_id: plan, subaccountId: tenant().subaccountId } })
    expect(res.status).toBe(201)
    const planted = (await res.json()) as { id: string; name: string }
    expect(planted.name).toBe('made-elsewhere')
    const listed = await fetch(`${emu.url}/v1/service_instances/${planted.id}`, { headers: { Authorization: `Bearer ${bearer}` } })
    expect(listed.status).toBe(200)
    expect(emu.calls.some(c => c.path.startsWith('/__emulator'))).toBe(false)
    expect((await admin('POST', '/plant', { kind: 'space', object: {} })).status).toBe(400)
    expect((await admin('POST', '/plant', { kind: 'binding' })).status).toBe(400)
  })

  test('off unless enabled', async () => {
    const res = await fetch(`${plain.url}/__emulator/state`)
    expect(res.status).toBe(404)
    expect(plain.calls.at(-1)?.path).toBe('/__emulator/state')
  })
})
