import cds from '@sap/cds'
import { API, PLANS, SUB1, eventually, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { as, admin, emu } = useApp()

let instanceId: string

beforeAll(async () => {
  const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.cloudAlmApi, name: 'calm-handoff' })
  instanceId = inst.data.ID
  await waitFor(admin, `${API}/ServiceInstances(${instanceId})`, stateIs('Ready'))
})

async function readyKey(name: string, purpose?: string) {
  const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instanceId, name, ...(purpose ? { purpose } : {}) })
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

    expect((await as('viewer').post(`${API}/Registrations`, { serviceKey_ID: second.ID, consumerType: 'x', tenant: 'y' })).status).toBe(403)

    await admin.delete(`${API}/ServiceKeys(${first.ID})`)
    await waitFor(admin, `${API}/ServiceKeys(${first.ID})`, stateIs('Deleted'))
    const after = await admin.get(`${API}/Registrations(${reg.data.ID})`)
    expect(after.data.status).toBe('Removed')
    expect((await register(second.ID)).status).toBe(201)
  })

  test('only Ready keys can be registered', async () => {
    emu.addFault({ method: 'POST', path: '/v1/service_bindings', status: 503, times: 3 }) // keeps it Creating a while
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instanceId, name: 'not-yet' })
    const res = await register(k.data.ID, 'another-tenant')
    expect([res.status, res.data.error?.code]).toEqual([422, 'KEY_NOT_READY'])
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
    expect((await as('viewer').post(`${API}/ServiceKeys(${old.ID})/rotate`, {})).status).toBe(403)

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

describe('registrations follow landscape management\'s rules', () => {
  const dangling: Record<string, unknown>[] = []
  beforeAll(async () => {
    const srv = await cds.connect.to('ProvisioningService')
    srv.on('RegistrationDangling', msg => void dangling.push({ ...(msg.data as Record<string, unknown>) }))
  })

  test('one key per tenant, tenants compared case-insensitively', async () => {
    const first = await readyKey('case-key-1', 'landscape')
    const second = await readyKey('case-key-2', 'landscape')
    expect((await register(first.ID, 'Acme-Case')).status).toBe(201)
    const clash = await register(second.ID, 'acme-case')
    expect([clash.status, clash.data.error?.code]).toEqual([409, 'REGISTRATION_EXISTS'])
    expect(clash.data.error.message).toContain('case-key-1')
    expect((await register(first.ID, 'ACME-CASE')).status).toBe(409)
  })

  test('only a suitable key: never a key for API calls or a one-use key in landscape management', async () => {
    const api = await readyKey('analytics-api-key', 'api')
    const once = await readyKey('one-use-key', 'one-use')
    for (const key of [api, once]) {
      const res = await register(key.ID, 'purpose-tenant')
      expect([res.status, res.data.error?.code]).toEqual([422, 'REGISTRATION_PURPOSE_UNSUITABLE'])
    }
    // other consumers may take an API key
    const other = await admin.post(`${API}/Registrations`, { serviceKey_ID: api.ID, consumerType: 'analytics-client', tenant: 'purpose-tenant' })
    expect(other.status).toBe(201)
    const landscape = await readyKey('landscape-key', 'landscape')
    expect((await register(landscape.ID, 'purpose-tenant')).status).toBe(201)
    const wrong = await admin.post(`${API}/ServiceKeys`, { instance_ID: instanceId, name: 'bad-purpose', purpose: 'anything' })
    expect([wrong.status, wrong.data.error?.code]).toEqual([400, 'KEY_PURPOSE_INVALID'])
  })

  test('a key deleted behind the service: its registrations are Dangling, a sweep finding and an event say so', async () => {
    const key = await readyKey('vanishing-lm-key', 'landscape')
    const reg = await register(key.ID, 'Dangling-Tenant')
    expect(reg.status).toBe(201)
    emu.remove('binding', key.smId)
    const swept = await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
    expect(swept.data.dangling).toBe(1)
    expect((await admin.get(`${API}/Registrations(${reg.data.ID})`)).data.status).toBe('Dangling')
    const findings = (await admin.get(`${API}/Findings?$filter=category eq 'dangling' and serviceKey_ID eq ${key.ID}`)).data.value
    expect(findings).toHaveLength(1)
    expect(findings[0].detail).toContain('Dangling-Tenant')
    await eventually(() => dangling.some(d => d.registration === reg.data.ID), { what: 'RegistrationDangling', timeout: 10000, interval: 50 })
    const event = dangling.find(d => d.registration === reg.data.ID)!
    expect(event).toMatchObject({ serviceKey: key.ID, name: 'vanishing-lm-key', consumerType: 'cloud-alm-landscape', tenant: 'Dangling-Tenant', subaccount: SUB1 })
    expect(JSON.stringify(event)).not.toMatch(/secret|-----BEGIN/i)
    // a Dangling registration no longer holds the tenant: a working key may take its place
    expect((await register((await readyKey('after-dangling', 'landscape')).ID, 'dangling-tenant')).status).toBe(201)
    // once the consumer's copy is removed there, removing the finding closes the registration here
    const removed = await admin.post(`${API}/Findings(${findings[0].ID})/remove`, {})
    expect([removed.status, removed.data.status]).toEqual([200, 'removed'])
    expect((await admin.get(`${API}/Registrations(${reg.data.ID})`)).data.status).toBe('Removed')
  })

  test('adopted automatic keys are protected: rotate and delete need force, by an Administrator', async () => {
    const tenant = emu.tenants.find(t => t.subaccountId === '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61')!.subaccountId
    const calm = emu.plant('instance', { name: 'calm-auto', service_plan_id: '60012dfb-0f3c-5ce6-a833-30965153fb24', subaccountId: tenant })
    const auto = emu.plant('binding', { name: 'XYZ_200_00', service_instance_id: calm.id, subaccountId: tenant })
    await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
    const open = async (smId: string) => (await admin.get(`${API}/Findings?$filter=category eq 'unmanaged' and smId eq '${smId}' and status eq 'open'`)).data.value[0]
    const i = await admin.post(`${API}/Findings(${(await open(calm.id)).ID})/adopt`, {})
    const k = await admin.post(`${API}/Findings(${(await open(auto.id)).ID})/adopt`, {})
    // the adoption is the reconciler's step: wait for it
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.serviceKey_ID})`, stateIs('Ready', 'Failed'))
    expect(key).toMatchObject({ name: 'XYZ_200_00', automatic: true, state_code: 'Ready' })

    const rotate = await admin.post(`${API}/ServiceKeys(${key.ID})/rotate`, {})
    expect([rotate.status, rotate.data.error?.code]).toEqual([409, 'KEY_PROTECTED'])
    expect(rotate.data.error.message).toMatch(/breaks that connection/)
    const del = await admin.delete(`${API}/ServiceKeys(${key.ID})`)
    expect([del.status, del.data.error?.code]).toEqual([409, 'KEY_PROTECTED'])
    const inst = await admin.delete(`${API}/ServiceInstances(${i.data.instance_ID})`)
    expect([inst.status, inst.data.error?.code]).toEqual([409, 'KEY_PROTECTED'])
    const provisioner = as('provisioner')
    const notAdmin = await provisioner.post(`${API}/ServiceKeys(${key.ID})/rotate`, { force: true })
    expect([notAdmin.status, notAdmin.data.error?.code]).toEqual([403, 'FORCE_REQUIRES_ADMINISTRATOR'])
    expect((await provisioner.delete(`${API}/ServiceKeys(${key.ID})?force=true`)).status).toBe(403)
    expect(emu.bindings().some(b => b.id === auto.id)).toBe(true)

    const forced = await admin.post(`${API}/ServiceKeys(${key.ID})/rotate`, { force: true })
    expect(forced.status).toBe(200)
    const successor = await waitFor(admin, `${API}/ServiceKeys(${forced.data.ID})`, stateIs('Ready', 'Failed'))
    expect(successor).toMatchObject({ state_code: 'Ready', automatic: false })
    expect((await admin.delete(`${API}/ServiceKeys(${key.ID})?force=true`)).status).toBe(204)
    await waitFor(admin, `${API}/ServiceKeys(${key.ID})`, stateIs('Deleted'))
    expect(emu.bindings().some(b => b.id === auto.id)).toBe(false)
  })
})
