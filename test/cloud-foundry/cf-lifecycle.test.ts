import cds from '@sap/cds'
import { X509Certificate } from 'node:crypto'
import axios from 'axios'
import type { CfEmulator } from '../../emulator/cf'
import { embeddedCfEmulator } from '../../srv/cloud-foundry/kind-emulator'
import { API, PLANS, SUB1, SUB2, eventually, stateIs, waitFor } from '../helpers'
import { useApp } from '../support/app'

const { as, admin, emu: sm } = useApp()

let cf: CfEmulator

beforeAll(async () => {
  cf = await embeddedCfEmulator<CfEmulator>()
})
afterEach(() => cf.clearFaults())

const text = (code: string, args: unknown[]) => cds.i18n.messages.at(code, args.map(String))!
const cfPosts = (resource: string, name: string) => cf.calls.filter(c => c.method === 'POST' && c.path === `/v3/${resource}` && c.body?.name === name)
const smPosts = (name: string) => sm.calls.filter(c => c.method === 'POST' && c.path.startsWith('/v1/service_') && c.body?.name === name)

async function create(body: Record<string, unknown>) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.integrationAssessment, environment: 'cloudfoundry', ...body })
  expect(res.status).toBe(201)
  return res.data
}
const settled = (ID: string) => waitFor(admin, `${API}/ServiceInstances(${ID})`, stateIs('Ready', 'Failed'))

describe('instances and keys in a Cloud Foundry space, through OData and the CF v3 API', () => {
  test('instance and key in a space: Ready, what CF received, refresh from CF, then Deleted (keys first)', async () => {
    const parameters = { 'xs-security': { xsappname: 'intas-cf', authorities: ['$XSAPPNAME.read'] } }
    const created = await create({ name: 'intas-cf', space: 'dev', parameters: JSON.stringify(parameters) })
    const inst = await settled(created.ID)
    expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])

    // what Cloud Foundry received: a managed instance in space dev with the plan by offering and plan name, our labels
    const [post] = cfPosts('service_instances', 'intas-cf')
    const dev = cf.spaces().find(s => s.name === 'dev' && cf.orgs().find(o => o.guid === s.orgGuid)?.name === 'acme-integration')!
    expect(post.body).toMatchObject({
      type: 'managed',
      relationships: { space: { data: { guid: dev.guid } } },
      parameters,
      metadata: { labels: { managed_by: 'service-key-manager', skm_id: created.ID } }
    })
    const remote = cf.instances().find(i => i.guid === inst.smId)!
    expect([remote.space, remote.offering, remote.plan]).toEqual(['dev', 'integration-assessment', 'default'])
    expect(post.body.relationships.service_plan.data.guid).toBe(remote.planGuid)
    // nothing went to Service Manager's API; SM lists the instance as created by the CF platform
    expect(smPosts('intas-cf')).toHaveLength(0)
    expect(sm.instances().find(i => i.id === inst.smId)?.platform_id).toBe('cloudfoundry')

    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: created.ID, name: 'intas-cf-key' })
    expect(k.status).toBe(201)
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect([key.state_code, key.lastError]).toEqual(['Ready', null])
    const [keyPost] = cfPosts('service_credential_bindings', 'intas-cf-key')
    expect(keyPost.body).toMatchObject({ type: 'key', relationships: { service_instance: { data: { guid: inst.smId } } }, metadata: { labels: { skm_id: k.data.ID } } })
    // the key's credentials were read from /details: metadata shown, the token fetched with them
    expect(cf.calls.some(c => c.path === `/v3/service_credential_bindings/${key.smId}/details`)).toBe(true)
    const binding = cf.bindings().find(b => b.guid === key.smId)!
    expect(key.clientId).toBe(binding.credentials!.clientid)
    expect(key.verification_code).toBe('ok')

    // refresh reads instance and key from CF
    const before = cf.calls.length
    expect((await admin.post(`${API}/ServiceInstances(${created.ID})/refresh`, {})).status).toBe(200)
    expect((await admin.post(`${API}/ServiceKeys(${k.data.ID})/refresh`, {})).status).toBe(200)
    // (at once, or by the reconciler right after)
    const reads = [`GET /v3/service_instances/${inst.smId}`, `GET /v3/service_credential_bindings/${key.smId}`, `GET /v3/service_credential_bindings/${key.smId}/details`]
    const seen = () => cf.calls.slice(before).map(c => `${c.method} ${c.path}`)
    await eventually(seen, { what: 'the reads of the instance and the key', until: s => reads.every(r => s.includes(r)), timeout: 10_000 })
    expect(seen()).toEqual(expect.arrayContaining(reads))

    expect((await admin.delete(`${API}/ServiceInstances(${created.ID})`)).status).toBe(204)
    const gone = await waitFor(admin, `${API}/ServiceInstances(${created.ID})`, stateIs('Deleted', 'Failed'))
    expect(gone.state_code).toBe('Deleted')
    expect((await admin.get(`${API}/ServiceKeys(${k.data.ID})`)).data.state_code).toBe('Deleted')
    const deletes = cf.calls.filter(c => c.method === 'DELETE').map(c => c.path)
    expect(deletes.indexOf(`/v3/service_credential_bindings/${key.smId}`)).toBeLessThan(deletes.indexOf(`/v3/service_instances/${inst.smId}`))
    expect(cf.instances().find(i => i.guid === inst.smId)).toBeUndefined()
    expect(sm.instances().find(i => i.id === inst.smId)).toBeUndefined()
  })

  test('kubernetes is refused with 400 ENVIRONMENT_UNSUPPORTED; an unknown environment keeps ENVIRONMENT_INVALID', async () => {
    const k8s = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.integrationAssessment, environment: 'kubernetes', name: 'intas-k8s' })
    expect([k8s.status, k8s.data.error?.code]).toEqual([400, 'ENVIRONMENT_UNSUPPORTED'])
    const other = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.integrationAssessment, environment: 'kyma', name: 'intas-kyma' })
    expect([other.status, other.data.error?.code]).toEqual([400, 'ENVIRONMENT_INVALID'])
  })

  test('no space given: the org\'s only space is used and shown', async () => {
    const created = await create({ name: 'intas-default-space' })
    const inst = await settled(created.ID)
    expect([inst.state_code, inst.space]).toEqual(['Ready', 'dev'])
  })

  test('no space given and the org has several: Failed with SPACE_REQUIRED listing them, nothing created', async () => {
    const created = await create({ subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'calm-no-space', parameters: JSON.stringify({ xsappname: 'calm-no-space' }) })
    const inst = await settled(created.ID)
    expect(inst.state_code).toBe('Failed')
    expect(inst.lastError).toBe(text('SPACE_REQUIRED', ['calm-no-space', 'acme-calm', 2, 'dev, prod']))
    expect(cfPosts('service_instances', 'calm-no-space')).toHaveLength(0)
  })

  test('a space that does not exist: Failed with CF_SPACE_NOT_FOUND, nothing created; its delete ends at once', async () => {
    const created = await create({ name: 'intas-no-such-space', space: 'qa' })
    const inst = await settled(created.ID)
    expect([inst.state_code, inst.lastError]).toEqual(['Failed', text('CF_SPACE_NOT_FOUND', ['qa', 'acme-integration'])])
    expect(cfPosts('service_instances', 'intas-no-such-space')).toHaveLength(0)
    const op = (await admin.get(`${API}/Operations?$filter=instance_ID eq ${created.ID}`)).data.value[0]
    expect([op.state_code, op.error]).toEqual(['failed', inst.lastError])
    // nothing to remove in CF: the delete ends at once
    expect((await admin.delete(`${API}/ServiceInstances(${created.ID})`)).status).toBe(204)
    expect((await waitFor(admin, `${API}/ServiceInstances(${created.ID})`, stateIs('Deleted', 'Failed'))).state_code).toBe('Deleted')
  })

  test('the technical user is not Space Developer: Failed with CF_SPACE_ROLE_MISSING; a 403 on the POST says the same', async () => {
    cf.addSpace('acme-integration', { name: 'audit', roles: { space_auditor: [cf.users[0].username] } })
    const created = await create({ name: 'intas-audit-space', space: 'audit' })
    const inst = await settled(created.ID)
    expect([inst.state_code, inst.lastError]).toEqual(['Failed', text('CF_SPACE_ROLE_MISSING', [cf.users[0].username, 'audit'])])
    expect(cfPosts('service_instances', 'intas-audit-space')).toHaveLength(0)

    // the role taken away between the check and the POST: CF answers 403
    cf.addFault({ method: 'POST', path: '/v3/service_instances', status: 403 })
    const denied = await create({ name: 'intas-forbidden', space: 'dev' })
    const failed = await settled(denied.ID)
    expect([failed.state_code, failed.lastError]).toEqual(['Failed', text('CF_SPACE_ROLE_MISSING', [cf.users[0].username, 'dev'])])
    expect(cfPosts('service_instances', 'intas-forbidden').map(c => c.status)).toEqual([403])
  })

  test('an org the technical user cannot see (Subaccounts.cfOrg): Failed with CF_ORG_NOT_FOUND', async () => {
    expect((await admin.patch(`${API}/Subaccounts(${SUB2})`, { cfOrg: 'acme-elsewhere' })).status).toBe(200)
    try {
      const created = await create({ subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'calm-other-org', space: 'dev', parameters: JSON.stringify({ xsappname: 'calm-other-org' }) })
      const inst = await settled(created.ID)
      expect([inst.state_code, inst.lastError]).toEqual(['Failed', text('CF_ORG_NOT_FOUND', ['acme-elsewhere', 'ACME Cloud ALM (eu20)'])])
    } finally {
      await admin.patch(`${API}/Subaccounts(${SUB2})`, { cfOrg: 'acme-calm' })
    }
  })

  test('a job that fails: the instance is Failed with CF\'s error', async () => {
    cf.addFault({ method: 'POST', path: '/v3/service_instances', failJob: 'the broker refused the parameters', jobMs: 300 })
    const created = await create({ name: 'intas-job-fails', space: 'dev' })
    const inst = await settled(created.ID)
    expect(inst.state_code).toBe('Failed')
    expect(inst.lastError).toContain('the broker refused the parameters')
    expect(cf.jobs().some(j => j.state === 'FAILED' && j.resource.guid === inst.smId)).toBe(true)
  })

  test('the answer to a POST is lost: the instance, and then a key, are found by their labels and adopted, not created twice', async () => {
    cf.addFault({ method: 'POST', path: '/v3/service_instances', dropResponse: true })
    const created = await create({ name: 'intas-lost-answer', space: 'dev' })
    const inst = await settled(created.ID)
    expect(inst.state_code).toBe('Ready')
    expect(cfPosts('service_instances', 'intas-lost-answer')).toHaveLength(1)
    expect(cf.instances().filter(i => i.labels.skm_id === created.ID).map(i => i.guid)).toEqual([inst.smId])
    expect(cf.calls.some(c => c.path === '/v3/service_instances' && c.method === 'GET' && c.query.label_selector?.includes(`skm_id=${created.ID}`))).toBe(true)

    // the same for a key
    cf.addFault({ method: 'POST', path: '/v3/service_credential_bindings', dropResponse: true })
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: created.ID, name: 'intas-lost-key' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect([key.state_code, key.lastError]).toEqual(['Ready', null])
    expect(cfPosts('service_credential_bindings', 'intas-lost-key')).toHaveLength(1)
    expect(cf.bindings().filter(b => b.labels.skm_id === k.data.ID).map(b => b.guid)).toEqual([key.smId])
  })

  test('429 with CF\'s rate-limit headers is honoured: the POST is repeated only after X-RateLimit-Reset', async () => {
    cf.addFault({ method: 'POST', path: '/v3/service_instances', status: 429, resetInMs: 2000 })
    const created = await create({ name: 'intas-rate-limited', space: 'dev' })
    const inst = await settled(created.ID)
    expect(inst.state_code).toBe('Ready')
    const posts = cfPosts('service_instances', 'intas-rate-limited')
    expect(posts.map(c => c.status)).toEqual([429, 202])
    // X-RateLimit-Reset is in whole seconds: the repeat comes after the reset second began
    const reset = Math.ceil((posts[0].at + 2000) / 1000) * 1000
    expect(posts[1].at).toBeGreaterThanOrEqual(reset - 1000)
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(1000)
  })

  test('seed 004: Cloud ALM API in a Cloud Foundry space with xs-security scopes, a key with the API URL', async () => {
    const parameters = { 'xs-security': { xsappname: 'calm-api-cf', authorities: ['$XSAPPNAME.calm-api.read'] } }
    const res = await admin.post(`${API}/ServiceInstances`, {
      subaccount_ID: SUB1,
      plan_ID: PLANS.sub1.cloudAlmApi,
      environment: 'cloudfoundry',
      space: 'dev',
      name: 'calm-api-cf',
      parameters: JSON.stringify(parameters)
    })
    expect(res.status).toBe(201)
    const inst = await settled(res.data.ID)
    expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])
    const [post] = cfPosts('service_instances', 'calm-api-cf')
    expect(post.body.parameters).toEqual(parameters)
    expect(cf.instances().find(i => i.guid === inst.smId)).toMatchObject({ offering: 'cloudalm-api', plan: 'standard', space: 'dev' })

    // a key named like the automatic keys is refused before anything reaches CF
    const reserved = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'ABC_100_00' })
    expect([reserved.status, reserved.data.error?.code]).toEqual([400, 'KEY_NAME_RESERVED'])
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'calm-landscape' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    const creds = cf.bindings().find(b => b.guid === key.smId)!.credentials as { endpoints?: { Api?: string }; uaa?: { clientid?: string; clientsecret?: string; url?: string } }
    expect(key.apiUrl).toBe(creds.endpoints?.Api)
    expect(key.clientId).toBe(creds.uaa?.clientid)
    expect(cfPosts('service_credential_bindings', 'ABC_100_00')).toHaveLength(0)

    // View: the service key's JSON, read live through the CF API (details), not from Service Manager
    const reader = as('reader')
    const cfBefore = cf.calls.length
    const smBefore = sm.calls.length
    const shown = await reader.post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})
    expect(shown.status).toBe(200)
    const revealed = JSON.parse(shown.data.value)
    expect(revealed).toEqual(creds)
    expect([revealed.endpoints.Api, revealed.uaa.clientid, revealed.uaa.clientsecret, revealed.uaa.url].every(v => typeof v === 'string' && v.length > 0)).toBe(true)
    const file = await reader.get(`${API}/ServiceKeys(${key.ID})/downloadCredentials()`)
    expect(file.status).toBe(200)
    expect(file.headers['content-disposition']).toBe('attachment; filename="calm-landscape.json"')
    expect(typeof file.data === 'string' ? JSON.parse(file.data) : file.data).toEqual(creds)
    const details = cf.calls.slice(cfBefore).filter(c => c.method === 'GET' && c.path === `/v3/service_credential_bindings/${key.smId}/details`)
    expect(details.map(c => c.status)).toEqual([200, 200])
    expect(sm.calls.slice(smBefore).filter(c => c.path.includes(key.smId))).toEqual([])
  })

  test('seed 004\'s update in a space: added scopes go to CF as a PATCH of the instance, followed as its job', async () => {
    const created = await create({ plan_ID: PLANS.sub1.cloudAlmApi, space: 'dev', name: 'calm-cf-scopes', parameters: { 'xs-security': { xsappname: 'calm-cf-scopes', authorities: [] } } })
    const inst = await settled(created.ID)
    expect(inst.state_code).toBe('Ready')
    const wanted = { 'xs-security': { xsappname: 'calm-cf-scopes', authorities: ['$XSAPPNAME.calm-api.read', '$XSAPPNAME.calm-api.write'] } }
    const res = await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: wanted })
    expect(res.status).toBe(200)
    const done = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, r => r.generation === r.observedGeneration)
    expect([done.state_code, done.lastError]).toEqual(['Ready', null])
    const patches = cf.calls.filter(c => c.method === 'PATCH' && c.path === `/v3/service_instances/${inst.smId}`)
    expect(patches.map(c => [c.status, c.body])).toEqual([[202, { parameters: wanted, relationships: { service_plan: { data: { guid: expect.any(String) } } } }]])
    expect(cf.instances().find(i => i.guid === inst.smId)).toMatchObject({ parameters: wanted, plan: 'standard' })
    expect(sm.calls.filter(c => c.method === 'PATCH')).toEqual([])
    const ops = await admin.get(`${API}/Operations?$filter=${encodeURIComponent(`instance_ID eq ${inst.ID} and type eq 'update'`)}`)
    expect(ops.data.value).toMatchObject([{ state_code: 'succeeded' }])

    // CF's job fails: the instance stays Ready, the update operation says why
    cf.addFault({ method: 'PATCH', path: `/v3/service_instances/${inst.smId}`, failJob: 'the broker refused the scopes' })
    await admin.patch(`${API}/ServiceInstances(${inst.ID})`, { parameters: { 'xs-security': { xsappname: 'calm-cf-scopes', authorities: ['x'] } } })
    const refused = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, r => r.generation === r.observedGeneration)
    expect(refused.state_code).toBe('Ready')
    expect(refused.lastError).toMatch(/the broker refused the scopes/)
  })

  test('seed 004 as one provision call with a Cloud Foundry template: instance and key in the template\'s space, the consumer view read from CF', async () => {
    // the seed's template (Cloud ALM API) for a Cloud Foundry space: a copy with environment and space
    const seed = (await admin.get(`${API}/Templates(6a1e2d3c-0001-4a5b-8c7d-000000000005)`)).data
    const fields = ['offeringName', 'planName', 'parameters', 'credentialType', 'keyParameters', 'credentialFields', 'inputSchema', 'sharedInstance', 'keyPurpose']
    const template = await admin.post(`${API}/Templates`, {
      ...Object.fromEntries(fields.map(f => [f, seed[f]])),
      name: 'Cloud ALM API in a Cloud Foundry space',
      environment: 'cloudfoundry',
      space: 'dev'
    })
    expect(template.status).toBe(201)
    const cfBefore = cf.calls.length
    const smBefore = sm.calls.length
    const run = await as('provisioner').post(`${API}/provision`, {
      template: template.data.ID,
      subaccount: SUB1,
      instanceName: 'calm-api-flow',
      keyName: 'calm-api-flow-key',
      scopes: ['calm-api.tasks.read']
    })
    expect([run.status, run.data.status]).toEqual([200, 'running'])
    const flow = await waitFor(admin, `${API}/Provisionings(${run.data.ID})?$expand=steps($orderby=seq)`, f => f.status !== 'running', 30000)
    expect([flow.status, flow.lastError]).toEqual(['completed', null])
    expect(flow.steps.map((st: { step: string; status: string }) => `${st.step}:${st.status}`)).toEqual(['preflight:done', 'instance:done', 'key:done', 'verify:done', 'register:skipped'])

    // in Cloud Foundry: the template's space, the seed's xs-security parameters; nothing created through Service Manager
    const inst = (await admin.get(`${API}/ServiceInstances(${flow.instance_ID})`)).data
    expect([inst.environment, inst.space, inst.state_code]).toEqual(['cloudfoundry', 'dev', 'Ready'])
    const [post] = cfPosts('service_instances', 'calm-api-flow')
    expect(post.body.parameters).toEqual({ 'xs-security': { xsappname: 'calm-api-flow', authorities: ['calm-api.tasks.read'] } })
    expect(cf.instances().find(i => i.guid === inst.smId)).toMatchObject({ offering: 'cloudalm-api', plan: 'standard', space: 'dev' })
    expect(cfPosts('service_credential_bindings', 'calm-api-flow-key')).toHaveLength(1)
    expect(sm.calls.slice(smBefore).filter(c => c.method !== 'GET' && c.path.startsWith('/v1/'))).toEqual([])

    // the consumer view: the seed's fields from the credentials CF hands out (details), the secret only named
    const key = (await admin.get(`${API}/ServiceKeys(${flow.serviceKey_ID})`)).data
    const creds = cf.bindings().find(b => b.guid === key.smId)!.credentials as { endpoints: { Api: string }; uaa: { clientid: string; clientsecret: string; url: string } }
    const view = JSON.parse(flow.consumerView)
    expect(view.fields).toEqual({ 'endpoints.Api': creds.endpoints.Api, 'uaa.clientid': creds.uaa.clientid, 'uaa.url': creds.uaa.url })
    expect(view.secrets).toEqual(['uaa.clientsecret'])
    expect(flow.consumerView).not.toContain(creds.uaa.clientsecret)
    expect(cf.calls.slice(cfBefore).some(c => c.path === `/v3/service_credential_bindings/${key.smId}/details`)).toBe(true)
    expect(sm.calls.slice(smBefore).filter(c => c.path.includes(key.smId))).toEqual([])
  })

  test('reading a key\'s credentials: CF refusing answers 502 CF_REQUEST_FAILED; a key gone from CF 404 KEY_NOT_FOUND_IN_CF', async () => {
    const inst = await settled((await create({ name: 'intas-read-errors', space: 'dev' })).ID)
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'intas-read-errors-key' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    const reader = as('reader')
    const reveal = () => reader.post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})

    cf.addFault({ method: 'GET', path: `/v3/service_credential_bindings/${key.smId}/details`, status: 403 })
    const refused = await reveal()
    expect([refused.status, refused.data.error?.code]).toEqual([502, 'CF_REQUEST_FAILED'])
    expect(refused.data.error.message).toBe(text('CF_REQUEST_FAILED', ['You are not authorized to perform the requested action']))

    // deleted in CF by another tool with the technical user
    const user = cf.users[0]
    const token = await axios.post(`${cf.uaaUrl}/oauth/token`, new URLSearchParams({ grant_type: 'password', username: user.username, password: user.password }), {
      auth: { username: 'cf', password: '' }
    })
    const gone = await axios.delete(`${cf.url}/v3/service_credential_bindings/${key.smId}`, { headers: { Authorization: `bearer ${token.data.access_token}` } })
    expect(gone.status).toBe(202)
    expect(cf.bindings().find(b => b.guid === key.smId)).toBeUndefined()
    const missing = await reveal()
    expect([missing.status, missing.data.error?.code]).toEqual([404, 'KEY_NOT_FOUND_IN_CF'])
    expect(missing.data.error.message).toBe(text('KEY_NOT_FOUND_IN_CF', ['intas-read-errors-key', 'dev']))
  })

  test('an X.509 key in a space: the credential-type x509 parameters go to CF, the credentials carry a certificate', async () => {
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.aicoreExtended, environment: 'cloudfoundry', space: 'dev', name: 'aicore-cf' })
    expect(res.status).toBe(201)
    const inst = await settled(res.data.ID)
    expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])
    const requestedAt = Date.now()
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'aicore-cf-x509', credentialType: 'x509', keyLength: 2048, validity: 3, validityType: 'DAYS' })
    expect(k.status).toBe(201)
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, row => row.state_code !== 'Creating' && row.verification_code !== null)
    expect([key.state_code, key.lastError, key.credentialType]).toEqual(['Ready', null, 'x509'])

    // what CF received: the binding parameters of an X.509 key, as Service Manager gets them
    const [post] = cfPosts('service_credential_bindings', 'aicore-cf-x509')
    expect(post.body.parameters).toEqual({ xsuaa: { 'credential-type': 'x509', x509: { 'key-length': 2048, validity: 3, 'validity-type': 'DAYS' } } })
    expect(smPosts('aicore-cf-x509')).toHaveLength(0)

    // the credentials: a certificate and its private key, no client secret; the key works over mutual TLS
    const creds = cf.bindings().find(b => b.guid === key.smId)!.credentials as Record<string, any>
    const oauth = (creds.uaa ?? creds) as Record<string, any>
    expect(oauth['credential-type']).toBe('x509')
    expect(oauth.clientsecret).toBeUndefined()
    expect(oauth.key).toMatch(/-----BEGIN (RSA )?PRIVATE KEY-----/)
    const issued = new X509Certificate(oauth.certificate)
    expect(key.certFingerprint).toBe(issued.fingerprint256)
    expect(Math.abs(Date.parse(key.expiresAt) - (requestedAt + 3 * 86400000))).toBeLessThan(60000)
    expect(key.verification_code).toBe('ok')

    // revealed through the CF API like any key
    const shown = await as('reader').post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})
    expect(shown.status).toBe(200)
    expect(JSON.parse(shown.data.value)).toEqual(creds)
  })
})
