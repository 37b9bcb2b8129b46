/**
 * A provisioning flow survives a crash: the app runs as a child process on a SQLite file against a standalone
 * emulator, is killed with SIGKILL in the middle of the flow and restarted on the same database. The flow ends
 * as if nothing had happened: one instance and one key in Service Manager, registered once.
 */
import { SUB1, eventually } from '../helpers'
import { BINDINGS, INSTANCES, recordOf } from '../resilience/support'
import { useRestartableApp } from '../resilience/apps'

jest.setTimeout(90_000)

const CALM_LANDSCAPE = '6a1e2d3c-0001-4a5b-8c7d-000000000004'

const { app, emu, restart } = useRestartableApp('provision-crash', { pollInitial: '100ms', pollMax: '500ms', pollSlice: '1s', retryMax: '1s', stepDeadline: '2m' })

/** After the restart: the flow completed, SM holds one instance and one key for it, the tenant one registration. */
async function expectCompleted(flowId: string, instanceName: string, keyName: string, tenant: string) {
  const flow = await app.waitFor(`/Provisionings(${flowId})?$expand=steps($orderby=seq)`, f => f.status !== 'running', 60_000)
  expect(flow).toMatchObject({ status: 'completed', state_code: 'Ready', lastError: null })
  expect(flow.steps.map((s: { status: string }) => s.status)).toEqual(['done', 'done', 'done', 'done', 'done'])
  const state = await emu.state()
  expect(state.instances.filter(i => i.name === instanceName)).toHaveLength(1)
  const bindings = state.bindings.filter(b => b.name === keyName)
  expect(bindings).toHaveLength(1)
  expect(recordOf(bindings[0])).toBe(flow.serviceKey_ID)
  expect(state.calls.filter(c => c.method === 'POST' && c.path === INSTANCES && c.body?.name === instanceName)).toHaveLength(1)
  expect(state.calls.filter(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === keyName)).toHaveLength(1)
  const regs = (await app.get(`/Registrations?$filter=tenant eq '${tenant}'`)).data.value
  expect(regs).toMatchObject([{ serviceKey_ID: flow.serviceKey_ID, status: 'Active', consumerType: 'cloud-alm-landscape' }])
  expect(flow.registration_ID).toBe(regs[0].ID)
}

describe('a provisioning flow killed in the middle resumes after a restart', () => {
  test('killed before its first SM call (token request in flight)', async () => {
    await emu.addFault({ method: 'POST', path: '/oauth/token', delayResponseMs: 60_000 })
    const res = await app.post('/provision', { template: CALM_LANDSCAPE, subaccount: SUB1, instanceName: 'crash-flow-1', keyName: 'crash-flow-key-1', tenant: 'crash-tenant-1' })
    expect([res.status, res.data.status]).toEqual([200, 'running'])
    await emu.waitForCall(c => c.path === '/oauth/token', 'the token request')
    await app.kill()
    await emu.clearFaults()

    await restart()
    await expectCompleted(res.data.ID, 'crash-flow-1', 'crash-flow-key-1', 'crash-tenant-1')
  })

  test('killed after SM created its key, before the answer was stored', async () => {
    await emu.addFault({ method: 'POST', path: BINDINGS, delayResponseMs: 60_000 })
    const res = await app.post('/provision', { template: CALM_LANDSCAPE, subaccount: SUB1, instanceName: 'crash-flow-2', keyName: 'crash-flow-key-2', tenant: 'crash-tenant-2' })
    expect(res.status).toBe(200)
    await emu.waitForCall(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === 'crash-flow-key-2', 'the binding POST')
    await eventually(async () => (await emu.state({ calls: false })).bindings.some(b => recordOf(b) === res.data.serviceKey), { what: 'the binding in SM', timeout: 15_000, interval: 50 })
    await app.kill()
    await emu.clearFaults()

    await restart()
    await expectCompleted(res.data.ID, 'crash-flow-2', 'crash-flow-key-2', 'crash-tenant-2')
  })
})
