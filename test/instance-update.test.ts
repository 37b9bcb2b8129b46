import cds from '@sap/cds'
import { DEV_SUBACCOUNT_1_ID } from '../emulator/catalog'
import { API, PLANS, SUB1, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

// seed 004 (Cloud ALM API): "update an existing instance to add scopes" -- SM's PATCH as a tracked change
const { as, admin, emu } = useApp()

const patches = (smId: string) => emu.calls.filter(c => c.method === 'PATCH' && c.path === `/v1/service_instances/${smId}`)
const settled = (row: { state_code: string; generation: number; observedGeneration: number }) => row.generation === row.observedGeneration && ['Ready', 'Failed'].includes(row.state_code)

async function readyInstance(name: string, plan_ID = PLANS.sub1.xsuaaApplication, parameters: object = { xsappname: name }) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID, name, parameters })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
}

async function operationsOf(ID: string) {
  const res = await admin.get(`${API}/Operations?$filter=${encodeURIComponent(`instance_ID eq ${ID}`)}&$orderby=generation`)
  return res.data.value as { type: string; state_code: string; error: string | null; generation: number }[]
}

describe('instance update: parameters and plan through Service Manager\'s PATCH', () => {
  test('adding scopes: the PATCH reaches SM with the new parameters, tracked as an update operation', async () => {
    const inst = await readyInstance('calm-scopes', PLANS.sub1.cloudAlmApi, { 'xs-security': { xsappname: 'calm-scopes', authorities: ['$XSAPPNAME.calm-api.read'] } })
    const wanted = { 'xs-security': { xsappname: 'calm-scopes', authorities: ['$XSAPPNAME.calm-api.read', '$XSAPPNAME.calm-api.write'] } }
    const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: wanted })
    expect(res.status).toBe(200)
    expect(res.data.parameters).toEqual(wanted)
    const done = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, settled)
    expect([done.state_code, done.lastError]).toEqual(['Ready', null])
    expect(patches(inst.smId).map(c => c.body)).toEqual([{ parameters: wanted, service_plan_id: expect.any(String) }])
    const ops = await operationsOf(inst.ID)
    expect(ops.map(o => [o.type, o.state_code])).toEqual([['create', 'succeeded'], ['update', 'succeeded']])
  })

  test('the forms\' parametersText works as well; the same parameters again change nothing', async () => {
    const inst = await readyInstance('upd-text')
    const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parametersText: '{"xsappname":"upd-text","tenant-mode":"dedicated"}' })
    expect(res.status).toBe(200)
    await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, settled)
    const again = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: { xsappname: 'upd-text', 'tenant-mode': 'dedicated' } })
    expect(again.status).toBe(200)
    expect(again.data.generation).toBe(res.data.generation)
    expect(patches(inst.smId)).toHaveLength(1)
  })

  test('what may not change, or not now, is refused before SM is asked', async () => {
    const inst = await readyInstance('upd-rules')
    const tries: [object, number, string][] = [
      [{ name: 'renamed' }, 405, 'INSTANCE_IMMUTABLE'],
      [{ environment: 'cloudfoundry' }, 405, 'INSTANCE_IMMUTABLE'],
      [{ parameters: { oauth: { clientsecret: 'x' } } }, 400, 'PARAMETERS_SECRET'],
      [{ parameters: [1] }, 400, 'PARAMETERS_NOT_OBJECT'],
      [{ plan_ID: PLANS.sub1.cloudAlmApi }, 400, 'PLAN_OFFERING_CHANGE'],
      [{ plan_ID: PLANS.sub2.xsuaaApplication }, 400, 'PLAN_UNKNOWN']
    ]
    for (const [body, status, code] of tries) {
      const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, body)
      expect([JSON.stringify(body), res.status, res.data.error?.code]).toEqual([JSON.stringify(body), status, code])
    }
    const unknown = await admin.patch(`${API}/ServiceInstances(${cds.utils.uuid()})`, { parameters: {} })
    expect([unknown.status, unknown.data.error?.code]).toEqual([404, 'INSTANCE_UNKNOWN'])
    const viewer = await as('viewer').patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: {} })
    expect(viewer.status).toBe(403)
    expect(patches(inst.smId)).toEqual([])

    // while it is being created: busy
    const fresh = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'upd-busy' })
    const busy = await admin.patch(`${API}/ServiceInstances(${fresh.data.ID})`, { parameters: { a: 1 } })
    expect([busy.status, busy.data.error?.code]).toEqual([409, 'INSTANCE_BUSY'])
    await waitFor(admin, `${API}/ServiceInstances(${fresh.data.ID})`, stateIs('Ready'))
    // once it is being deleted, or gone: not updatable
    expect((await admin.delete(`${API}/ServiceInstances(${fresh.data.ID})`)).status).toBe(204)
    await waitFor(admin, `${API}/ServiceInstances(${fresh.data.ID})`, stateIs('Deleted'))
    const gone = await admin.patch(`${API}/ServiceInstances(${fresh.data.ID})`, { parameters: { a: 1 } })
    expect([gone.status, gone.data.error?.code]).toEqual([422, 'INSTANCE_NOT_UPDATABLE'])
  })

  test('a plan change goes to SM where the offering allows it, and is refused where it does not', async () => {
    const tenant = emu.tenants.find(t => t.subaccountId === DEV_SUBACCOUNT_1_ID)!
    tenant.entitled.push('xsuaa:broker', 'aicore:standard')
    expect((await admin.post(`${API}/Subaccounts(${SUB1})/ProvisioningService.syncCatalog`, {})).status).toBe(200)
    const plans = await admin.get(`${API}/ServicePlans?$filter=${encodeURIComponent(`subaccount_ID eq ${SUB1} and (name eq 'broker' or name eq 'standard')`)}&$expand=offering`)
    const broker = plans.data.value.find((p: { name: string; offering: { name: string } }) => p.name === 'broker' && p.offering.name === 'xsuaa')
    const aiStandard = plans.data.value.find((p: { name: string; offering: { name: string } }) => p.name === 'standard' && p.offering.name === 'aicore')

    const inst = await readyInstance('upd-plan')
    const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { plan_ID: broker.ID })
    expect(res.status).toBe(200)
    const done = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, settled)
    expect([done.state_code, done.plan_ID]).toEqual(['Ready', broker.ID])
    expect(patches(inst.smId).map(c => c.body.service_plan_id)).toEqual([broker.smId])

    const ai = await readyInstance('upd-ai', PLANS.sub1.aicoreExtended, {})
    const refused = await admin.patch(`${API}/ServiceInstances(${ai.ID})`, { plan_ID: aiStandard.ID })
    expect([refused.status, refused.data.error?.code]).toEqual([422, 'PLAN_NOT_UPDATABLE'])
    expect(patches(ai.smId)).toEqual([])
  })

  test('SM refuses the update: the instance stays Ready and usable, the update operation failed with SM\'s message', async () => {
    const inst = await readyInstance('upd-refused')
    emu.addFault({ method: 'PATCH', path: `/v1/service_instances/${inst.smId}`, status: 400, body: { error: 'BadRequest', description: 'xsappname cannot change' } })
    const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: { xsappname: 'other-name' } })
    expect(res.status).toBe(200)
    const done = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, settled)
    expect(done.state_code).toBe('Ready')
    expect(done.lastError).toMatch(/xsappname cannot change/)
    const ops = await operationsOf(inst.ID)
    expect(ops.at(-1)).toMatchObject({ type: 'update', state_code: 'failed', error: expect.stringMatching(/xsappname cannot change/) })
    // still usable: a key can be created
    const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'after-refusal' })
    expect(key.status).toBe(201)
    expect((await waitFor(admin, `${API}/ServiceKeys(${key.data.ID})`, stateIs('Ready', 'Failed'))).state_code).toBe('Ready')
  })

  test('a delete asked for while an update runs in SM wins: the instance ends Deleted', async () => {
    const inst = await readyInstance('upd-then-delete')
    expect((await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: { xsappname: 'upd-then-delete', x: 1 } })).status).toBe(200)
    expect((await admin.delete(`${API}/ServiceInstances(${inst.ID})`)).status).toBe(204)
    const gone = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Deleted', 'Failed'))
    expect(gone.state_code).toBe('Deleted')
    expect(emu.instances(SUB1).find(i => i.id === inst.smId)).toBeUndefined()
  })
})
