import { API, PLANS, SUB1, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { as, admin, emu } = useApp()
const settledRow = (r: { generation: number; observedGeneration: number }) => r.generation === r.observedGeneration

const XSUAA_APPLICATION = 'e246c73a-869c-50d8-b1a0-3d4befa29b22'
const CLOUD_ALM_STANDARD = '60012dfb-0f3c-5ce6-a833-30965153fb24'

const sweep = async () => {
  const res = await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
  expect(res.status).toBe(200)
  return res.data
}
const openFindings = async (filter: string) =>
  (await admin.get(`${API}/Findings?$filter=status eq 'open' and ${filter}`)).data.value as Record<string, any>[]

async function provision(name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
}

describe('orphan and drift sweep', () => {
  test('a planted orphan (our labels, unknown record) is found, and can be deleted from SM', async () => {
    const tenant = emu.tenants[0].subaccountId
    const orphan = emu.plant('instance', {
      name: 'left-behind',
      service_plan_id: XSUAA_APPLICATION,
      subaccountId: tenant,
      labels: { managed_by: ['service-key-manager'], skm_id: ['00000000-0000-4000-8000-00000000dead'] }
    })
    const counts = await sweep()
    expect(counts.orphan).toBe(1)
    const [finding] = await openFindings(`category eq 'orphan' and smId eq '${orphan.id}'`)
    expect(finding).toMatchObject({ resourceType: 'instance', name: 'left-behind', subaccount_ID: SUB1 })
    // a second sweep reports it again in the counts but records no duplicate finding
    await sweep()
    expect(await openFindings(`smId eq '${orphan.id}'`)).toHaveLength(1)

    expect((await as('provisioner').post(`${API}/Findings(${finding.ID})/remove`, {})).status).toBe(403)
    const removed = await admin.post(`${API}/Findings(${finding.ID})/remove`, {})
    expect(removed.status).toBe(200)
    expect(removed.data.status).toBe('removed')
    // the delete is the reconciler's: a record of the removal, followed to Deleted
    const record = await waitFor(admin, `${API}/ServiceInstances(${removed.data.instance_ID})`, stateIs('Deleted', 'Failed'))
    expect([record.state_code, record.smId, record.desired]).toEqual(['Deleted', orphan.id, 'absent'])
    expect(emu.instances().find(i => i.id === orphan.id)).toBeUndefined()
    expect((await sweep()).orphan).toBe(0)
  })

  test('an object still in SM whose record says Deleted is an orphan; adopt brings the record back', async () => {
    const inst = await provision('revived')
    await UPDATE('btp.provisioning.ServiceInstances', inst.ID).with({ state_code: 'Deleted' })
    await sweep()
    const [finding] = await openFindings(`category eq 'orphan' and smId eq '${inst.smId}'`)
    expect(finding.instance_ID).toBe(inst.ID)
    const adopted = await admin.post(`${API}/Findings(${finding.ID})/adopt`, {})
    expect(adopted.data.status).toBe('adopted')
    // the reconciler reads it from SM (its adopt step) and brings the record back
    expect((await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, settledRow)).state_code).toBe('Ready')
    expect(emu.instances().filter(i => i.name === 'revived')).toHaveLength(1)
  })

  test('a vanished object is found; remove closes its record as Deleted', async () => {
    const inst = await provision('vanishing')
    emu.remove('instance', inst.smId)
    await sweep()
    const [finding] = await openFindings(`category eq 'vanished' and instance_ID eq ${inst.ID}`)
    expect(finding).toMatchObject({ resourceType: 'instance', smId: inst.smId })
    await admin.post(`${API}/Findings(${finding.ID})/remove`, {})
    expect((await admin.get(`${API}/ServiceInstances(${inst.ID})`)).data.state_code).toBe('Deleted')
  })

  test('a record stuck in a transitional state is found; adopt reads its object again', async () => {
    const inst = await provision('stuck-one')
    await UPDATE('btp.provisioning.ServiceInstances', inst.ID).with({ state_code: 'Creating' }) // its create op already succeeded
    await sweep()
    const [finding] = await openFindings(`category eq 'stuck' and instance_ID eq ${inst.ID}`)
    expect(finding.detail).toMatch(/^Creating since/)
    const resolved = await admin.post(`${API}/Findings(${finding.ID})/adopt`, {})
    expect(resolved.data.status).toBe('resolved')
    expect((await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Ready', 'Failed'))).state_code).toBe('Ready')
  })

  test('import: instances and keys we did not create (Cloud ALM\'s automatic key) are adopted without recreating them', async () => {
    const tenant = emu.tenants[0].subaccountId
    const calm = emu.plant('instance', { name: 'cloud-alm-api', service_plan_id: CLOUD_ALM_STANDARD, subaccountId: tenant })
    const autoKey = emu.plant('binding', { name: 'ABC_100_00', service_instance_id: calm.id, subaccountId: tenant })
    const postsBefore = emu.calls.filter(c => c.method === 'POST' && c.path.startsWith('/v1/service_')).length
    const counts = await sweep()
    expect(counts.unmanaged).toBeGreaterThanOrEqual(2)
    const [instFinding] = await openFindings(`category eq 'unmanaged' and smId eq '${calm.id}'`)
    const [keyFinding] = await openFindings(`category eq 'unmanaged' and smId eq '${autoKey.id}'`)
    expect(keyFinding).toMatchObject({ resourceType: 'binding', name: 'ABC_100_00', instanceSmId: calm.id })

    // the key first: its instance is not ours yet
    const early = await admin.post(`${API}/Findings(${keyFinding.ID})/adopt`, {})
    expect([early.status, early.data.error?.code]).toEqual([422, 'FINDING_INSTANCE_NOT_ADOPTED'])

    const i = await admin.post(`${API}/Findings(${instFinding.ID})/adopt`, {})
    expect(i.data.status).toBe('adopted')
    const k = await admin.post(`${API}/Findings(${keyFinding.ID})/adopt`, {})
    expect(k.data.status).toBe('adopted')

    await waitFor(admin, `${API}/ServiceInstances(${i.data.instance_ID})`, settledRow)
    await waitFor(admin, `${API}/ServiceKeys(${k.data.serviceKey_ID})`, settledRow)
    const inst = (await admin.get(`${API}/ServiceInstances(${i.data.instance_ID})?$expand=keys`)).data
    expect(inst).toMatchObject({ name: 'cloud-alm-api', smId: calm.id, state_code: 'Ready', subaccount_ID: SUB1 })
    expect(inst.keys).toHaveLength(1)
    expect(inst.keys[0]).toMatchObject({ name: 'ABC_100_00', smId: autoKey.id, state_code: 'Ready' })
    expect(inst.keys[0].clientId).toBe(emu.bindings().find(b => b.id === autoKey.id).credentials.uaa.clientid)
    // labelled as ours in SM, nothing recreated
    expect(emu.instances().find(o => o.id === calm.id).labels.skm_id).toEqual([inst.ID])
    expect(emu.bindings().find(o => o.id === autoKey.id).labels.skm_id).toEqual([inst.keys[0].ID])
    expect(emu.calls.filter(c => c.method === 'POST' && c.path.startsWith('/v1/service_')).length).toBe(postsBefore)
    // and the next sweep has nothing to say about them
    await sweep()
    expect(await openFindings(`(smId eq '${calm.id}' or smId eq '${autoKey.id}')`)).toEqual([])
  })

  test('ignored findings are not reported again', async () => {
    const tenant = emu.tenants[0].subaccountId
    const other = emu.plant('instance', { name: 'someone-elses-app', service_plan_id: XSUAA_APPLICATION, subaccountId: tenant })
    await sweep()
    const [finding] = await openFindings(`smId eq '${other.id}'`)
    expect((await admin.post(`${API}/Findings(${finding.ID})/ignore`, {})).data.status).toBe('ignored')
    await sweep()
    expect(await openFindings(`smId eq '${other.id}'`)).toEqual([])
  })

  test('removing a key found in SM whose instance is not ours: the reconciler deletes it through the subaccount', async () => {
    const tenant = emu.tenants[0].subaccountId
    const foreign = emu.plant('instance', { name: 'foreign-inst', service_plan_id: XSUAA_APPLICATION, subaccountId: tenant })
    const stray = emu.plant('binding', { name: 'stray-key', service_instance_id: foreign.id, subaccountId: tenant })
    await sweep()
    const [finding] = await openFindings(`category eq 'unmanaged' and smId eq '${stray.id}'`)
    const removed = await admin.post(`${API}/Findings(${finding.ID})/remove`, {})
    expect([removed.status, removed.data.status]).toEqual([200, 'removed'])
    const record = await waitFor(admin, `${API}/ServiceKeys(${removed.data.serviceKey_ID})`, stateIs('Deleted', 'Failed'))
    expect([record.state_code, record.instance_ID, record.subaccount_ID]).toEqual(['Deleted', null, SUB1])
    expect(emu.bindings().some(b => b.id === stray.id)).toBe(false)
    // its instance stays: it was not asked for
    expect(emu.instances().some(i => i.id === foreign.id)).toBe(true)
  })
})
