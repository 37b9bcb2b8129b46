import cds from '@sap/cds'
import { API, PLANS, SUB1, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'
import { makeCa, makeLeaf } from './fixtures/pki'

const { as, admin } = useApp()

const received: { event: string; data: Record<string, any>; via: string }[] = []

const provisioning = () => (cds.env as unknown as { provisioning: Record<string, unknown> }).provisioning

beforeAll(async () => {
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

  test('many keys: each is marked by its own boundary, a page at a time, and the count covers them all', async () => {
    // rows written straight into the database: 2,500 keys (more than two pages) around the boundaries
    const { ServiceKeys, ServiceInstances } = cds.entities('btp.provisioning')
    const inst = await SELECT.one.from(ServiceInstances).where({ subaccount_ID: SUB1, state_code: 'Ready' })
    const day = 86_400_000
    const now = Date.now()
    const offsets = [-day, 3 * day, 30 * day + day / 2, 31 * day + 3600_000, 60 * day] // expired, expiring, expiring, valid, valid
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      ID: cds.utils.uuid(),
      instance_ID: inst.ID,
      subaccount_ID: SUB1,
      name: `bulk-${i}`,
      state_code: 'Ready',
      desired: 'present',
      generation: 1,
      observedGeneration: 1,
      expiresAt: new Date(now + offsets[i % offsets.length]).toISOString(),
      expiry_code: i % 7 === 0 ? 'valid' : null
    }))
    await INSERT.into(ServiceKeys).entries(rows)
    const before = received.filter(r => r.event === 'KeyExpiring').length
    const res = await scan()
    const marked = (await SELECT.from(ServiceKeys).columns('name', 'expiry_code').where({ name: { like: 'bulk-%' } })) as { name: string; expiry_code: string }[]
    const expected = ['expired', 'expiring', 'expiring', 'valid', 'valid']
    expect(marked.filter(r => r.expiry_code !== expected[Number(r.name.slice(5)) % 5])).toEqual([])
    // 3 of 5 are expired or expiring, besides the keys of the test above
    expect(res.data.keys).toBeGreaterThanOrEqual(1500)
    const announced = received.filter(r => r.event === 'KeyExpiring').length - before
    expect(announced).toBe(2 * 1500) // each by the service and through messaging
    await DELETE.from(ServiceKeys).where({ name: { like: 'bulk-%' } })
  })

  test('viewers cannot run the scan', async () => {
    expect((await as('viewer').post(`${API}/scanExpiry`, {})).status).toBe(403)
  })
})
