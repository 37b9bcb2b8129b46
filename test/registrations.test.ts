import cds from '@sap/cds'
import path from 'node:path'
import type { Emulator } from '../emulator'
import { embeddedEmulator } from '../srv/service-manager/kinds'
import { API, PLANS, SUB1, settle, as, stateIs, waitFor, type Client } from './helpers'

// declared before cds.test, so it runs before the server stops
afterAll(() => settle(admin))
const app = cds.test(path.join(__dirname, '..'))

let admin: Client
let instanceId: string

beforeAll(async () => {
  admin = as(app.axios, 'admin')
  const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.cloudAlmApi, name: 'calm-handoff' })
  instanceId = inst.data.ID
  await waitFor(admin, `${API}/ServiceInstances(${instanceId})`, stateIs('Ready'))
})

async function readyKey(name: string) {
  const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instanceId, name })
  return waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready'))
}

const register = (serviceKey_ID: string, tenant = 'acme-calm-prod') =>
  admin.post(`${API}/Registrations`, { serviceKey_ID, consumerType: 'cloud-alm-landscape', tenant })

describe('hand-off to consumers', () => {
  test('a Cloud ALM tenant takes exactly one key; deleting the key removes its registration first', async () => {
    const first = await readyKey('lm-key-1')
    const second = await readyKey('lm-key-2')
    const reg = await register(first.ID)
    expect(reg.status).toBe(201)
    expect(reg.data.status).toBe('Active')

    const clash = await register(second.ID)
    expect([clash.status, clash.data.error?.code]).toEqual([409, 'REGISTRATION_EXISTS'])
    expect(clash.data.error.message).toContain('lm-key-1')
    expect((await register(second.ID, 'acme-calm-test')).status).toBe(201) // another tenant is fine

    expect((await as(app.axios, 'viewer').post(`${API}/Registrations`, { serviceKey_ID: second.ID, consumerType: 'x', tenant: 'y' })).status).toBe(403)

    await admin.delete(`${API}/ServiceKeys(${first.ID})`)
    await waitFor(admin, `${API}/ServiceKeys(${first.ID})`, stateIs('Deleted'))
    const after = await admin.get(`${API}/Registrations(${reg.data.ID})`)
    expect(after.data.status).toBe('Removed')
    expect((await register(second.ID)).status).toBe(201)
  })

  test('only Ready keys can be registered', async () => {
    const emu = await embeddedEmulator<Emulator>()
    emu.addFault({ method: 'POST', path: '/v1/service_bindings', status: 503, times: 3 }) // keeps it Creating a while
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instanceId, name: 'not-yet' })
    const res = await register(k.data.ID, 'another-tenant')
    expect([res.status, res.data.error?.code]).toEqual([422, 'KEY_NOT_READY'])
    emu.clearFaults()
  })
})

describe('rotation', () => {
  const provisioning = () => (cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning
  afterEach(() => {
    provisioning().rotationOverlap = '1h'
  })

  test('rotate: a new key like the old one, verified, takes over the registration; the old one is retired after the overlap', async () => {
    provisioning().rotationOverlap = '1s'
    const old = await readyKey('rotating-key')
    const reg = await register(old.ID, 'rotation-tenant')
    expect(reg.status).toBe(201)
    expect((await as(app.axios, 'viewer').post(`${API}/ServiceKeys(${old.ID})/rotate`, {})).status).toBe(403)

    const res = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect(res.status).toBe(200)
    expect(res.data).toMatchObject({ rotatedFrom_ID: old.ID, state_code: 'Creating', credentialType: old.credentialType })
    expect(res.data.name).toMatch(/^rotating-key-\d{12}$/)
    const again = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect([again.status, again.data.error?.code]).toEqual([409, 'KEY_ALREADY_ROTATED'])

    const successor = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, row => row.state_code === 'Ready' && row.verification_code === 'ok')
    expect(successor.clientId).not.toBe(old.clientId)
    const moved = await waitFor(admin, `${API}/Registrations(${reg.data.ID})`, row => row.serviceKey_ID === successor.ID)
    expect(moved.status).toBe('Active')
    // after the overlap the old key goes, through a retire step
    const retired = await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'))
    expect(retired.state_code).toBe('Deleted')
    const ops = await admin.get(`${API}/ServiceKeys(${old.ID})/operations?$filter=type eq 'retire'`)
    expect(ops.data.value.map((o: { state_code: string }) => o.state_code)).toEqual(['succeeded'])
    expect((await admin.get(`${API}/ServiceKeys(${successor.ID})`)).data.state_code).toBe('Ready')
  })
})
