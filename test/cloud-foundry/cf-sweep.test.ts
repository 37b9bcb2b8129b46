import cds from '@sap/cds'
import axios from 'axios'
import type { CfEmulator } from '../../emulator/cf'
import { embeddedCfEmulator } from '../../srv/cloud-foundry/kind-emulator'
import { API, PLANS, SUB1, stateIs, waitFor } from '../helpers'
import { useApp } from '../support/app'

const { admin, emu: sm } = useApp()

let cf: CfEmulator

beforeAll(async () => {
  cf = await embeddedCfEmulator<CfEmulator>()
})

/** Another tool working on the org with the technical user: the CF API directly. */
async function cfApi() {
  const user = cf.users[0]
  const token = await axios.post(`${cf.uaaUrl}/oauth/token`, new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password }), {
    auth: { username: 'cf', password: '' }
  })
  return axios.create({ baseURL: cf.url, headers: { Authorization: `bearer ${token.data.access_token}` }, validateStatus: () => true })
}

const sweep = async () => {
  const res = await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
  expect(res.status).toBe(200)
  return res.data
}
const settledRow = (r: { generation: number; observedGeneration: number }) => r.generation === r.observedGeneration

/**
 * Acts on a finding while the CF API refuses every call (503): the answer shows the request did not need CF, and
 * no call made while it ran was served (the reconciler's first look, if it came that early, is refused and retried).
 */
async function actWithoutCf(findingId: string, action: 'adopt' | 'remove') {
  const from = cf.calls.length
  cf.addFault({ path: /^\//, status: 503, times: 1_000_000 })
  try {
    return await admin.post(`${API}/Findings(${findingId})/${action}`, {})
  } finally {
    cf.clearFaults()
    expect(cf.calls.slice(from).filter(c => !c.fault)).toEqual([])
  }
}
const openFindings = async (filter: string) => (await admin.get(`${API}/Findings?$filter=status eq 'open' and ${filter}`)).data.value as Record<string, any>[]

async function provision(name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.integrationAssessment, environment: 'cloudfoundry', space: 'dev', name })
  expect(res.status).toBe(201)
  const inst = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
  expect(inst.state_code).toBe('Ready')
  return inst
}

describe('sweep of a subaccount with objects in its Cloud Foundry org', () => {
  test('instances and keys CF created are ours in the SM sweep; orphans and vanished records are found in CF', async () => {
    const inst = await provision('intas-swept')
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'intas-swept-key' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    // SM lists the instance with the CF platform and without our labels
    const inSm = sm.instances().find(i => i.id === inst.smId)
    expect(inSm).toMatchObject({ platform_id: 'cloudfoundry' })
    expect(inSm.labels?.skm_id).toBeUndefined()

    // an orphan in CF: our labels, a record we do not know
    const api = await cfApi()
    const space = cf.spaces().find(s => s.name === 'dev' && cf.orgs().find(o => o.guid === s.orgGuid)?.name === 'acme-integration')!
    const plan = cf.instances().find(i => i.guid === inst.smId)!.planGuid
    const lost = '00000000-0000-4000-8000-0000000cf0ff'
    const planted = await api.post('/v3/service_instances', {
      type: 'managed',
      name: 'intas-left-behind',
      relationships: { space: { data: { guid: space.guid } }, service_plan: { data: { guid: plan } } },
      metadata: { labels: { managed_by: 'service-key-manager', skm_id: lost } }
    })
    expect(planted.status).toBe(202)
    const orphanGuid = cf.instances().find(i => i.name === 'intas-left-behind')!.guid

    // a second instance of ours deleted behind our back, in CF
    const gone = await provision('intas-gone')
    expect((await api.delete(`/v3/service_instances/${gone.smId}`)).status).toBe(202)
    expect(cf.instances().find(i => i.guid === gone.smId)).toBeUndefined()

    const counts = await sweep()
    expect(await openFindings(`category eq 'unmanaged' and (smId eq '${inst.smId}' or smId eq '${key.smId}' or smId eq '${orphanGuid}')`)).toEqual([])
    expect(await openFindings(`smId eq '${inst.smId}'`)).toEqual([])
    const [orphan] = await openFindings(`category eq 'orphan' and smId eq '${orphanGuid}'`)
    expect(orphan).toMatchObject({ resourceType: 'instance', name: 'intas-left-behind' })
    expect(orphan.detail).toContain('Cloud Foundry')
    const vanished = await openFindings(`category eq 'vanished' and instance_ID eq ${gone.ID}`)
    expect(vanished.map(f => f.detail)).toEqual(['The instance no longer exists in Cloud Foundry'])
    expect(counts.orphan).toBeGreaterThanOrEqual(1)
    // the SM sweep saw what CF created: the planted orphan is in SM too, but reported once, from CF
    expect(sm.instances().some(i => i.id === orphanGuid)).toBe(true)
    expect(await openFindings(`smId eq '${orphanGuid}'`)).toHaveLength(1)
  })
  test('findings in Cloud Foundry: an orphan is adopted into a cloudfoundry record, a key and an instance made by hand are imported, another orphan removed in CF, all by the reconciler', async () => {
    const api = await cfApi()
    const space = cf.spaces().find(s => s.name === 'dev' && cf.orgs().find(o => o.guid === s.orgGuid)?.name === 'acme-integration')!
    const [plan] = (await api.get('/v3/service_plans', { params: { names: 'default', service_offering_names: 'integration-assessment' } })).data.resources
    const make = async (name: string, labels: Record<string, string>) => {
      const res = await api.post('/v3/service_instances', {
        type: 'managed',
        name,
        relationships: { space: { data: { guid: space.guid } }, service_plan: { data: { guid: plan.guid } } },
        metadata: { labels }
      })
      expect(res.status).toBe(202)
      return cf.instances().find(i => i.name === name)!.guid
    }
    const ours = { managed_by: 'service-key-manager', skm_id: '00000000-0000-4000-8000-0000000cf0aa' }
    const adoptable = await make('intas-adopt-me', ours)
    const byHand = await make('intas-by-hand', {})
    const removable = await make('intas-remove-me', { ...ours, skm_id: '00000000-0000-4000-8000-0000000cf0bb' })
    await sweep()

    // an orphan: the finding knows it is in CF and in which space; adopted into a record in that space, without a new object
    const [orphan] = await openFindings(`category eq 'orphan' and smId eq '${adoptable}'`)
    expect(orphan).toMatchObject({ environment: 'cloudfoundry', space: 'dev' })
    const adopted = await actWithoutCf(orphan.ID, 'adopt')
    expect([adopted.status, adopted.data.status]).toEqual([200, 'adopted'])
    const record = await waitFor(admin, `${API}/ServiceInstances(${adopted.data.instance_ID})`, settledRow)
    expect(record).toMatchObject({ environment: 'cloudfoundry', space: 'dev', smId: adoptable, state_code: 'Ready', name: 'intas-adopt-me', plan_ID: PLANS.sub1.integrationAssessment })
    // the reconciler labelled it in CF as the record's (the unknown record ID it carried replaced)
    expect(cf.instances().find(i => i.guid === adoptable)!.labels).toEqual({ managed_by: 'service-key-manager', skm_id: record.ID })

    // a key made by hand in CF for the adopted instance: found unmanaged, imported with its credential metadata
    const handKey = await api.post('/v3/service_credential_bindings', { type: 'key', name: 'hand-key', relationships: { service_instance: { data: { guid: adoptable } } } })
    expect(handKey.status).toBe(202)
    const keyGuid = cf.bindings().find(b => b.name === 'hand-key')!.guid
    await sweep()
    const [keyFinding] = await openFindings(`category eq 'unmanaged' and smId eq '${keyGuid}'`)
    expect(keyFinding).toMatchObject({ resourceType: 'binding', name: 'hand-key', environment: 'cloudfoundry', space: 'dev' })
    const keyAdopted = await actWithoutCf(keyFinding.ID, 'adopt')
    expect([keyAdopted.status, keyAdopted.data.status]).toEqual([200, 'adopted'])
    const keyRecord = await waitFor(admin, `${API}/ServiceKeys(${keyAdopted.data.serviceKey_ID})`, settledRow)
    expect(keyRecord).toMatchObject({ instance_ID: record.ID, subaccount_ID: SUB1, smId: keyGuid, state_code: 'Ready', clientId: cf.bindings().find(b => b.guid === keyGuid)!.credentials!.clientid })
    expect(cf.bindings().find(b => b.guid === keyGuid)!.labels).toEqual({ managed_by: 'service-key-manager', skm_id: keyAdopted.data.serviceKey_ID })

    // made by hand in CF: Service Manager lists it with its CF context (unmanaged); the finding says CF and its space
    const [unmanaged] = await openFindings(`category eq 'unmanaged' and smId eq '${byHand}'`)
    expect(unmanaged).toMatchObject({ environment: 'cloudfoundry', space: 'dev' })
    const imported = await actWithoutCf(unmanaged.ID, 'adopt')
    expect([imported.status, imported.data.status]).toEqual([200, 'adopted'])
    const importedRecord = await waitFor(admin, `${API}/ServiceInstances(${imported.data.instance_ID})`, settledRow)
    expect(importedRecord).toMatchObject({ environment: 'cloudfoundry', space: 'dev', smId: byHand, state_code: 'Ready' })
    expect(cf.instances().find(i => i.guid === byHand)!.labels).toEqual({ managed_by: 'service-key-manager', skm_id: imported.data.instance_ID })
    expect(cf.calls.filter(c => c.method === 'POST' && c.path === '/v3/service_instances' && c.body?.name === 'intas-by-hand')).toHaveLength(1)

    // another orphan: a record of its removal, which the reconciler deletes through the CF API (gone from SM with it)
    const [other] = await openFindings(`category eq 'orphan' and smId eq '${removable}'`)
    const removed = await actWithoutCf(other.ID, 'remove')
    expect([removed.status, removed.data.status]).toEqual([200, 'removed'])
    const gone = await waitFor(admin, `${API}/ServiceInstances(${removed.data.instance_ID})`, stateIs('Deleted', 'Failed'))
    expect(gone).toMatchObject({ state_code: 'Deleted', desired: 'absent', environment: 'cloudfoundry', space: 'dev', smId: removable })
    expect(cf.calls.some(c => c.method === 'DELETE' && c.path === `/v3/service_instances/${removable}` && !c.fault)).toBe(true)
    expect(cf.instances().find(i => i.guid === removable)).toBeUndefined()
    expect(sm.instances().find(i => i.id === removable)).toBeUndefined()

    // the next sweep has nothing to say about them
    await sweep()
    expect(await openFindings(`(smId eq '${adoptable}' or smId eq '${byHand}' or smId eq '${removable}' or smId eq '${keyGuid}')`)).toEqual([])
  })

  test('a cloudfoundry record stuck in a transitional state is found with its space; adopt hands it back to the reconciler', async () => {
    const inst = await provision('intas-stuck')
    await UPDATE(cds.entities('btp.provisioning').ServiceInstances, inst.ID).with({ state_code: 'Creating' }) // its create op already succeeded
    await sweep()
    const [finding] = await openFindings(`category eq 'stuck' and instance_ID eq ${inst.ID}`)
    expect(finding).toMatchObject({ environment: 'cloudfoundry', space: 'dev' })
    const resolved = await actWithoutCf(finding.ID, 'adopt')
    expect([resolved.status, resolved.data.status]).toEqual([200, 'resolved'])
    expect((await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Ready', 'Failed'))).state_code).toBe('Ready')
  })

  test('a key in CF whose instance is not ours is not removed on its own: its instance is adopted first', async () => {
    const api = await cfApi()
    const space = cf.spaces().find(s => s.name === 'dev' && cf.orgs().find(o => o.guid === s.orgGuid)?.name === 'acme-integration')!
    const [plan] = (await api.get('/v3/service_plans', { params: { names: 'default', service_offering_names: 'integration-assessment' } })).data.resources
    const inst = await api.post('/v3/service_instances', { type: 'managed', name: 'intas-foreign', relationships: { space: { data: { guid: space.guid } }, service_plan: { data: { guid: plan.guid } } } })
    expect(inst.status).toBe(202)
    const instGuid = cf.instances().find(i => i.name === 'intas-foreign')!.guid
    expect((await api.post('/v3/service_credential_bindings', { type: 'key', name: 'foreign-key', relationships: { service_instance: { data: { guid: instGuid } } } })).status).toBe(202)
    const keyGuid = cf.bindings().find(b => b.name === 'foreign-key')!.guid
    await sweep()
    const [finding] = await openFindings(`category eq 'unmanaged' and smId eq '${keyGuid}'`)
    expect(finding).toMatchObject({ environment: 'cloudfoundry', space: 'dev', instanceSmId: instGuid })
    // a finding recorded before findings said where their object lives: the next sweep sets it
    await UPDATE(cds.entities('btp.provisioning').Findings, finding.ID).with({ environment: 'other', space: null })
    await sweep()
    expect((await admin.get(`${API}/Findings(${finding.ID})`)).data).toMatchObject({ status: 'open', environment: 'cloudfoundry', space: 'dev' })
    const res = await actWithoutCf(finding.ID, 'remove')
    expect([res.status, res.data.error?.code]).toEqual([422, 'FINDING_INSTANCE_NOT_ADOPTED'])
    expect((await admin.get(`${API}/Findings(${finding.ID})`)).data.status).toBe('open')
    expect(cf.bindings().some(b => b.guid === keyGuid)).toBe(true)
  })
})
