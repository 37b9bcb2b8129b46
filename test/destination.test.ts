import { startEmulator, type Emulator } from '../emulator'
import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

// production's kind: Service Manager access from a BTP destination per subaccount. Locally the SAP Cloud SDK
// reads destinations from the `destinations` environment variable; here they point at an emulator.
process.env.CDS_CONFIG = JSON.stringify({ requires: { 'service-manager': { kind: 'destination' } } })

const { admin } = useApp()

let emu: Emulator
const destinations: Record<string, Record<string, unknown>> = {}

/** Sets (or replaces) a destination in the `destinations` environment variable the SAP Cloud SDK reads. */
function setDestination(d: Record<string, unknown> & { name: string }) {
  destinations[d.name] = d
  process.env.destinations = JSON.stringify(Object.values(destinations))
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

beforeAll(async () => {
  emu = await startEmulator()
  const [tenant] = emu.tenants
  // the sample row of subaccount 1 names destination sm-acme-integration; sm-acme-calm is left undefined
  setDestination({
    name: 'sm-acme-integration',
    url: emu.url,
    authentication: 'OAuth2ClientCredentials',
    clientId: tenant.clientid,
    clientSecret: tenant.clientsecret,
    tokenServiceUrl: `${emu.url}/oauth/token`
  })
})

async function createInstance(subaccount_ID: string, plan_ID: string, name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID, plan_ID, name })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
}
afterAll(async () => {
  delete process.env.destinations
  delete process.env.CDS_CONFIG
  await emu?.close()
})

describe('Service Manager access through BTP destinations', () => {
  test('the destination named by the subaccount leads to its Service Manager', async () => {
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'via-destination' })
    expect(res.status).toBe(201)
    const inst = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(inst.state_code).toBe('Ready')
    expect(emu.instances().map(i => i.name)).toEqual(['via-destination'])
    const token = emu.calls.find(c => c.path === '/oauth/token')!
    expect(token.status).toBe(200)
  })

  test('a subaccount whose destination does not exist: the step fails with a clear message', async () => {
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'no-destination' })
    const inst = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(inst.state_code).toBe('Failed')
    expect(inst.lastError).toBe('No Service Manager access is configured for subaccount ACME Cloud ALM (eu20)')
    const sync = await admin.post(`${API}/Subaccounts(${SUB2})/syncCatalog`, {})
    expect([sync.status, sync.data.error?.code]).toEqual([422, 'SM_NOT_CONFIGURED'])
  })

  test('a rotated destination secret: the next step works without a restart', async () => {
    const [tenant] = emu.tenants
    // a first instance: the subaccount's client has fetched a token with the first secret
    expect((await createInstance(SUB1, PLANS.sub1.xsuaaApplication, 'before-rotation')).state_code).toBe('Ready')
    const from = emu.calls.length
    // the secret is rotated: the old one and the tokens issued with it stop working; the destination gets the new one
    const secret = emu.rotateTenantSecret(tenant.subaccountId)
    setDestination({ ...destinations['sm-acme-integration'], name: 'sm-acme-integration', clientSecret: secret })
    const inst = await createInstance(SUB1, PLANS.sub1.xsuaaApplication, 'after-rotation')
    expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])
    expect(emu.instances().map(i => i.name).sort()).toEqual(['after-rotation', 'before-rotation', 'via-destination'])
    // SM refused the revoked token, the old secret was refused once, the destination was read again
    const calls = emu.calls.slice(from)
    expect(calls.find(c => c.path.startsWith('/v1/'))?.status).toBe(401)
    expect(calls.filter(c => c.path === '/oauth/token').map(c => c.status)).toEqual([401, 200])
    // no secret in what the emulator recorded or the record shows
    expect(JSON.stringify(calls)).not.toContain(secret)
  })

  test('a destination with a client certificate fetches its token over mTLS', async () => {
    const tenant = emu.tenants[1]
    // the subaccount's SM client authenticates with a certificate of the emulator's CA (pinned to the tenant)
    const client = await emu.issueClientCertificate({ cn: 'sm-acme-calm' })
    tenant.certificate = client.certPem
    setDestination({
      name: 'sm-acme-calm',
      url: emu.url,
      authentication: 'OAuth2ClientCredentials',
      clientId: tenant.clientid,
      tokenServiceUrl: `${emu.certUrl}/oauth/token`,
      keyStoreName: 'sm-acme-calm.pem',
      certificates: [{ name: 'sm-acme-calm.pem', content: b64(`${client.certPem}\n${client.keyPem}`), type: 'CERTIFICATE' }],
      // the emulator's token endpoint has a certificate of its own CA
      trustStoreCertificate: { name: 'emulator-ca.pem', content: b64(emu.caPem), type: 'CERTIFICATE' }
    })
    const from = emu.calls.length
    const inst = await createInstance(SUB2, PLANS.sub2.xsuaaApplication, 'via-certificate')
    expect([inst.state_code, inst.lastError]).toEqual(['Ready', null])
    expect(emu.instances(tenant.subaccountId).map(i => i.name)).toEqual(['via-certificate'])
    const tokens = emu.calls.slice(from).filter(c => c.path === '/oauth/token')
    expect(tokens.length).toBeGreaterThan(0)
    expect(tokens.every(c => c.mtls === true && c.status === 200)).toBe(true)
    // no secret was sent: the certificate was the credential
    expect(tokens.every(c => c.body?.client_secret === undefined)).toBe(true)
  })
})
