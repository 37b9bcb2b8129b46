import cds from '@sap/cds'
import type { AxiosInstance } from 'axios'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DestinationEmulator } from '../../emulator/destination'
import { embeddedDestinationEmulator } from '../../srv/destinations/delivery'
import { API, SUB1, stateIs, waitFor } from '../helpers'
import { stopAll, tail, type Proc } from '../resilience/support'
import { useApp } from '../support/app'
import { startConsumer } from './support'

/**
 * The whole chain of a key delivered into a BTP destination: `provision` makes a key, a registration of consumer
 * type destination writes it into the Destination service of subaccount 1 (its emulator, embedded in this
 * service), and examples/consumer, as its own process with a `destination` service binding, looks the destination
 * up with the SAP Cloud SDK and gets a token the Destination service fetched with the key from Service Manager's
 * token endpoint. A rotation writes the successor into the destination before the old key is deleted.
 */

jest.setTimeout(120_000)

/** Integration Assessment APIs (seed 001): a client-secret key */
const TEMPLATE = '6a1e2d3c-0001-4a5b-8c7d-000000000002'
const CONSUMER_API = '/odata/v4/consumer'
const NAME = 'skm-intas-api'

const { app, admin, emu: sm } = useApp()

let dest: DestinationEmulator
let btpSub1: string
let dir: string
let consumer: Proc
let http: AxiosInstance

const inDestination = () => dest.destinations(btpSub1).find(d => d.Name === NAME)

beforeAll(async () => {
  dest = await embeddedDestinationEmulator<DestinationEmulator>()
  btpSub1 = (await admin.get(`${API}/Subaccounts(${SUB1})`)).data.subaccountId
  const key = dest.keys.find(k => k.subaccountId === btpSub1)!
  // an Administrator registers subaccount 1's Destination service key
  const target = await admin.post(`${API}/DestinationTargets`, { subaccount_ID: SUB1, uri: key.uri, tokenUrl: `${key.url}/oauth/token`, clientId: key.clientid, clientSecret: key.clientsecret })
  expect(target.status).toBe(201)

  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skm-destination-chain-'))
  ;({ proc: consumer, http } = await startConsumer('consumer-destination', {
    credentials: { url: `${app.axios.defaults.baseURL}${API}`, authentication: 'BasicAuthentication', username: 'provisioner', password: 'provisioner' },
    messages: path.join(dir, 'messages'),
    // bound to subaccount 1's Destination service, as `cf bind-service` would
    env: {
      VCAP_SERVICES: JSON.stringify({
        destination: [{ label: 'destination', name: 'consumer-destination', tags: ['destination'], credentials: { uri: key.uri, url: key.url, clientid: key.clientid, clientsecret: key.clientsecret, tenantid: btpSub1 } }]
      })
    }
  }))
}, 120_000)

afterAll(async () => {
  ;(cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning.rotationOverlap = '1h'
  await stopAll()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const logs = () => `\n--- consumer ---\n${tail(consumer?.output() ?? '', 30)}`
const consumerToken = async () => {
  const res = await http.get(`${CONSUMER_API}/destinationToken(name='${NAME}')`)
  if (res.status !== 200) throw new Error(`destinationToken answered ${res.status}: ${JSON.stringify(res.data)}${logs()}`)
  return res.data as { destination: string; serviceKey: string; clientId: string; tokenType: string; expiresIn: number }
}

describe('a key delivered into a destination, read by a CAP consumer with the SAP Cloud SDK', () => {
  let keyId: string

  test('provision, then a destination registration: the destination exists and gives the consumer a token of the key', async () => {
    const before = await http.get(`${CONSUMER_API}/destinationToken(name='${NAME}')`)
    expect(before.status).toBe(404) // nothing delivered yet

    const flow = await admin.post(`${API}/provision`, { template: TEMPLATE, subaccount: SUB1, instanceName: 'chain-intas', keyName: 'chain-intas-key' })
    expect(flow.status).toBe(200)
    keyId = flow.data.serviceKey
    const key = await waitFor(admin, `${API}/ServiceKeys(${keyId})`, stateIs('Ready'))
    const reg = await admin.post(`${API}/Registrations`, { serviceKey_ID: keyId, consumerType: 'destination', tenant: NAME })
    expect(reg.status).toBe(201)
    await waitFor(admin, `${API}/Registrations(${reg.data.ID})`, r => r.delivery === 'delivered')
    expect(inDestination()).toMatchObject({ Authentication: 'OAuth2ClientCredentials', clientId: key.clientId, tokenServiceURL: key.tokenUrl })

    const tokenCalls = sm.calls.length
    const got = await consumerToken()
    expect(got).toMatchObject({ destination: NAME, serviceKey: keyId, clientId: key.clientId, tokenType: 'bearer' })
    expect(got.expiresIn).toBeGreaterThan(0)
    // the token came from Service Manager's token endpoint, for the key's client
    expect(sm.calls.slice(tokenCalls).some(c => c.method === 'POST' && c.path === '/oauth/token' && c.status === 200)).toBe(true)
    // nothing the consumer holds or answered is a secret
    const secret = JSON.parse((await admin.post(`${API}/ServiceKeys(${keyId})/revealCredentials`, {})).data.value).clientsecret as string
    expect(JSON.stringify(got)).not.toContain(secret)
  })

  test('a rotation: the destination holds the successor before the old key is deleted, and the consumer follows without a change', async () => {
    ;(cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning.rotationOverlap = '1s'
    const rotated = await admin.post(`${API}/ServiceKeys(${keyId})/rotate`, {})
    expect(rotated.status).toBe(200)
    const old = await waitFor(admin, `${API}/ServiceKeys(${keyId})`, stateIs('Deleted'), 60_000)
    const successor = (await admin.get(`${API}/ServiceKeys(${rotated.data.ID})`)).data
    expect(successor.state_code).toBe('Ready')

    const written = dest.calls.filter(c => c.method === 'PUT' && c.path.endsWith('/subaccountDestinations') && c.status === 200).at(-1)!
    const deleted = sm.calls.find(c => c.method === 'DELETE' && c.path === `/v1/service_bindings/${old.smId}`)!
    expect(written).toBeDefined()
    expect(written.at).toBeLessThan(deleted.at)

    expect(inDestination()?.clientId).toBe(successor.clientId)
    expect(await consumerToken()).toMatchObject({ serviceKey: successor.ID, clientId: successor.clientId, tokenType: 'bearer' })
  })
})
