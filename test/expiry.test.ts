import cds from '@sap/cds'
import path from 'node:path'
import { API, PLANS, SUB1, settle, as, stateIs, waitFor, type Client } from './helpers'
import { makeCa, makeLeaf } from './fixtures/pki'

// declared before cds.test, so it runs before the server stops
afterAll(() => settle(admin))
const app = cds.test(path.join(__dirname, '..'))

let admin: Client
const received: { event: string; data: Record<string, any>; via: string }[] = []

const provisioning = () => (cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning

beforeAll(async () => {
  admin = as(app.axios, 'admin')
  const service = await cds.connect.to('ProvisioningService')
  for (const event of ['KeyExpiring', 'CertificateExpiring'])
    service.on(event, msg => {
      received.push({ event, data: msg.data, via: 'service' })
    })
  // another app would subscribe on the message broker
  const messaging = await cds.connect.to('messaging')
  messaging.on('btp.provisioning.KeyExpiring', msg => {
    received.push({ event: 'KeyExpiring', data: msg.data, via: 'messaging' })
  })
})

afterEach(() => {
  provisioning().expiryWarnDays = 30
})

const scan = () => admin.post(`${API}/scanExpiry`, {})

describe('expiry scan', () => {
  test('keys and certificates crossing into the warning window are marked once and announced once', async () => {
    provisioning().expiryWarnDays = 10
    const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.aicoreExtended, name: 'expiry-ai' })
    const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: 'twenty-days', credentialType: 'x509', validity: 20 })
    const key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    expect(key.expiry_code).toBe('valid') // 20 days left, warning window 10 days

    const ca = await makeCa({ cn: 'expiry CA' })
    const cert = await admin.post(`${API}/Certificates`, { pem: (await makeLeaf(ca, { cn: 'twenty days', eku: ['clientAuth'], days: 20 })).certPem })
    expect(cert.data.expiry_code).toBe('valid')

    const first = await scan()
    expect(first.status).toBe(200)
    expect(received).toEqual([])

    provisioning().expiryWarnDays = 30
    const second = await scan()
    expect(second.data).toMatchObject({ keys: 1, certificates: 1 })
    const marked = await admin.get(`${API}/ServiceKeys(${key.ID})?$expand=expiry`)
    expect(marked.data.expiry).toMatchObject({ code: 'expiring', criticality: 2 })
    expect((await admin.get(`${API}/Certificates(${cert.data.ID})`)).data.expiry_code).toBe('expiring')

    const keyEvents = received.filter(r => r.event === 'KeyExpiring')
    expect(keyEvents.map(r => r.via).sort()).toEqual(['messaging', 'service'])
    expect(keyEvents[0].data).toMatchObject({ serviceKey: key.ID, name: 'twenty-days', instance: inst.data.ID, subaccount: SUB1 })
    expect(keyEvents[0].data.daysLeft).toBeGreaterThanOrEqual(19)
    const certEvents = received.filter(r => r.event === 'CertificateExpiring')
    expect(certEvents).toHaveLength(1)
    expect(certEvents[0].data).toMatchObject({ certificate: cert.data.ID, subject: 'CN=twenty days' })

    // nothing changed: nothing announced again
    const count = received.length
    expect((await scan()).data).toMatchObject({ keys: 1, certificates: 1 })
    expect(received).toHaveLength(count)
  })

  test('the scan is a duty with one row in the database, due again an interval after the last run', async () => {
    const duties = await SELECT.from('btp.provisioning.Duties').where({ name: 'expiryScan' })
    expect(duties).toHaveLength(1)
    const due = Date.parse(duties[0].runAt)
    expect(due).toBeGreaterThan(Date.now())
    expect(due).toBeLessThanOrEqual(Date.now() + 3600000)
  })

  test('viewers cannot run the scan', async () => {
    expect((await as(app.axios, 'viewer').post(`${API}/scanExpiry`, {})).status).toBe(403)
  })
})
