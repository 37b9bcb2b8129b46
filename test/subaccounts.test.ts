import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { as, admin, emu } = useApp()

const plansOf = async (sub: string) =>
  (await admin.get(`${API}/ServicePlans?$filter=subaccount_ID eq ${sub}&$expand=offering&$orderby=name`)).data.value as Record<string, any>[]

describe('subaccounts and their catalog', () => {
  test('syncCatalog reads offerings and entitled plans from Service Manager', async () => {
    const before = emu.calls.length
    const res = await admin.post(`${API}/Subaccounts(${SUB1})/syncCatalog`, {})
    expect(res.status).toBe(200)
    expect(res.data.health).toBe('ok')
    expect(Date.now() - Date.parse(res.data.catalogSyncedAt)).toBeLessThan(60000)
    const calls = emu.calls.slice(before).map(c => `${c.method} ${c.path}`)
    expect(calls).toEqual(expect.arrayContaining(['GET /v1/service_offerings', 'GET /v1/service_plans']))

    const plans = await plansOf(SUB1)
    const remote = emu.tenants[0].entitled
    const entitled = plans.filter(p => p.entitled).map(p => `${p.offering.name}:${p.name}`)
    expect(entitled.sort()).toEqual([...remote].sort())
    // the sample rows were matched by their SM IDs, not duplicated
    expect(plans.filter(p => p.ID === PLANS.sub1.xsuaaApplication)).toHaveLength(1)
    // the names people know the services by, from the catalog's metadata; the apps show them (title)
    const offerings = (await admin.get(`${API}/ServiceOfferings?$filter=${encodeURIComponent(`subaccount_ID eq ${SUB1}`)}&$select=name,displayName,title`)).data.value
    const ai = offerings.find((o: { name: string }) => o.name === 'aicore')
    expect(ai).toMatchObject({ displayName: 'SAP AI Core', title: 'SAP AI Core' })
    const plan = (await admin.get(`${API}/ServicePlans(${PLANS.sub1.aicoreExtended})?$select=offeringName,offeringTitle`)).data
    expect(plan).toMatchObject({ offeringName: 'aicore', offeringTitle: 'SAP AI Core' })
  })

  test('an offering without a display name is shown by its technical name', async () => {
    await UPDATE('btp.provisioning.ServiceOfferings').set({ displayName: null }).where({ name: 'xsuaa', subaccount_ID: SUB2 })
    const res = await admin.get(`${API}/ServiceOfferings?$filter=${encodeURIComponent(`subaccount_ID eq ${SUB2} and name eq 'xsuaa'`)}&$select=title`)
    expect(res.data.value).toEqual([expect.objectContaining({ title: 'xsuaa' })])
  })

  test('a plan that is not entitled stays known but not entitled', async () => {
    await admin.post(`${API}/Subaccounts(${SUB2})/syncCatalog`, {})
    const plans = await plansOf(SUB2)
    const aiCore = plans.find(p => p.ID === PLANS.sub2.aicoreExtendedNotEntitled)!
    expect(aiCore.entitled).toBe(false)
    expect(plans.filter(p => p.entitled)).toHaveLength(emu.tenants[1].entitled.length)
  })

  test('administrators register subaccounts; the GUID is checked', async () => {
    const bad = await admin.post(`${API}/Subaccounts`, { displayName: 'Broken', subaccountId: 'not-a-guid' })
    expect([bad.status, bad.data.error?.code]).toEqual([400, 'SUBACCOUNT_ID_INVALID'])
    const viewer = await as('viewer').post(`${API}/Subaccounts`, { displayName: 'X', subaccountId: '11111111-2222-4333-8444-555555555555' })
    expect(viewer.status).toBe(403)
    const ok = await admin.post(`${API}/Subaccounts`, { displayName: 'Sandbox', subaccountId: '11111111-2222-4333-8444-555555555555', region: 'eu10' })
    expect(ok.status).toBe(201)
    // no Service Manager access configured for it (the emulator knows two tenants only)
    const sync = await admin.post(`${API}/Subaccounts(${ok.data.ID})/syncCatalog`, {})
    expect([sync.status, sync.data.error?.code]).toEqual([422, 'SM_NOT_CONFIGURED'])
    expect((await admin.delete(`${API}/Subaccounts(${ok.data.ID})`)).status).toBe(204)
  })

  test('a subaccount with instances cannot be deleted', async () => {
    const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'keeps-it' })
    await waitFor(admin, `${API}/ServiceInstances(${inst.data.ID})`, stateIs('Ready'))
    const res = await admin.delete(`${API}/Subaccounts(${SUB2})`)
    expect([res.status, res.data.error?.code]).toEqual([409, 'SUBACCOUNT_IN_USE'])
  })
})
