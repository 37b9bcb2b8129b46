import { startEmulator, type Emulator } from '../emulator'
import { startDestinationEmulator, type DestinationEmulator } from '../emulator/destination'

/** The Destination service emulator over HTTP: tokens, the subaccount destinations and certificates API, the find API, faults. */

let dest: DestinationEmulator
let sm: Emulator
const API = '/destination-configuration/v1'

beforeAll(async () => {
  sm = await startEmulator()
  dest = await startDestinationEmulator({ trustedCa: sm.caPem, admin: true })
})
afterAll(async () => {
  await dest?.close()
  await sm?.close()
})
afterEach(() => dest.reset())

const key = (i = 0) => dest.keys[i]

async function token(i = 0, secret = key(i).clientsecret) {
  const basic = Buffer.from(`${key(i).clientid}:${secret}`).toString('base64')
  return fetch(`${key(i).url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
}

async function as(i = 0) {
  const { access_token } = (await (await token(i)).json()) as { access_token: string }
  return (method: string, path: string, body?: unknown) =>
    fetch(`${key(i).uri}${API}${path}`, { method, headers: { authorization: `Bearer ${access_token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined })
}

const secretDestination = (name: string, tenant = sm.tenants[0]) => ({
  Name: name,
  Type: 'HTTP',
  URL: sm.url,
  Authentication: 'OAuth2ClientCredentials',
  tokenServiceURL: `${sm.url}/oauth/token`,
  clientId: tenant.clientid,
  clientSecret: tenant.clientsecret
})

test('the token endpoint takes each key\'s client credentials only; the API wants its bearer token', async () => {
  expect((await token(0, 'wrong')).status).toBe(401)
  expect((await token()).status).toBe(200)
  expect((await fetch(`${key().uri}${API}/subaccountDestinations`)).status).toBe(401)
  expect((await fetch(`${key().uri}${API}/subaccountDestinations`, { headers: { authorization: 'Bearer forged.token.value' } })).status).toBe(401)
})

test('subaccount destinations: create, 409 twice, update, 404 for an unknown one, read, delete; each subaccount its own', async () => {
  const call = await as(0)
  expect((await call('POST', '/subaccountDestinations', secretDestination('d1'))).status).toBe(201)
  expect((await call('POST', '/subaccountDestinations', secretDestination('d1'))).status).toBe(409)
  expect((await call('POST', '/subaccountDestinations', { Name: 'bad name', Type: 'HTTP', URL: 'http://x' })).status).toBe(400)
  expect((await call('PUT', '/subaccountDestinations', { ...secretDestination('d1'), URL: 'http://127.0.0.1:1' })).status).toBe(200)
  expect((await call('PUT', '/subaccountDestinations', secretDestination('nope'))).status).toBe(404)
  const read = await call('GET', '/subaccountDestinations/d1')
  expect(await read.json()).toMatchObject({ Name: 'd1', URL: 'http://127.0.0.1:1' })
  expect(((await (await call('GET', '/subaccountDestinations')).json()) as unknown[]).length).toBe(1)
  expect((await (await as(1))('GET', '/subaccountDestinations/d1')).status).toBe(404) // another subaccount's
  expect((await call('DELETE', '/subaccountDestinations/d1')).status).toBe(200)
  expect((await call('DELETE', '/subaccountDestinations/d1')).status).toBe(404)
  // the request log keeps no secret
  expect(JSON.stringify(dest.calls)).not.toContain(sm.tenants[0].clientsecret)
})

test('the find API fetches the destination\'s token with its secret, and says why when it cannot', async () => {
  const call = await as(0)
  await call('POST', '/subaccountDestinations', secretDestination('works'))
  await call('POST', '/subaccountDestinations', { ...secretDestination('refused'), clientSecret: 'wrong' })
  const found = (await (await call('GET', '/destinations/works')).json()) as Record<string, any>
  expect(found.destinationConfiguration.Name).toBe('works')
  expect(found.authTokens[0]).toMatchObject({ type: 'bearer', http_header: { key: 'Authorization' } })
  const refused = (await (await call('GET', '/destinations/refused')).json()) as Record<string, any>
  expect(refused.authTokens[0].value).toBe('')
  expect(refused.authTokens[0].error).toMatch(/401/)
  const skipped = (await (await call('GET', '/destinations/works?$skipTokenRetrieval=true')).json()) as Record<string, any>
  expect(skipped.authTokens).toBeUndefined()
  expect((await call('GET', '/destinations/missing')).status).toBe(404)
})

test('a client-certificate destination: the certificate file in the service, its token over mTLS', async () => {
  const call = await as(0)
  const tenant = sm.tenants[0]
  // an X.509 client of the SM emulator: a key with a generated certificate
  const inst = await fetch(`${sm.url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${tenant.clientid}:${tenant.clientsecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
  const smToken = ((await inst.json()) as { access_token: string }).access_token
  const smCall = (method: string, path: string, body?: unknown) =>
    fetch(`${sm.url}${path}`, { method, headers: { authorization: `Bearer ${smToken}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
  const plans = (await (await smCall('GET', `/v1/service_plans?fieldQuery=${encodeURIComponent("catalog_name eq 'extended'")}`)).json()) as { items: { id: string }[] }
  const created = (await (await smCall('POST', '/v1/service_instances?async=false', { name: 'dest-emu-x509', service_plan_id: plans.items[0].id })).json()) as { id: string }
  const binding = (await (await smCall('POST', '/v1/service_bindings?async=false', { name: 'dest-emu-x509-key', service_instance_id: created.id, parameters: { xsuaa: { 'credential-type': 'x509' } } })).json()) as { credentials: Record<string, any> }
  const uaa = binding.credentials.uaa ?? binding.credentials
  expect(uaa.certificate).toBeDefined()

  const pem = Buffer.from(`${uaa.certificate}\n${uaa.key}\n`).toString('base64')
  expect((await call('POST', '/subaccountCertificates', { Name: 'x509.pem', Type: 'CERTIFICATE', Content: pem })).status).toBe(201)
  const d = { Name: 'x509', Type: 'HTTP', URL: sm.url, Authentication: 'OAuth2ClientCredentials', tokenServiceURL: `${uaa.certurl}/oauth/token`, clientId: uaa.clientid, 'tokenService.KeyStoreLocation': 'x509.pem' }
  expect((await call('POST', '/subaccountDestinations', d)).status).toBe(201)
  const found = (await (await call('GET', '/destinations/x509')).json()) as Record<string, any>
  expect(found.authTokens[0].error).toBeUndefined()
  expect(found.authTokens[0].type).toBe('bearer')
  expect(found.certificates[0].Name).toBe('x509.pem')
  expect(dest.certificates(key().subaccountId)).toEqual(['x509.pem'])
  // without its certificate file the destination gives no token
  expect((await call('DELETE', '/subaccountCertificates/x509.pem')).status).toBe(200)
  const without = (await (await call('GET', '/destinations/x509')).json()) as Record<string, any>
  expect(without.authTokens[0].error).toMatch(/x509\.pem/)
})

test('faults: a status for the next matching calls, a dropped answer after the work; the admin API from outside', async () => {
  const call = await as(0)
  dest.addFault({ method: 'POST', path: `${API}/subaccountDestinations`, status: 503, times: 1 })
  expect((await call('POST', '/subaccountDestinations', secretDestination('f1'))).status).toBe(503)
  expect(dest.destinations(key().subaccountId)).toEqual([])
  expect((await call('POST', '/subaccountDestinations', secretDestination('f1'))).status).toBe(201)

  const admin = `${dest.url}/__destination`
  expect((await fetch(`${admin}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'PUT', pathRegex: 'subaccountDestinations$', dropResponse: true }) })).status).toBe(204)
  await expect(call('PUT', '/subaccountDestinations', { ...secretDestination('f1'), URL: 'http://127.0.0.1:2' })).rejects.toThrow()
  expect(dest.destinations(key().subaccountId)[0].URL).toBe('http://127.0.0.1:2') // carried out, answer lost
  const state = (await (await fetch(`${admin}/state`)).json()) as { destinations: Record<string, { Name: string; clientSecret: string }[]>; calls: { fault?: string }[] }
  expect(state.destinations[key().subaccountId][0]).toMatchObject({ Name: 'f1', clientSecret: '***' })
  expect(state.calls.map(c => c.fault).filter(Boolean)).toEqual(['status', 'dropResponse'])
})
