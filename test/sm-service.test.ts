/**
 * Service Manager access as a CAP service (srv/service-manager/service.ts and its kinds): the kind picks
 * the implementation; kind `credentials` reads the service-manager binding of the app's own subaccount from
 * the environment (@sap/xsenv) and the configured keys; credentials are read again after their maximum age.
 * Against a standalone emulator over HTTP; the rate budget is off here (test/throttle.test.ts has it).
 */
process.env.CDS_CONFIG = JSON.stringify({
  requires: { 'service-manager': { kind: 'credentials', limits: false, credentialsMaxAge: '300ms' } }
})

import cds from '@sap/cds'
import { startEmulator, DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID, type Emulator } from '../emulator'
import { ServiceManagerAccessError, clientFor, smService } from '../srv/service-manager/kinds'
import { CredentialsServiceManager } from '../srv/service-manager/kind-credentials'
import { advance, reset } from '../srv/lib/clock'

let emu: Emulator

/** VCAP_SERVICES with a service-manager binding (the emulator's tenant 1) and an xsuaa binding naming its subaccount. */
function bind(secret: string) {
  const [tenant] = emu.tenants
  process.env.VCAP_SERVICES = JSON.stringify({
    'service-manager': [
      {
        name: 'skm-service-manager',
        label: 'service-manager',
        plan: 'subaccount-admin',
        credentials: { sm_url: emu.url, url: emu.url, clientid: tenant.clientid, clientsecret: secret, xsappname: 'skm!b1|service-manager!b1' }
      }
    ],
    xsuaa: [{ name: 'skm-uaa', label: 'xsuaa', plan: 'application', credentials: { subaccountid: tenant.subaccountId, clientid: 'sb-skm!t1', clientsecret: 'not-used' } }]
  })
}

beforeAll(async () => {
  emu = await startEmulator()
  bind(emu.tenants[0].clientsecret)
  // subaccount 2 comes from the configuration, as a user-provided service or CDS_CONFIG would give it
  const tenant2 = emu.tenants[1]
  ;(cds.env.requires as unknown as Record<string, Record<string, unknown>>)['service-manager'].subaccounts = {
    [tenant2.subaccountId]: { sm_url: emu.url, url: emu.url, clientid: tenant2.clientid, clientsecret: tenant2.clientsecret }
  }
})

afterAll(async () => {
  reset()
  delete process.env.VCAP_SERVICES
  delete process.env.CDS_CONFIG
  delete (cds.env.requires as unknown as Record<string, Record<string, unknown>>)['service-manager'].subaccounts
  ;(await smService()).forget()
  await emu?.close()
})

describe('the service-manager service and its kinds', () => {
  test('cds.requires.service-manager.kind picks the implementation', async () => {
    const srv = await smService()
    expect(srv).toBeInstanceOf(CredentialsServiceManager)
    expect(await cds.connect.to('service-manager')).toBe(srv)
  })

  test("kind credentials: the app's own subaccount from its service-manager binding, others from the configuration", async () => {
    const own = await clientFor({ subaccountId: DEV_SUBACCOUNT_1_ID, displayName: 'own' })
    expect((await own.listOfferings()).length).toBeGreaterThan(0)
    const other = await clientFor({ subaccountId: DEV_SUBACCOUNT_2_ID, displayName: 'configured' })
    expect((await other.listPlans()).length).toBeGreaterThan(0)
    const subaccounts = emu.calls.filter(c => c.path.startsWith('/v1/')).map(c => c.subaccountId)
    expect(new Set(subaccounts)).toEqual(new Set([DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID]))
    await expect(clientFor({ subaccountId: 'not-bound', displayName: 'Elsewhere' })).rejects.toThrow(ServiceManagerAccessError)
    await expect(clientFor({ subaccountId: 'not-bound', displayName: 'Elsewhere' })).rejects.toThrow(
      'No Service Manager access is configured for subaccount Elsewhere'
    )
  })

  test('credentials older than credentialsMaxAge are read again: a re-bound secret is used without a 401', async () => {
    const sub = { subaccountId: DEV_SUBACCOUNT_1_ID, displayName: 'own' }
    const client = await clientFor(sub)
    await client.listInstances()
    // the binding gets a new secret; the old one keeps working for now (no token revoked)
    const secret = emu.rotateTenantSecret(DEV_SUBACCOUNT_1_ID, { revokeTokens: false })
    bind(secret)
    const from = emu.calls.length
    // older than credentialsMaxAge (300 ms) by the app's clock
    advance(400)
    const again = await clientFor(sub)
    expect(again).toBe(client)
    await again.listInstances()
    const calls = emu.calls.slice(from)
    // a new token with the new secret, and no refusal on the way
    expect(calls.filter(c => c.path === '/oauth/token').map(c => c.status)).toEqual([200])
    expect(calls.every(c => c.status < 400)).toBe(true)
  })
})
