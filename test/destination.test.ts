import cds from '@sap/cds'
import path from 'node:path'
import { startEmulator, type Emulator } from '../emulator'
import { API, PLANS, SUB1, SUB2, settle, as, stateIs, waitFor, type Client } from './helpers'

// production's kind: Service Manager access from a BTP destination per subaccount. Locally the SAP Cloud SDK
// reads destinations from the `destinations` environment variable; here they point at an emulator.
process.env.CDS_CONFIG = JSON.stringify({ requires: { 'service-manager': { kind: 'destination' } } })

// declared before cds.test, so it runs before the server stops
afterAll(() => settle(admin))
const app = cds.test(path.join(__dirname, '..'))

let emu: Emulator
let admin: Client

beforeAll(async () => {
  emu = await startEmulator()
  const [tenant] = emu.tenants
  // the sample row of subaccount 1 names destination sm-acme-integration; sm-acme-calm is left undefined
  process.env.destinations = JSON.stringify([
    {
      name: 'sm-acme-integration',
      url: emu.url,
      authentication: 'OAuth2ClientCredentials',
      clientId: tenant.clientid,
      clientSecret: tenant.clientsecret,
      tokenServiceUrl: `${emu.url}/oauth/token`
    }
  ])
  admin = as(app.axios, 'admin')
})
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
})
