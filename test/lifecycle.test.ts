import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { admin, as, emu } = useApp()

const smPosts = (resource: 'service_instances' | 'service_bindings') =>
  emu.calls.filter(c => c.method === 'POST' && c.path === `/v1/${resource}`)

async function createInstance(name: string, extra: Record<string, unknown> = {}) {
  const res = await admin.post(`${API}/ServiceInstances`, {
    subaccount_ID: SUB1,
    plan_ID: PLANS.sub1.xsuaaApplication,
    name,
    ...extra
  })
  expect(res.status).toBe(201)
  return res.data
}

describe('instance and key lifecycle through OData and the Service Manager HTTP API', () => {
  test("what the reconciler writes is the app's change, not that of the user whose request woke it", async () => {
    const res = await as('provisioner').post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'woken-by-provisioner' })
    expect(res.status).toBe(201)
    expect(res.data).toMatchObject({ createdBy: 'provisioner', modifiedBy: 'provisioner' })
    const inst = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(inst).toMatchObject({ state_code: 'Ready', createdBy: 'provisioner', modifiedBy: 'service-key-manager' })
    const op = (await admin.get(`${API}/Operations(${inst.lastOperation_ID})`)).data
    expect(op).toMatchObject({ state_code: 'succeeded', createdBy: 'provisioner', modifiedBy: 'service-key-manager' })
  })

  test('create instance -> Ready, create key -> Ready, delete key, delete instance -> Deleted', async () => {
    const parameters = { xsappname: 'orders-app', 'oauth2-configuration': { 'credential-types': ['binding-secret', 'x509'] } }
    const created = await createInstance('orders-xsuaa', { parameters: JSON.stringify(parameters) })
    expect(created.state_code).toBe('Creating')
    expect(created.smId).toBeNull()

    const inst = await waitFor(admin, `${API}/ServiceInstances(${created.ID})`, stateIs('Ready', 'Failed'))
    expect(inst.state_code).toBe('Ready')
    expect(inst.smId).toMatch(/^[0-9a-f-]{36}$/)
    expect(inst.offering_ID).toBeTruthy()

    // what Service Manager received: our labels, the plan, the parameters, async=true
    const post = smPosts('service_instances').find(c => c.body?.name === 'orders-xsuaa')!
    expect(post.query.async).toBe('true')
    expect(post.body.service_plan_id).toBe('e246c73a-869c-50d8-b1a0-3d4befa29b22')
    expect(post.body.parameters).toEqual(parameters)
    expect(post.body.labels).toEqual({ managed_by: ['service-key-manager'], skm_id: [created.ID] })
    const remote = emu.instances().find(i => i.id === inst.smId)
    expect(remote).toBeDefined()
    expect(remote.ready).toBe(true)

    const keyRes = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'orders-key' })
    expect(keyRes.status).toBe(201)
    expect(keyRes.data.state_code).toBe('Creating')
    const key = await waitFor(admin, `${API}/ServiceKeys(${keyRes.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    expect(key.credentialType).toBe('binding-secret')
    const binding = emu.bindings().find(b => b.id === key.smId)
    expect(binding.service_instance_id).toBe(inst.smId)
    expect(binding.labels.skm_id).toEqual([key.ID])
    expect(key.clientId).toBe(binding.credentials.clientid)
    expect(key.tokenUrl).toBe(`${emu.url}/oauth/token`)
    expect(JSON.stringify(key)).not.toContain(binding.credentials.clientsecret)

    // the instance shows its keys and its operations
    const expanded = await admin.get(`${API}/ServiceInstances(${inst.ID})?$expand=keys,operations($orderby=createdAt)`)
    expect(expanded.data.keys.map((k: { name: string }) => k.name)).toEqual(['orders-key'])
    const ops = expanded.data.operations.map((o: { targetType: string; type: string; state_code: string }) => [o.targetType, o.type, o.state_code])
    expect(ops).toEqual([
      ['instance', 'create', 'succeeded'],
      ['serviceKey', 'create', 'succeeded'],
      ['serviceKey', 'verify', 'succeeded'] // a token was fetched with the new key
    ])

    expect((await admin.delete(`${API}/ServiceKeys(${key.ID})`)).status).toBe(204)
    const deletedKey = await waitFor(admin, `${API}/ServiceKeys(${key.ID})`, stateIs('Deleted', 'Failed'))
    expect(deletedKey.state_code).toBe('Deleted')
    expect(emu.bindings().find(b => b.id === key.smId)).toBeUndefined()

    expect((await admin.delete(`${API}/ServiceInstances(${inst.ID})`)).status).toBe(204)
    const gone = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Deleted', 'Failed'))
    expect(gone.state_code).toBe('Deleted')
    expect(emu.instances().find(i => i.id === inst.smId)).toBeUndefined()
    const deletes = emu.calls.filter(c => c.method === 'DELETE').map(c => c.path)
    expect(deletes).toEqual([`/v1/service_bindings/${key.smId}`, `/v1/service_instances/${inst.smId}`])
  })

  test('deleting an instance deletes its keys first, in one call', async () => {
    const created = await createInstance('cascade-xsuaa')
    const inst = await waitFor(admin, `${API}/ServiceInstances(${created.ID})`, stateIs('Ready'))
    const keyIds: string[] = []
    for (const name of ['cascade-a', 'cascade-b']) {
      const r = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name })
      keyIds.push(r.data.ID)
    }
    for (const id of keyIds) await waitFor(admin, `${API}/ServiceKeys(${id})`, stateIs('Ready'))
    const before = emu.calls.length
    expect((await admin.delete(`${API}/ServiceInstances(${inst.ID})`)).status).toBe(204)
    await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Deleted'))
    for (const id of keyIds) expect((await admin.get(`${API}/ServiceKeys(${id})`)).data.state_code).toBe('Deleted')
    const deletes = emu.calls.slice(before).filter(c => c.method === 'DELETE').map(c => c.path.split('/')[2])
    expect(deletes).toEqual(['service_bindings', 'service_bindings', 'service_instances'])
    expect(emu.bindings().filter(b => b.service_instance_id === inst.smId)).toHaveLength(0)
  })

  test('a key requested while its instance is still being created waits for it (one call does the chore)', async () => {
    const created = await createInstance('eager-xsuaa')
    const keyRes = await admin.post(`${API}/ServiceKeys`, { instance_ID: created.ID, name: 'eager-key' })
    expect(keyRes.status).toBe(201)
    const key = await waitFor(admin, `${API}/ServiceKeys(${keyRes.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
  })

  test('creating an instance whose name and plan exist returns the existing one; SM holds one', async () => {
    const first = await createInstance('shared-afc')
    await waitFor(admin, `${API}/ServiceInstances(${first.ID})`, stateIs('Ready'))
    const again = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'shared-afc' })
    expect([200, 201]).toContain(again.status)
    expect(again.data.ID).toBe(first.ID)
    expect(again.data.state_code).toBe('Ready')
    expect(emu.instances().filter(i => i.name === 'shared-afc')).toHaveLength(1)
    expect(smPosts('service_instances').filter(c => c.body?.name === 'shared-afc')).toHaveLength(1)
  })

  test('each seed scenario offering gets its credential metadata mapped from its own shape', async () => {
    const cases = [
      { plan: PLANS.sub1.integrationAssessment, name: 'intas-api', api: (c: any) => c.entities, client: (c: any) => c.clientid },
      { plan: PLANS.sub1.cloudAlmApi, name: 'calm-api', api: (c: any) => c.endpoints.Api, client: (c: any) => c.uaa.clientid },
      { plan: PLANS.sub1.afcApiStandard, name: 'afc-api', api: (c: any) => c.url, client: (c: any) => c.uaa.clientid },
      { plan: PLANS.sub1.aicoreExtended, name: 'aicore-ext', api: (c: any) => c.serviceurls.AI_API_URL, client: (c: any) => c.clientid }
    ]
    for (const c of cases) {
      const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: c.plan, name: c.name })
      expect(res.status).toBe(201)
      const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: res.data.ID, name: `${c.name}-key` })
      const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
      expect(key.state_code).toBe('Ready')
      const creds = emu.bindings().find(b => b.id === key.smId).credentials
      expect(key.apiUrl).toBe(c.api(creds))
      expect(key.clientId).toBe(c.client(creds))
      expect(key.tokenUrl).toBe(`${emu.url}/oauth/token`)
    }
  })

  test('a seed scenario as data: a template picks plan, environment and parameters, and the key type', async () => {
    const CALM_CF = '6a1e2d3c-0001-4a5b-8c7d-000000000005'
    const AI_CORE = '6a1e2d3c-0001-4a5b-8c7d-000000000001'
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, template_ID: CALM_CF, name: 'calm-from-template', space: 'dev' })
    expect(res.status).toBe(201)
    expect(res.data).toMatchObject({ plan_ID: PLANS.sub1.cloudAlmApi, environment: 'other' })
    const inst = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(inst.state_code).toBe('Ready')
    const post = smPosts('service_instances').find(c => c.body?.name === 'calm-from-template')!
    // seed 004: xsappname is the instance name; the authorities are the scopes asked for (none here)
    expect(post.body.parameters).toEqual({ 'xs-security': { xsappname: 'calm-from-template', authorities: [] } })

    // the AI Core template needs plan extended, which subaccount 2 is not entitled to
    const denied = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, template_ID: AI_CORE, name: 'ai-from-template' })
    expect([denied.status, denied.data.error?.code]).toEqual([422, 'PLAN_NOT_ENTITLED'])
    const ai = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, template_ID: AI_CORE, name: 'ai-from-template' })
    expect(ai.data.plan_ID).toBe(PLANS.sub1.aicoreExtended)
    // the key follows the template's credential type: X.509 (generated here, no certificate given)
    const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: ai.data.ID, name: 'ai-key' })
    expect(key.data.credentialType).toBe('x509')
    const ready = await waitFor(admin, `${API}/ServiceKeys(${key.data.ID})`, stateIs('Ready', 'Failed'))
    expect(ready.state_code).toBe('Ready')
  })
})
