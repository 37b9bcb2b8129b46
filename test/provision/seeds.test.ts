import cds from '@sap/cds'
import type { RecordedCall } from '../../emulator'
import { API, SUB1, SUB2, eventually, users, waitFor } from '../helpers'
import { useApp } from '../support/app'
import { makeCa, makeLeaf, type IssuedCert } from '../fixtures/pki'

/**
 * The five seed documents, each as one `provision` call against the emulator: what Service Manager received
 * (names, parameters), the flow's steps and the consumer view; dry runs (no SM call, the same plan as the run);
 * the lifecycle events with no secret in them.
 */

const { app, as, admin, emu } = useApp()
const provisioner = as('provisioner')

const T = {
  aiCore: '6a1e2d3c-0001-4a5b-8c7d-000000000001',
  intas: '6a1e2d3c-0001-4a5b-8c7d-000000000002',
  afc: '6a1e2d3c-0001-4a5b-8c7d-000000000003',
  calmLandscape: '6a1e2d3c-0001-4a5b-8c7d-000000000004',
  calmApi: '6a1e2d3c-0001-4a5b-8c7d-000000000005'
}

const events: { event: string; data: Record<string, unknown> }[] = []

beforeAll(async () => {
  const srv = await cds.connect.to('ProvisioningService')
  for (const event of ['InstanceReady', 'KeyReady', 'KeyRotated', 'KeyDeleted', 'ProvisioningFailed', 'RegistrationDangling', 'KeyVerificationFailed'])
    srv.on(event, msg => void events.push({ event, data: { ...(msg.data as Record<string, unknown>) } }))
})

const provision = (body: Record<string, unknown>, client = provisioner) => client.post(`${API}/provision`, { subaccount: SUB1, ...body })
const smPosts = (since: number, what: 'service_instances' | 'service_bindings') =>
  emu.calls.slice(since).filter((c: RecordedCall) => c.method === 'POST' && c.path === `/v1/${what}`)
const smChanges = (since: number) => emu.calls.slice(since).filter((c: RecordedCall) => c.method !== 'GET' && !c.path.startsWith('/oauth'))

/** Waits for the flow to end; answers it with its steps in order. */
async function finished(ID: string) {
  const flow = await waitFor(admin, `${API}/Provisionings(${ID})?$expand=steps($orderby=seq)`, f => f.status !== 'running', 30000)
  return { ...flow, view: flow.consumerView ? JSON.parse(flow.consumerView) : undefined, stepStates: flow.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`) }
}

const SECRET_WORDS = /clientsecret|"key"|-----BEGIN|password|private/i

describe('seed 004: Cloud ALM API, xsappname = the instance name, authorities = the scopes chosen', () => {
  test('dry run: the complete plan, no call to Service Manager; the run then sends exactly that plan', async () => {
    const body = { template: T.calmApi, instanceName: 'calm-api-tasks', keyName: 'calm-api-key', scopes: ['calm-api.tasks.read', 'calm-api.tasks.write'] }
    const before = emu.calls.length
    const dry = await provision({ ...body, dryRun: true })
    expect(dry.status).toBe(200)
    expect(emu.calls.length).toBe(before) // not even a GET
    expect(dry.data).toMatchObject({ ID: null, dryRun: true, status: 'planned', problems: [] })
    expect(dry.data.steps.map((s: { step: string; action: string }) => `${s.step}:${s.action}`)).toEqual(['preflight:check', 'instance:create', 'key:create', 'verify:token', 'register:none'])
    expect((await admin.get(`${API}/ServiceInstances?$filter=name eq 'calm-api-tasks'`)).data.value).toEqual([])

    const run = await provision(body)
    expect(run.status).toBe(200)
    expect(run.data).toMatchObject({ dryRun: false, status: 'running' })
    expect(run.data.steps).toEqual(dry.data.steps)
    const flow = await finished(run.data.ID)
    const plan = (steps: { step: string; action: string; target: string; parameters: string | null }[]) => steps.map(s => [s.step, s.action, s.target, s.parameters])
    expect(plan(flow.steps)).toEqual(plan(dry.data.steps))
    expect(flow).toMatchObject({ status: 'completed', state_code: 'Ready', instanceName: 'calm-api-tasks', keyName: 'calm-api-key' })
    expect(flow.stepStates).toEqual(['preflight:done', 'instance:done', 'key:done', 'verify:done', 'register:skipped'])

    const [inst] = smPosts(before, 'service_instances')
    expect(smPosts(before, 'service_instances')).toHaveLength(1)
    expect(inst.body.name).toBe('calm-api-tasks')
    expect(inst.body.parameters).toEqual({ 'xs-security': { xsappname: 'calm-api-tasks', authorities: ['calm-api.tasks.read', 'calm-api.tasks.write'] } })
    expect(inst.body.parameters).toEqual(JSON.parse(dry.data.steps[1].parameters))
    const [binding] = smPosts(before, 'service_bindings')
    expect(binding.body.name).toBe('calm-api-key')

    // the consumer view: the seed's endpoints.Api and uaa.url, the client ID, the secret only named
    const creds = emu.bindings().find(b => b.name === 'calm-api-key')!.credentials
    expect(flow.view.fields).toEqual({ 'endpoints.Api': creds.endpoints.Api, 'uaa.clientid': creds.uaa.clientid, 'uaa.url': creds.uaa.url })
    expect(flow.view).toMatchObject({ tokenUrl: `${creds.uaa.url}/oauth/token`, secrets: ['uaa.clientsecret'] })
    expect(flow.view.revealCredentials).toBe(`POST ${API}/ServiceKeys(${run.data.serviceKey})/revealCredentials`)
    expect(flow.consumerView).not.toContain(creds.uaa.clientsecret)
  })

  test('a rule that fails: the dry run names it with its code, the run answers it, nothing reaches Service Manager', async () => {
    const before = emu.calls.length
    const dry = await provision({ template: T.calmApi, instanceName: 'calm api', keyName: 'ABC_100_00', scopes: [], dryRun: true })
    expect(dry.status).toBe(200)
    expect(dry.data.status).toBe('rejected')
    expect(dry.data.problems.map((p: { code: string; target: string }) => `${p.code}@${p.target}`)).toEqual(
      expect.arrayContaining(['PROVISION_INPUT_INVALID@scopes', 'INSTANCE_NAME_INVALID@instanceName', 'KEY_NAME_RESERVED@keyName'])
    )
    expect(dry.data.problems[0].message).toMatch(/scopes/)
    const run = await provision({ template: T.calmApi, instanceName: 'calm-api-2', keyName: 'k', scopes: [] })
    expect([run.status, run.data.error?.code]).toEqual([400, 'PROVISION_INPUT_INVALID'])
    // subaccount 2 is not entitled to AI Core's extended plan
    const denied = await provision({ template: T.aiCore, subaccount: SUB2, instanceName: 'ai', dryRun: true, certificate: '7e57c0de-0000-4000-8000-00000000dead' })
    expect(denied.data.problems.map((p: { code: string }) => p.code)).toEqual(['PLAN_NOT_ENTITLED', 'CERT_UNKNOWN'])
    expect(smChanges(before)).toEqual([])
    expect((await as('viewer').post(`${API}/provision`, { template: T.intas, subaccount: SUB1, dryRun: true })).status).toBe(403)
  })

  test('the same call through cds.connect.to', async () => {
    const srv = await cds.connect.to('ProvisioningService')
    const user = new cds.User({ id: 'other-service', roles: ['Provisioner'], attr: {} })
    const dry = (await srv.tx({ user }, tx => tx.send('provision', { template: T.calmApi, subaccount: SUB1, instanceName: 'calm-x', keyName: 'k-x', scopes: ['calm-api.tasks.read'], dryRun: true }))) as {
      status: string
      steps: { parameters: string | null }[]
    }
    expect(dry.status).toBe('planned')
    // the subaccount by its GUID in BTP works as well
    const byGuid = (await srv.tx({ user }, tx => tx.send('provision', { template: T.intas, subaccount: '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61', instanceName: 'i', keyName: 'k', dryRun: true }))) as { problems: unknown[] }
    expect(byGuid.problems).toEqual([])
    expect(JSON.parse(dry.steps[1].parameters!)).toEqual({ 'xs-security': { xsappname: 'calm-x', authorities: ['calm-api.tasks.read'] } })
  })
})

describe('templates', () => {
  test('an input schema that is not a JSON Schema is refused when the template is saved', async () => {
    for (const inputSchema of ['not json', '{"type":5}']) {
      const res = await admin.post(`${API}/Templates`, { name: 'broken', offeringName: 'xsuaa', planName: 'application', inputSchema })
      expect([res.status, res.data.error?.code]).toEqual([400, 'TEMPLATE_SCHEMA_INVALID'])
    }
    const ok = await admin.post(`${API}/Templates`, { name: 'fine', offeringName: 'xsuaa', planName: 'application', inputSchema: '{"type":"object"}' })
    expect(ok.status).toBe(201)
  })
})

describe('who may provision where', () => {
  test('a user limited to other subaccounts neither provisions in this one nor sees its flows', async () => {
    const eu20 = { auth: users['provisioner-eu20'], validateStatus: () => true }
    const res = await app.axios.post(`${API}/provision`, { template: T.intas, subaccount: SUB1, instanceName: 'not-mine', keyName: 'k' }, eu20)
    expect([res.status, res.data.error?.code]).toEqual([400, 'SUBACCOUNT_UNKNOWN'])
    const mine = await provision({ template: T.intas, instanceName: 'scope-check', keyName: 'scope-key' })
    expect(mine.status).toBe(200)
    expect((await app.axios.get(`${API}/Provisionings(${mine.data.ID})`, eu20)).status).toBe(404)
    const steps = await app.axios.get(`${API}/ProvisioningSteps?$filter=provisioning_ID eq ${mine.data.ID}`, eu20)
    expect(steps.data.value).toEqual([])
    expect((await admin.get(`${API}/ProvisioningSteps?$filter=provisioning_ID eq ${mine.data.ID}`)).data.value).toHaveLength(5)
    await finished(mine.data.ID)
  })
})

describe('seed 001: Integration Assessment', () => {
  test('instance and key; consumer view: entities as base URL, clientid, token URL = url + /oauth/token', async () => {
    const before = emu.calls.length
    const run = await provision({ template: T.intas, instanceName: 'intas-api', keyName: 'intas-key' })
    expect(run.status).toBe(200)
    const flow = await finished(run.data.ID)
    expect(flow.status).toBe('completed')
    const [inst] = smPosts(before, 'service_instances')
    expect([inst.body.name, inst.body.parameters]).toEqual(['intas-api', undefined])
    const [binding] = smPosts(before, 'service_bindings')
    expect([binding.body.name, binding.body.parameters]).toEqual(['intas-key', undefined])
    const creds = emu.bindings().find(b => b.name === 'intas-key')!.credentials
    expect(flow.view.fields).toEqual({ entities: creds.entities, clientid: creds.clientid, url: creds.url })
    expect(flow.view).toMatchObject({ tokenUrl: `${creds.url}/oauth/token`, secrets: ['clientsecret'] })
    expect(flow.view.tokenUrl).toBe(`${emu.url}/oauth/token`)
  })
})

describe('seed 002: Advanced Financial Closing, one instance and key for every scenario', () => {
  test('the second scenario reuses instance and key: nothing more is created', async () => {
    const before = emu.calls.length
    const first = await provision({ template: T.afc, instanceName: 'afc-api', keyName: 'afc-key' })
    expect(first.status).toBe(200)
    expect((await finished(first.data.ID)).status).toBe('completed')
    const afterFirst = emu.calls.length
    expect(smPosts(before, 'service_instances').map(c => c.body.name)).toEqual(['afc-api'])
    expect(smPosts(before, 'service_bindings').map(c => c.body.name)).toEqual(['afc-key'])

    const dry = await provision({ template: T.afc, instanceName: 'afc-scenario-2', dryRun: true })
    expect(dry.data.steps.map((s: { step: string; action: string; target: string }) => `${s.step}:${s.action}:${s.target}`).slice(1, 3)).toEqual(['instance:reuse:afc-api', 'key:reuse:afc-key'])
    const second = await provision({ template: T.afc, instanceName: 'afc-scenario-2' })
    expect(second.data).toMatchObject({ instance: first.data.instance, serviceKey: first.data.serviceKey })
    const flow = await finished(second.data.ID)
    expect(flow.stepStates).toEqual(['preflight:done', 'instance:reused', 'key:reused', 'verify:done', 'register:skipped'])
    expect(smChanges(afterFirst)).toEqual([])
    expect(smPosts(before, 'service_instances').map(c => c.body.parameters)).toEqual([undefined])
    const creds = emu.bindings().find(b => b.name === 'afc-key')!.credentials
    expect(flow.view.fields).toEqual({ url: creds.url, 'uaa.clientid': creds.uaa.clientid, 'uaa.url': creds.uaa.url })
    expect(flow.view.secrets).toEqual(['uaa.clientsecret'])
  })
})

describe('seed 003: Cloud ALM landscape management, one key per tenant', () => {
  test('the key is registered with the tenant; another key for the same tenant in other case is refused', async () => {
    const before = emu.calls.length
    const run = await provision({ template: T.calmLandscape, instanceName: 'calm-lm', keyName: 'calm-lm-key', tenant: 'ACME-CALM-PROD' })
    expect(run.status).toBe(200)
    const flow = await finished(run.data.ID)
    expect(flow.stepStates).toEqual(['preflight:done', 'instance:done', 'key:done', 'verify:done', 'register:done'])
    expect(smPosts(before, 'service_instances').map(c => [c.body.name, c.body.parameters])).toEqual([['calm-lm', undefined]])
    expect(smPosts(before, 'service_bindings').map(c => [c.body.name, c.body.parameters])).toEqual([['calm-lm-key', undefined]])
    const creds = emu.bindings().find(b => b.name === 'calm-lm-key')!.credentials
    expect(flow.view.fields).toEqual({ 'endpoints.Api': creds.endpoints.Api, 'uaa.clientid': creds.uaa.clientid, 'uaa.url': creds.uaa.url })
    const reg = (await admin.get(`${API}/Registrations(${flow.registration_ID})`)).data
    expect(reg).toMatchObject({ serviceKey_ID: run.data.serviceKey, consumerType: 'cloud-alm-landscape', tenant: 'ACME-CALM-PROD', status: 'Active' })
    expect((await admin.get(`${API}/ServiceKeys(${run.data.serviceKey})`)).data.purpose).toBe('landscape')

    const dry = await provision({ template: T.calmLandscape, instanceName: 'calm-lm', keyName: 'calm-lm-key-2', tenant: 'acme-calm-prod', dryRun: true })
    expect(dry.data.problems.map((p: { code: string }) => p.code)).toEqual(['REGISTRATION_EXISTS'])
    const again = await provision({ template: T.calmLandscape, instanceName: 'calm-lm', keyName: 'calm-lm-key-2', tenant: 'acme-calm-prod' })
    expect([again.status, again.data.error?.code]).toEqual([409, 'REGISTRATION_EXISTS'])
    expect(again.data.error.message).toContain('calm-lm-key')
  })
})

describe('seed 000: AI Core with the ABAP system\'s client certificate', () => {
  let ca: IssuedCert
  let abap: IssuedCert
  beforeAll(async () => {
    ca = await makeCa({ cn: 'ACME ABAP Client CA' })
    abap = await makeLeaf(ca, { cn: 'ABC client 100', eku: ['clientAuth'], days: 180 })
  })

  test('the certificate is required; the key carries it with the seed\'s X.509 parameters and ends unverified until verified by hand', async () => {
    const missing = await provision({ template: T.aiCore, instanceName: 'aicore-islm', dryRun: true })
    expect(missing.data.problems.map((p: { code: string; target: string }) => `${p.code}@${p.target}`)).toEqual(['PROVISION_INPUT_INVALID@certificate'])
    const serverOnly = await admin.post(`${API}/Certificates`, { pem: (await makeLeaf(ca, { cn: 'server', eku: ['serverAuth'] })).certPem, name: 'server only' })
    const wrongUse = await provision({ template: T.aiCore, instanceName: 'aicore-islm', certificate: serverOnly.data.ID, dryRun: true })
    expect(wrongUse.data.problems.map((p: { code: string }) => p.code)).toEqual(['CERT_NOT_CLIENT_AUTH'])

    const cert = await admin.post(`${API}/Certificates`, { pem: abap.certPem, name: 'ABC client 100' })
    expect(cert.status).toBe(201)
    const before = emu.calls.length
    const run = await provision({ template: T.aiCore, instanceName: 'aicore-islm', certificate: cert.data.ID })
    expect(run.status).toBe(200)
    const flow = await finished(run.data.ID)
    expect(flow).toMatchObject({ status: 'unverified', state_code: 'Ready', keyName: 'SAP_COM_0A69_Skey' })
    expect(flow.stepStates).toEqual(['preflight:done', 'instance:done', 'key:done', 'verify:unverified', 'register:skipped'])
    const [binding] = smPosts(before, 'service_bindings')
    const stored = (await admin.get(`${API}/Certificates(${cert.data.ID})`)).data.pem
    expect(binding.body.name).toBe('SAP_COM_0A69_Skey')
    expect(binding.body.parameters).toEqual({
      xsuaa: { 'credential-type': 'x509', x509: { certificate: stored, 'ensure-uniqueness': false, 'certificate-pinning': true, 'hide-certificate': true } }
    })
    expect(smPosts(before, 'service_instances').map(c => c.body.name)).toEqual(['aicore-islm'])
    const creds = emu.bindings().find(b => b.name === 'SAP_COM_0A69_Skey')!.credentials
    expect(flow.view.fields).toEqual({ 'serviceurls.AI_API_URL': creds.serviceurls.AI_API_URL, clientid: creds.clientid, certurl: creds.certurl })
    expect(flow.view.tokenUrl).toBe(`${creds.certurl}/oauth/token`)
    const key = (await admin.get(`${API}/ServiceKeys(${run.data.serviceKey})`)).data
    expect(key.state_code).toBe('Ready')
    expect(key.verification_code).toBeNull()

    // Service Manager takes a certificate once per instance: a second key with it is refused before SM is asked
    const twice = await provision({ template: T.aiCore, instanceName: 'aicore-islm', keyName: 'islm-twice', certificate: cert.data.ID, dryRun: true })
    expect(twice.data.problems.map((p: { code: string }) => p.code)).toEqual(['CERT_ALREADY_BOUND'])

    // its registrations wait for the manual verify with the ABAP system's private key
    const reg = await admin.post(`${API}/Registrations`, { serviceKey_ID: key.ID, consumerType: 'islm', tenant: 'ABC-100' })
    expect([reg.status, reg.data.status]).toEqual([201, 'Pending'])
    const verified = await admin.post(`${API}/ServiceKeys(${key.ID})/verify`, { privateKey: abap.keyPem })
    expect([verified.status, verified.data.verification_code]).toEqual([200, 'ok'])
    expect((await admin.get(`${API}/Registrations(${reg.data.ID})`)).data.status).toBe('Active')
    expect((await admin.get(`${API}/Provisionings(${run.data.ID})`)).data.status).toBe('completed')
  })

  test('registrations waiting for the verify go with the key', async () => {
    const other = await admin.post(`${API}/Certificates`, { pem: (await makeLeaf(ca, { cn: 'ABC client 200', eku: ['clientAuth'], days: 90 })).certPem })
    const run = await provision({ template: T.aiCore, instanceName: 'aicore-islm', keyName: 'islm-key-2', certificate: other.data.ID })
    expect(run.data.steps[1].action).toBe('reuse')
    const flow = await finished(run.data.ID)
    expect([flow.status, flow.lastError]).toEqual(['unverified', null])
    const reg = await admin.post(`${API}/Registrations`, { serviceKey_ID: run.data.serviceKey, consumerType: 'islm', tenant: 'ABC-200' })
    expect(reg.data.status).toBe('Pending')
    await admin.delete(`${API}/ServiceKeys(${run.data.serviceKey})`)
    await waitFor(admin, `${API}/Registrations(${reg.data.ID})`, r => r.status === 'Removed')
  })

  test('the sample certificate of the README\'s curl (test/data) is accepted', async () => {
    const run = await provision({ template: T.aiCore, instanceName: 'aicore-sample', keyName: 'sample-cert-key', certificate: '5a3b1c00-0000-4c00-8000-00000000a100' })
    expect(run.status).toBe(200)
    expect((await finished(run.data.ID)).status).toBe('unverified')
  })
})

describe('events', () => {
  test('InstanceReady, KeyReady, KeyRotated, KeyDeleted, ProvisioningFailed reach a subscriber, with no secret', async () => {
    const named = (event: string, name: string) => events.filter(e => e.event === event && e.data.name === name)
    await waitUntil(() => named('InstanceReady', 'intas-api').length === 1 && named('KeyReady', 'intas-key').length === 1)
    const key = events.find(e => e.event === 'KeyReady' && e.data.name === 'intas-key')!
    expect(key.data).toMatchObject({ purpose: 'api', credentialType: 'binding-secret', subaccount: SUB1 })

    const rotated = await admin.post(`${API}/ServiceKeys(${key.data.serviceKey as string})/rotate`, {})
    expect(rotated.status).toBe(200)
    await waitUntil(() => events.some(e => e.event === 'KeyRotated' && e.data.serviceKey === rotated.data.ID))
    expect(events.find(e => e.event === 'KeyRotated')!.data).toMatchObject({ rotatedFrom: key.data.serviceKey, rotatedFromName: 'intas-key' })

    await admin.delete(`${API}/ServiceKeys(${rotated.data.ID})`)
    await waitUntil(() => events.some(e => e.event === 'KeyDeleted' && e.data.serviceKey === rotated.data.ID))

    // a key Service Manager refuses: the flow fails at its key step
    emu.addFault({ method: 'POST', path: '/v1/service_bindings', status: 400, times: 1 })
    const run = await provision({ template: T.intas, instanceName: 'intas-api', keyName: 'refused-key' })
    expect(run.status).toBe(200)
    const flow = await finished(run.data.ID)
    expect(flow.status).toBe('failed')
    expect(flow.stepStates).toEqual(['preflight:done', 'instance:reused', 'key:failed', 'verify:skipped', 'register:skipped'])
    await waitUntil(() => events.some(e => e.event === 'ProvisioningFailed' && e.data.provisioning === run.data.ID))
    expect(events.find(e => e.event === 'ProvisioningFailed')!.data).toMatchObject({ keyName: 'refused-key', instanceName: 'intas-api' })

    for (const e of events) expect(JSON.stringify(e.data)).not.toMatch(SECRET_WORDS)
    for (const b of emu.bindings()) {
      const secret = (b.credentials?.clientsecret ?? b.credentials?.uaa?.clientsecret) as string | undefined
      if (secret) expect(JSON.stringify(events)).not.toContain(secret)
    }
  })
})

const waitUntil = (check: () => boolean) =>
  eventually(() => (check() ? true : events.map(e => e.event)), { what: 'the events', until: v => v === true, timeout: 15000, interval: 50 })
