import cds from '@sap/cds'
import type { DestinationEmulator } from '../emulator/destination'
import { embeddedDestinationEmulator, HELD_FOR_DELIVERY } from '../srv/destinations/delivery'
import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'
import { eventually } from './support/eventually'
import * as clock from '../srv/lib/clock'

const { as, admin, emu: sm } = useApp()

let dest: DestinationEmulator
let btpSub1: string
let instanceId: string

const provisioning = () => (cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning
const register = (serviceKey_ID: string, tenant: string, extra: Record<string, unknown> = {}) =>
  admin.post(`${API}/Registrations`, { serviceKey_ID, consumerType: 'destination', tenant, ...extra })
const delivered = (row: { delivery: string }) => row.delivery === 'delivered'
const destinationIn = (name: string) => dest.destinations(btpSub1).find(d => d.Name === name)

async function readyKey(name: string, extra: Record<string, unknown> = {}, instance = instanceId) {
  const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instance, name, ...extra })
  expect(k.status).toBe(201)
  return waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready'))
}

/** The secret of a key as Service Manager holds it (the emulator's binding). */
function secretOf(smId: string): string {
  const binding = sm.bindings().find(b => b.id === smId)
  return (binding.credentials.clientsecret ?? binding.credentials.uaa?.clientsecret) as string
}

/** The find API of the Destination service, as a consumer calls it: a token of the key, then the destination. */
async function find(name: string) {
  const key = dest.keys.find(k => k.subaccountId === btpSub1)!
  const basic = Buffer.from(`${key.clientid}:${key.clientsecret}`).toString('base64')
  const token = await fetch(`${key.url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
  expect(token.status).toBe(200)
  const { access_token } = (await token.json()) as { access_token: string }
  const res = await fetch(`${key.uri}/destination-configuration/v1/destinations/${name}`, { headers: { authorization: `Bearer ${access_token}` } })
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

beforeAll(async () => {
  dest = await embeddedDestinationEmulator<DestinationEmulator>()
  btpSub1 = (await admin.get(`${API}/Subaccounts(${SUB1})`)).data.subaccountId
  const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.aicoreExtended, name: 'dest-delivery' })
  instanceId = inst.data.ID
  await waitFor(admin, `${API}/ServiceInstances(${instanceId})`, stateIs('Ready'))
})
afterEach(() => {
  dest.clearFaults()
  provisioning().rotationOverlap = '1h'
  clock.reset()
})

describe('Destination service keys (DestinationTargets)', () => {
  test('without one for the key\'s subaccount a destination registration is refused', async () => {
    const key = await readyKey('no-target-yet')
    const res = await register(key.ID, 'no-target')
    expect([res.status, res.data.error?.code]).toEqual([422, 'DESTINATION_TARGET_MISSING'])

    // a registration made without the request's checks (as provision makes it) waits for a Destination service,
    // and when it ends before one came, it ends without one
    const ID = cds.utils.uuid()
    await INSERT.into(cds.entities('btp.provisioning').Registrations).entries({ ID, serviceKey_ID: key.ID, consumerType: 'destination', tenant: 'waiting-api' })
    const waiting = await waitFor(admin, `${API}/Registrations(${ID})`, r => r.delivery === 'failed')
    expect(waiting.deliveryError).toMatch(/No Destination service is registered for subaccount/)
    expect((await admin.delete(`${API}/Registrations(${ID})`)).status).toBe(204)
    await waitFor(admin, `${API}/Registrations(${ID})`, r => r.delivery === 'removed')
  })

  test('an Administrator registers one per subaccount; the secret is written and never read back', async () => {
    const key = dest.keys.find(k => k.subaccountId === btpSub1)!
    const entry = { subaccount_ID: SUB1, uri: key.uri, tokenUrl: `${key.url}/oauth/token`, clientId: key.clientid, clientSecret: key.clientsecret }
    expect((await as('provisioner').post(`${API}/DestinationTargets`, entry)).status).toBe(403)
    const noSecret = await admin.post(`${API}/DestinationTargets`, { ...entry, clientSecret: undefined })
    expect([noSecret.status, noSecret.data.error?.code]).toEqual([400, 'DESTINATION_TARGET_SECRET_REQUIRED'])
    const badUrl = await admin.post(`${API}/DestinationTargets`, { ...entry, uri: 'ftp://somewhere' })
    expect([badUrl.status, badUrl.data.error?.code]).toEqual([400, 'DESTINATION_TARGET_URL_INVALID'])

    const res = await admin.post(`${API}/DestinationTargets`, entry)
    expect(res.status).toBe(201)
    expect(JSON.stringify(res.data)).not.toContain(key.clientsecret)
    const read = await admin.get(`${API}/DestinationTargets(${res.data.ID})`)
    expect(read.data.clientId).toBe(key.clientid)
    expect(read.data.clientSecret ?? null).toBeNull()
    // nor can a filter tell it
    const probe = await admin.get(`${API}/DestinationTargets?$filter=clientSecret eq '${key.clientsecret}'`)
    expect(probe.status === 200 ? probe.data.value : []).toEqual([])
    expect(JSON.stringify((await admin.get(`${API}/DestinationTargets`)).data)).not.toContain(key.clientsecret)
    const stored = await SELECT.one.from(cds.entities('btp.provisioning').DestinationTargets, res.data.ID)
    expect(stored.clientSecret).toBe(key.clientsecret)

    // a rotated key: its new secret is written the same way
    const url = `${API}/DestinationTargets(${res.data.ID})`
    expect((await as('provisioner').patch(url, { clientSecret: 'rotated' })).status).toBe(403)
    const patched = await admin.patch(url, { clientSecret: 'rotated' })
    expect(patched.status).toBe(200)
    expect(JSON.stringify(patched.data)).not.toContain('rotated')
    expect((await SELECT.one.from(cds.entities('btp.provisioning').DestinationTargets, res.data.ID)).clientSecret).toBe('rotated')
    expect((await admin.patch(url, { clientSecret: key.clientsecret })).status).toBe(200)
    expect((await SELECT.one.from(cds.entities('btp.provisioning').DestinationTargets, res.data.ID)).clientSecret).toBe(key.clientsecret)

    const twice = await admin.post(`${API}/DestinationTargets`, entry)
    expect([twice.status, twice.data.error?.code]).toEqual([409, 'DESTINATION_TARGET_EXISTS'])
  })
})

describe('a Destination service key held in a BTP destination of this application', () => {
  test('the target names the destination: no secret in this database, the key delivered into subaccount 2', async () => {
    const btpSub2 = (await admin.get(`${API}/Subaccounts(${SUB2})`)).data.subaccountId
    const key = dest.keys.find(k => k.subaccountId === btpSub2)!
    const incomplete = await admin.post(`${API}/DestinationTargets`, { subaccount_ID: SUB2, uri: key.uri, tokenUrl: `${key.url}/oauth/token`, clientSecret: key.clientsecret })
    expect([incomplete.status, incomplete.data.error?.code, incomplete.data.error?.target]).toEqual([400, 'DESTINATION_TARGET_INCOMPLETE', 'clientId'])
    // locally the SAP Cloud SDK reads destinations from the `destinations` environment variable
    process.env.destinations = JSON.stringify([
      { name: 'destination-service-acme-calm', url: key.uri, authentication: 'OAuth2ClientCredentials', tokenServiceUrl: `${key.url}/oauth/token`, clientId: key.clientid, clientSecret: key.clientsecret }
    ])
    try {
      const target = await admin.post(`${API}/DestinationTargets`, { subaccount_ID: SUB2, destination: 'destination-service-acme-calm' })
      expect(target.status).toBe(201)
      const stored = await SELECT.one.from(cds.entities('btp.provisioning').DestinationTargets, target.data.ID)
      expect(stored).toMatchObject({ destination: 'destination-service-acme-calm', clientSecret: null })

      const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'dest-calm-side' })
      await waitFor(admin, `${API}/ServiceInstances(${inst.data.ID})`, stateIs('Ready'))
      const k = await readyKey('dest-calm-side-key', {}, inst.data.ID)
      const res = await register(k.ID, 'calm-side-api')
      expect(res.status).toBe(201)
      await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
      expect(dest.destinations(btpSub2).find(d => d.Name === 'calm-side-api')).toMatchObject({ clientId: k.clientId, clientSecret: secretOf(k.smId) })
      expect(destinationIn('calm-side-api')).toBeUndefined() // not in subaccount 1
    } finally {
      delete process.env.destinations
    }
  })
})

describe('keys delivered into destinations', () => {
  test('a client-secret key: written after commit, found with a working token, deleted with the registration', async () => {
    const key = await readyKey('dest-secret-key')
    const bad = await register(key.ID, 'not a name!')
    expect([bad.status, bad.data.error?.code]).toEqual([400, 'DESTINATION_NAME_INVALID'])

    const audited: { object: { id: { ID: string } }; channel: string }[] = []
    const audit = await cds.connect.to('audit-log')
    audit.before('SensitiveDataRead', req => void audited.push(req.data as (typeof audited)[number]))
    const res = await register(key.ID, 'ai-core-api')
    expect(res.status).toBe(201)
    expect(JSON.stringify(res.data)).not.toContain(secretOf(key.smId))
    const reg = await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    expect(reg).toMatchObject({ deliveredKey_ID: key.ID, deliveryError: null })
    expect(destinationIn('ai-core-api')).toMatchObject({
      Type: 'HTTP',
      Authentication: 'OAuth2ClientCredentials',
      tokenServiceURL: key.tokenUrl,
      clientId: key.clientId,
      clientSecret: secretOf(key.smId),
      'serviceKeyManager.serviceKey': key.ID
    })
    // the credentials' way into the destination is audit-logged like any read of them
    expect(audited.some(r => r.object.id.ID === key.ID && r.channel.startsWith('destination ai-core-api'))).toBe(true)
    // what the Destination service received carries no secret in its log
    expect(JSON.stringify(dest.calls)).not.toContain(secretOf(key.smId))

    const found = await find('ai-core-api')
    expect(found.status).toBe(200)
    expect(found.body.destinationConfiguration.Name).toBe('ai-core-api')
    expect(found.body.authTokens[0]).toMatchObject({ type: 'bearer' })
    expect(found.body.authTokens[0].error).toBeUndefined()
    // the token the destination fetched is one of the key's client at Service Manager's UAA
    const claims = JSON.parse(Buffer.from(found.body.authTokens[0].value.split('.')[1], 'base64url').toString())
    expect(claims.client_id).toBe(key.clientId)

    expect((await admin.delete(`${API}/Registrations(${res.data.ID})`)).status).toBe(204)
    await waitFor(admin, `${API}/Registrations(${res.data.ID})`, r => r.delivery === 'removed')
    expect(destinationIn('ai-core-api')).toBeUndefined()
    expect((await find('ai-core-api')).status).toBe(404)
  })

  test('provision with a template whose consumer is a destination: the flow registers the key and it is delivered', async () => {
    const template = await admin.post(`${API}/Templates`, {
      name: 'AI Core API into a destination',
      offeringName: 'aicore',
      planName: 'extended',
      credentialType: 'binding-secret',
      consumerType: 'destination',
      inputSchema: JSON.stringify({ type: 'object', required: ['tenant'], properties: { tenant: { type: 'string' } }, additionalProperties: false })
    })
    expect(template.status).toBe(201)
    const refused = await admin.post(`${API}/provision`, { template: template.data.ID, subaccount: SUB1, instanceName: 'dest-provisioned', keyName: 'dest-provisioned-key', tenant: 'not a name!' })
    expect([refused.status, refused.data.error?.code]).toEqual([400, 'DESTINATION_NAME_INVALID'])
    const flow = await admin.post(`${API}/provision`, { template: template.data.ID, subaccount: SUB1, instanceName: 'dest-provisioned', keyName: 'dest-provisioned-key', tenant: 'provisioned-api' })
    expect(flow.status).toBe(200)
    const done = await waitFor(admin, `${API}/Provisionings(${flow.data.ID})`, f => f.status !== 'running')
    expect(done.status).toBe('completed')
    const reg = await waitFor(admin, `${API}/Registrations(${done.registration_ID})`, delivered)
    expect(reg).toMatchObject({ consumerType: 'destination', tenant: 'provisioned-api', deliveredKey_ID: flow.data.serviceKey })
    expect(destinationIn('provisioned-api')?.['serviceKeyManager.serviceKey']).toBe(flow.data.serviceKey)
  })

  test('a failing Destination service is tried again until the destination is written', async () => {
    const key = await readyKey('dest-retry-key')
    dest.addFault({ method: 'PUT', path: '/destination-configuration/v1/subaccountDestinations', status: 503, times: 2 })
    const res = await register(key.ID, 'retried-api')
    expect(res.status).toBe(201)
    const reg = await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    expect(reg.deliveryAttempts).toBe(0)
    const puts = dest.calls.filter(c => c.method === 'PUT' && c.path.endsWith('/subaccountDestinations'))
    expect(puts.map(c => c.status).slice(-3)).toEqual([503, 503, 404]) // then created with POST
    expect(destinationIn('retried-api')?.clientId).toBe(key.clientId)
  })

  test('deleting the key deletes its destination', async () => {
    const key = await readyKey('dest-deleted-key')
    const res = await register(key.ID, 'short-lived-api')
    await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    expect(destinationIn('short-lived-api')).toBeDefined()
    await admin.delete(`${API}/ServiceKeys(${key.ID})`)
    await waitFor(admin, `${API}/Registrations(${res.data.ID})`, r => r.delivery === 'removed')
    expect(destinationIn('short-lived-api')).toBeUndefined()
  })

  test('an X.509 key with a generated certificate: a client-certificate destination whose token comes over mTLS', async () => {
    const key = await readyKey('dest-x509-key', { credentialType: 'x509', keyLength: 2048, validity: 3, validityType: 'DAYS' })
    const res = await register(key.ID, 'x509-api')
    expect(res.status).toBe(201)
    await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    const d = destinationIn('x509-api')!
    expect(d).toMatchObject({ Authentication: 'OAuth2ClientCredentials', tokenServiceURL: `${sm.certUrl}/oauth/token`, clientId: key.clientId, 'tokenService.KeyStoreLocation': 'x509-api.pem' })
    expect(d.clientSecret).toBeUndefined()
    expect(dest.certificates(btpSub1)).toContain('x509-api.pem')
    const found = await find('x509-api')
    expect(found.body.authTokens[0].error).toBeUndefined()
    expect(found.body.authTokens[0].type).toBe('bearer')
    expect(sm.calls.some(c => c.mtls && c.path === '/oauth/token' && c.status === 200)).toBe(true)
  })

  test('a key with your own certificate cannot be delivered (KEY_NOT_DELIVERABLE)', async () => {
    const own = await sm.issueClientCertificate({ cn: 'abap-destination' })
    const cert = await admin.post(`${API}/Certificates`, { pem: own.certPem, name: 'ABAP for destinations' })
    expect(cert.status).toBe(201)
    const key = await readyKey('dest-own-cert', { credentialType: 'x509', certificate_ID: cert.data.ID })
    const res = await register(key.ID, 'own-cert-api')
    expect([res.status, res.data.error?.code]).toEqual([422, 'KEY_NOT_DELIVERABLE'])
    expect(destinationIn('own-cert-api')).toBeUndefined()
  })

  test('a destination target of a subaccount out of reach is refused, a Viewer registers nothing', async () => {
    const key = await readyKey('dest-scope-key')
    const res = await register(key.ID, 'scoped-api', { destinationTarget_ID: cds.utils.uuid() })
    expect([res.status, res.data.error?.code]).toEqual([422, 'DESTINATION_TARGET_UNKNOWN'])
    expect((await as('viewer').post(`${API}/Registrations`, { serviceKey_ID: key.ID, consumerType: 'destination', tenant: 'x' })).status).toBe(403)
  })

  test('a Destination service key that still holds destinations cannot be deleted', async () => {
    const key = await readyKey('dest-held-key')
    const res = await register(key.ID, 'held-api')
    const reg = await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    const del = await admin.delete(`${API}/DestinationTargets(${reg.destinationTarget_ID})`)
    expect([del.status, del.data.error?.code]).toEqual([409, 'DESTINATION_TARGET_IN_USE'])
    expect((await admin.get(`${API}/DestinationTargets(${reg.destinationTarget_ID})`)).status).toBe(200)
  })
})

describe('rotation', () => {
  /** A key delivered to destination `name`, rotated while the Destination service fails `failures` times. */
  async function rotateWhileDestinationFails(key: string, name: string, failures: number) {
    const old = await readyKey(key)
    const res = await register(old.ID, name)
    await waitFor(admin, `${API}/Registrations(${res.data.ID})`, delivered)
    dest.addFault({ method: 'PUT', path: '/destination-configuration/v1/subaccountDestinations', status: 503, times: failures })
    const rotated = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    const successor = await waitFor(admin, `${API}/ServiceKeys(${rotated.data.ID})`, stateIs('Ready'))
    return { old, registration: res.data.ID as string, successor }
  }

  test('the destination holds the successor before the old key is retired', async () => {
    provisioning().rotationOverlap = '1s'
    // the Destination service fails for a while: the old key waits for it, whatever the overlap
    const { old, registration, successor } = await rotateWhileDestinationFails('dest-rotating-key', 'rotating-api', 3)
    const failing = await waitFor(admin, `${API}/Registrations(${registration})`, r => r.deliveryAttempts >= 2)
    expect(failing).toMatchObject({ serviceKey_ID: successor.ID, deliveredKey_ID: old.ID, delivery: 'failed' })
    const waiting = (await admin.get(`${API}/ServiceKeys(${old.ID})`)).data
    expect(waiting.state_code).toBe('Ready')
    expect(new Date(waiting.retireAt).toISOString()).toBe(HELD_FOR_DELIVERY)
    expect(destinationIn('rotating-api')?.clientId).toBe(old.clientId)

    await waitFor(admin, `${API}/Registrations(${registration})`, r => r.delivery === 'delivered' && r.deliveredKey_ID === successor.ID)
    expect(destinationIn('rotating-api')).toMatchObject({ clientId: successor.clientId, clientSecret: secretOf(successor.smId) })
    await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted'))

    // order: the destination got the successor, then Service Manager was asked to delete the old key
    const written = dest.calls.filter(c => c.method === 'PUT' && c.path.endsWith('/subaccountDestinations') && c.status === 200).at(-1)!
    const deleted = sm.calls.find(c => c.method === 'DELETE' && c.path === `/v1/service_bindings/${old.smId}`)!
    expect(written.at).toBeLessThan(deleted.at)
    expect((await find('rotating-api')).body.authTokens[0].type).toBe('bearer')
  })

  test("a retirement held for a destination keeps its overlap on the app's time once the destination holds the successor", async () => {
    const HOUR = 3_600_000
    const { old, registration, successor } = await rotateWhileDestinationFails('dest-held-clock-key', 'held-clock-api', 2)
    // two hours pass on the app's clock before the destination takes the successor
    clock.advance(2 * HOUR)
    await waitFor(admin, `${API}/Registrations(${registration})`, r => r.delivery === 'delivered' && r.deliveredKey_ID === successor.ID)
    const released = await eventually(() => admin.get(`${API}/ServiceKeys(${old.ID})`).then(r => r.data as { retireAt: string; state_code: string }), {
      what: 'the held retirement released',
      until: k => new Date(k.retireAt).toISOString() !== HELD_FOR_DELIVERY
    })
    // the overlap (1 h) from the app's time of the hand-over, not from the wall clock's
    expect(Date.parse(released.retireAt) - clock.now()).toBeGreaterThan(HOUR - 60_000)
    expect(Date.parse(released.retireAt) - clock.now()).toBeLessThanOrEqual(HOUR)
    expect(released.state_code).toBe('Ready')
    // past the overlap on the app's clock, the expiry scan retires it
    clock.advance(HOUR + 60_000)
    expect((await admin.post(`${API}/scanExpiry`, {})).status).toBe(200)
    await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted'))
  })
})
