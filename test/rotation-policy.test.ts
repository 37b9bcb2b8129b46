/**
 * Rotation by policy (srv/rotation.ts): keys rotate every so many days or before they (or their certificates)
 * expire, started by the expiry scan; the successor is verified before the registrations move and the old key
 * stays for the overlap; a successor that does not work stops the rotation; keys with their owner's
 * certificate wait for a newer certificate and hand over after a manual verify. Days pass by moving the app's
 * clock (srv/lib/clock.ts) and the emulator's, never by waiting or fake timers.
 */
import cds from '@sap/cds'
import path from 'node:path'
import { API, PLANS, SUB1, eventually, quietFor, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'
import { makeCa, makeLeaf, type IssuedCert } from './fixtures/pki'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { AppProcess, BINDINGS, EmulatorProcess, deploy, recordOf, stopAll, type AppConfig } from './resilience/support'

const DAY = 86_400_000
const HOUR = 3_600_000

// before anything loads the app (imports of srv/ are dynamic below), so cds.env sees it
process.env.CDS_CONFIG = JSON.stringify({
  provisioning: { pollInitial: '50ms', pollMax: '300ms', retryMax: '200ms', rotationOverlap: '1h', expiryScanInterval: '1h' }
})
const { as, admin, emu } = useApp()
afterAll(() => delete process.env.CDS_CONFIG)

let clock: typeof import('../srv/lib/clock')
const events: { event: string; data: Record<string, any> }[] = []
const EVENTS = ['KeyRotated', 'KeyRotationFailed', 'CertificateRenewalNeeded', 'KeyReady', 'KeyDeleted', 'KeyVerificationFailed']

beforeAll(async () => {
  clock = await import('../srv/lib/clock')
  // another CAP service's subscriber, and one on the message broker
  const service = await cds.connect.to('ProvisioningService')
  for (const event of EVENTS) service.on(event, msg => void events.push({ event, data: msg.data }))
  const messaging = await cds.connect.to('messaging')
  messaging.on('btp.provisioning.KeyRotationFailed', msg => void events.push({ event: 'messaging:KeyRotationFailed', data: msg.data }))
})

// each test's keys rotate in that test only: the next one moves the clock again
afterEach(async () => {
  clock.reset()
  emu.resetClock()
  await UPDATE('btp.provisioning.ServiceKeys').set({ rotateEveryDays: null, rotateBeforeExpiryDays: null })
})

const scan = async () => {
  const res = await admin.post(`${API}/scanExpiry`, {})
  expect(res.status).toBe(200)
  return res.data as { keys: number; certificates: number; rotations: number }
}
const key = async (ID: string) => (await admin.get(`${API}/ServiceKeys(${ID})`)).data
/** IDs of the keys that were made to replace `ID`, oldest first. */
const successorsOf = async (ID: string) =>
  ((await admin.get(`${API}/ServiceKeys?$filter=rotatedFrom_ID eq ${ID}&$orderby=createdAt&$select=ID`)).data.value as { ID: string }[]).map(k => k.ID)
const eventsOf = (event: string, serviceKey: string) => events.filter(e => e.event === event && e.data.serviceKey === serviceKey)
const until = (check: () => boolean, what: string) => eventually(check, { what, timeout: 10_000, interval: 50 })

async function readyInstance(name: string, plan_ID = PLANS.sub1.cloudAlmApi) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID, name })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
}

async function readyKey(body: Record<string, unknown>) {
  const res = await admin.post(`${API}/ServiceKeys`, body)
  expect(res.status).toBe(201)
  const row = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready', 'Failed'))
  expect(row).toMatchObject({ state_code: 'Ready', lastError: null })
  return row
}

const register = async (serviceKey_ID: string, tenant: string) => {
  const res = await admin.post(`${API}/Registrations`, { serviceKey_ID, consumerType: 'cloud-alm-landscape', tenant })
  expect(res.status).toBe(201)
  return res.data
}
const registration = async (ID: string) => (await admin.get(`${API}/Registrations(${ID})`)).data

let calm: { ID: string }

beforeAll(async () => {
  calm = await readyInstance('rotation-policy-calm')
})

describe('the policy', () => {
  test("a key's policy may be PATCHed (nothing else); invalid values are refused with ROTATION_POLICY_INVALID", async () => {
    const k = await readyKey({ instance_ID: calm.ID, name: 'policy-patch' })
    expect(k).toMatchObject({ rotateEveryDays: null, rotateBeforeExpiryDays: null, rotationOverlapHours: null, rotatedTo_ID: null, rotationReason: null })

    for (const body of [{ rotateEveryDays: 0 }, { rotateBeforeExpiryDays: 3651 }, { rotationOverlapHours: -1 }, { rotateEveryDays: 1.5 }]) {
      const res = await admin.patch(`${API}/ServiceKeys(${k.ID})`, body)
      expect([res.status, res.data.error?.code, res.data.error?.target]).toEqual([400, 'ROTATION_POLICY_INVALID', Object.keys(body)[0]])
    }
    const other = await admin.patch(`${API}/ServiceKeys(${k.ID})`, { name: 'renamed', rotateEveryDays: 30 })
    expect([other.status, other.data.error?.code]).toEqual([405, 'KEY_IMMUTABLE'])
    const lineage = await admin.patch(`${API}/ServiceKeys(${k.ID})`, { rotatedTo_ID: k.ID })
    expect(lineage.status).toBeGreaterThanOrEqual(400)

    const ok = await admin.patch(`${API}/ServiceKeys(${k.ID})`, { rotateEveryDays: 30, rotationOverlapHours: 2 })
    expect(ok.status).toBe(200)
    expect(await key(k.ID)).toMatchObject({ name: 'policy-patch', rotateEveryDays: 30, rotateBeforeExpiryDays: null, rotationOverlapHours: 2, generation: k.generation })
    expect((await admin.patch(`${API}/ServiceKeys(${k.ID})`, { rotateEveryDays: null })).status).toBe(200)
    expect((await key(k.ID)).rotateEveryDays).toBeNull()
    // a reader may not change it
    expect((await as('viewer').patch(`${API}/ServiceKeys(${k.ID})`, { rotateEveryDays: 5 })).status).toBe(403)
  })

  test("a template's policy goes to the keys made from it, by a plain create and by provision", async () => {
    const intas = '6a1e2d3c-0001-4a5b-8c7d-000000000002'
    const bad = await admin.patch(`${API}/Templates(${intas})`, { rotateBeforeExpiryDays: 0 })
    expect([bad.status, bad.data.error?.code]).toEqual([400, 'ROTATION_POLICY_INVALID'])
    const policy = { rotateEveryDays: 90, rotateBeforeExpiryDays: 14, rotationOverlapHours: 24 }
    expect((await admin.patch(`${API}/Templates(${intas})`, policy)).status).toBe(200)

    const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, template_ID: intas, name: 'policy-template' })
    expect(inst.status).toBe(201)
    const plain = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: 'from-template', rotateEveryDays: 7 })
    expect(plain.status).toBe(201)
    // its own value wins, the rest is the template's
    expect(plain.data).toMatchObject({ rotateEveryDays: 7, rotateBeforeExpiryDays: 14, rotationOverlapHours: 24 })

    const flow = await admin.post(`${API}/provision`, { template: intas, subaccount: SUB1, instanceName: 'policy-provisioned', keyName: 'provisioned-key' })
    expect(flow.status).toBe(200)
    const done = await waitFor(admin, `${API}/Provisionings(${flow.data.ID})`, f => ['completed', 'failed'].includes(f.status))
    expect(done.status).toBe('completed')
    expect(await key(done.serviceKey_ID)).toMatchObject(policy)
    expect((await admin.patch(`${API}/Templates(${intas})`, { rotateEveryDays: null, rotateBeforeExpiryDays: null, rotationOverlapHours: null })).status).toBe(200)
  })
})

describe('rotation by the scan', () => {
  test('a key older than rotateEveryDays rotates once; its successor takes over; the old key stays for the overlap', async () => {
    const old = await readyKey({ instance_ID: calm.ID, name: 'by-age', rotateEveryDays: 30, rotationOverlapHours: 2 })
    const reg = await register(old.ID, 'tenant-by-age')
    expect((await scan()).rotations).toBe(0)

    clock.advance(29 * DAY)
    expect((await scan()).rotations).toBe(0)
    clock.advance(1 * DAY + 60_000)
    expect((await scan()).rotations).toBe(1)
    const started = await key(old.ID)
    expect(started).toMatchObject({ rotationReason: 'policy', rotationError: null })
    const successorId = started.rotatedTo_ID
    expect(await successorsOf(old.ID)).toEqual([successorId])
    // never two successors: the next scan and a manual rotate find the one there is
    expect((await scan()).rotations).toBe(0)
    const manual = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect([manual.status, manual.data.error?.code]).toEqual([409, 'KEY_ALREADY_ROTATED'])
    expect(await successorsOf(old.ID)).toEqual([successorId])

    const successor = await waitFor(admin, `${API}/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed'))
    expect(successor).toMatchObject({
      state_code: 'Ready',
      verification_code: 'ok',
      rotatedFrom_ID: old.ID,
      rotationReason: 'policy',
      rotateEveryDays: 30,
      rotationOverlapHours: 2
    })
    expect(Math.abs(Date.parse(successor.rotatedAt) - clock.now())).toBeLessThan(60_000)
    // the lineage, both ways, through the API
    const expanded = (await admin.get(`${API}/ServiceKeys(${old.ID})?$expand=rotatedTo($select=ID,name)`)).data
    expect(expanded.rotatedTo).toMatchObject({ ID: successorId, name: successor.name })
    await until(() => eventsOf('KeyRotated', successorId).length > 0, 'KeyRotated')
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: successorId, status: 'Active' })
    const waiting = await key(old.ID)
    expect(waiting.state_code).toBe('Ready')
    expect(Date.parse(waiting.rotatedAt)).toBeGreaterThanOrEqual(Date.parse(successor.rotatedAt))
    expect(Date.parse(waiting.retireAt) - clock.now()).toBeGreaterThan(2 * HOUR - 60_000)
    expect(Date.parse(waiting.retireAt) - clock.now()).toBeLessThanOrEqual(2 * HOUR)
    const [rotated] = eventsOf('KeyRotated', successorId)
    expect(rotated.data).toMatchObject({ rotatedFrom: old.ID, rotatedFromName: 'by-age', reason: 'policy', retireAt: waiting.retireAt })

    // within the overlap the old key stays, in SM too; the successor is not due itself
    clock.advance(1 * HOUR)
    expect((await scan()).rotations).toBe(0)
    await quietFor(300)
    expect(await key(old.ID)).toMatchObject({ state_code: 'Ready', desired: 'present' })
    expect(emu.bindings().some(b => b.id === old.smId)).toBe(true)
    // past it, it goes
    clock.advance(1 * HOUR + 60_000)
    await scan()
    const retired = await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'))
    expect(retired.state_code).toBe('Deleted')
    expect((await admin.get(`${API}/Operations(${retired.lastOperation_ID})`)).data).toMatchObject({ type: 'retire', state_code: 'succeeded' })
    expect(emu.bindings().some(b => b.id === old.smId)).toBe(false)
    expect(emu.bindings().some(b => b.id === successor.smId)).toBe(true)
  })

  test("a generated certificate within rotateBeforeExpiryDays of its end rotates; the successor's runs from the emulator's time", async () => {
    const ai = await readyInstance('rotation-policy-ai', PLANS.sub1.aicoreExtended)
    const old = await readyKey({ instance_ID: ai.ID, name: 'by-expiry', credentialType: 'x509', validity: 7, rotateBeforeExpiryDays: 5 })
    expect(old.verification_code).toBe('ok')
    expect((await scan()).rotations).toBe(0) // 7 days left

    // three days on, for the app and for Service Manager: 4 days left
    clock.advance(3 * DAY)
    emu.advanceClock(3 * DAY)
    expect((await scan()).rotations).toBe(1)
    const successorId = (await key(old.ID)).rotatedTo_ID
    const successor = await waitFor(admin, `${API}/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed'))
    expect(successor).toMatchObject({ state_code: 'Ready', verification_code: 'ok', credentialType: 'x509', validity: 7, rotationReason: 'policy' })
    // issued at the emulator's time: valid 7 days from 3 days on
    expect(Date.parse(successor.expiresAt) - Date.parse(old.expiresAt)).toBeGreaterThan(3 * DAY - HOUR)
    await until(() => eventsOf('KeyRotated', successorId).length > 0, 'KeyRotated')
    expect((await key(old.ID)).retireAt).toBeTruthy()
  })

  test('a successor that does not work stops the rotation: deleted, the old key keeps its registrations; the policy tries again', async () => {
    const old = await readyKey({ instance_ID: calm.ID, name: 'broken-successor', rotateEveryDays: 10 })
    const reg = await register(old.ID, 'tenant-broken')
    clock.advance(11 * DAY)
    // the successor is created in SM, but its token endpoint refuses it (the SM client's own token is cached)
    emu.addFault({ method: 'POST', path: '/oauth/token', status: 401, body: { error: 'invalid_client', error_description: 'Bad credentials' } })
    expect((await scan()).rotations).toBe(1)
    const [successorId] = await successorsOf(old.ID)
    const failed = await waitFor(admin, `${API}/ServiceKeys(${successorId})`, stateIs('Deleted'))
    expect(failed).toMatchObject({ desired: 'absent', verification_code: 'failed', rotatedFrom_ID: old.ID })
    expect(emu.bindings().some(b => b.id === failed.smId)).toBe(false)

    const after = await key(old.ID)
    expect(after).toMatchObject({ state_code: 'Ready', desired: 'present', retireAt: null, rotatedTo_ID: null, rotationReason: 'policy' })
    expect(after.rotationError).toMatch(/^The rotation stopped: the new key does not work \(The token endpoint refused the key \(401\)/)
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: old.ID, status: 'Active' })
    expect(emu.bindings().some(b => b.id === old.smId)).toBe(true)
    await until(() => eventsOf('KeyRotationFailed', old.ID).length > 0, 'KeyRotationFailed')
    expect(eventsOf('KeyRotationFailed', old.ID)[0].data).toMatchObject({ name: 'broken-successor', successor: successorId, successorName: failed.name, reason: 'policy', subaccount: SUB1 })
    expect(eventsOf('KeyRotated', successorId)).toEqual([])
    await until(() => events.some(e => e.event === 'messaging:KeyRotationFailed' && e.data.serviceKey === old.ID), 'KeyRotationFailed on the broker')
    expect(eventsOf('KeyReady', successorId)).toEqual([])

    // the next scan tries again, and this time the successor works
    expect((await scan()).rotations).toBe(1)
    const retry = (await successorsOf(old.ID)).find(ID => ID !== successorId)!
    expect(retry).toBeTruthy()
    expect(await waitFor(admin, `${API}/ServiceKeys(${retry})`, stateIs('Ready', 'Failed'))).toMatchObject({ state_code: 'Ready', lastError: null })
    await until(() => eventsOf('KeyRotated', retry).length > 0, 'KeyRotated')
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: retry, status: 'Active' })
    expect((await key(old.ID)).rotationError).toBeNull()
  })
})

describe('a rotation that stops', () => {
  test('a successor Service Manager refuses to create: deleted, KeyRotationFailed, the old key goes on', async () => {
    const old = await readyKey({ instance_ID: calm.ID, name: 'refused-successor' })
    const reg = await register(old.ID, 'tenant-refused')
    emu.addFault({ method: 'POST', path: '/v1/service_bindings', status: 400, body: { error: 'BadRequest', description: 'binding quota exceeded' } })
    const rotated = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    const gone = await waitFor(admin, `${API}/ServiceKeys(${rotated.data.ID})`, stateIs('Deleted'))
    expect(gone).toMatchObject({ desired: 'absent', rotationReason: 'manual' })
    const after = await key(old.ID)
    expect(after).toMatchObject({ state_code: 'Ready', rotatedTo_ID: null, retireAt: null })
    expect(after.rotationError).toMatch(/^The rotation stopped: the new key could not be created \(.*binding quota exceeded/)
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: old.ID, status: 'Active' })
    await until(() => eventsOf('KeyRotationFailed', old.ID).length > 0, 'KeyRotationFailed')
    expect(eventsOf('KeyRotationFailed', old.ID)[0].data).toMatchObject({ successor: rotated.data.ID, reason: 'manual' })
    // and may be rotated again
    const again = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect(again.status).toBe(200)
    expect(await waitFor(admin, `${API}/ServiceKeys(${again.data.ID})`, stateIs('Ready', 'Failed'))).toMatchObject({ state_code: 'Ready' })
  })
})

describe('keys with their owner\'s certificate', () => {
  let ca: IssuedCert
  let aicore: { ID: string }

  beforeAll(async () => {
    ca = await makeCa({ cn: 'ABAP system CA' })
    aicore = await readyInstance('rotation-policy-own', PLANS.sub1.aicoreExtended)
  })

  test('wait for a newer certificate (CertificateRenewalNeeded), then rotate onto it and hand over after a manual verify', async () => {
    const first = await makeLeaf(ca, { cn: 'ABC client 200', eku: ['clientAuth'], days: 20 })
    const cert = await admin.post(`${API}/Certificates`, { pem: first.certPem })
    expect(cert.status).toBe(201)
    const old = await readyKey({ instance_ID: aicore.ID, name: 'own-cert', credentialType: 'x509', certificate_ID: cert.data.ID, rotateBeforeExpiryDays: 14 })
    expect((await admin.post(`${API}/ServiceKeys(${old.ID})/verify`, { privateKey: first.keyPem })).status).toBe(200)
    const reg = await register(old.ID, 'tenant-own')
    expect(reg.status).toBe('Active')
    expect((await scan()).rotations).toBe(0)
    expect(eventsOf('CertificateRenewalNeeded', old.ID)).toEqual([])

    // 10 days on: the certificate ends within 14 days, and there is no newer one
    clock.advance(10 * DAY)
    expect((await scan()).rotations).toBe(0)
    await until(() => eventsOf('CertificateRenewalNeeded', old.ID).length > 0, 'CertificateRenewalNeeded')
    const [needed] = eventsOf('CertificateRenewalNeeded', old.ID)
    expect(needed.data).toMatchObject({ name: 'own-cert', certificate: cert.data.ID, subject: cert.data.subject, subaccount: SUB1 })
    expect(needed.data.daysLeft).toBeGreaterThanOrEqual(8) // 20 days of validity from a day before it was made
    expect(needed.data.daysLeft).toBeLessThanOrEqual(10)
    expect((await key(old.ID)).rotationError).toMatch(/^Waiting for a newer certificate/)
    // announced once, not at every scan
    expect((await scan()).rotations).toBe(0)
    await quietFor(200)
    expect(eventsOf('CertificateRenewalNeeded', old.ID)).toHaveLength(1)

    // the owner uploads the renewed certificate (same subject, valid longer): the next scan rotates onto it
    const second = await makeLeaf(ca, { cn: 'ABC client 200', eku: ['clientAuth'], days: 400 })
    const renewed = await admin.post(`${API}/Certificates`, { pem: second.certPem })
    expect(renewed.status).toBe(201)
    expect(renewed.data.subject).toBe(cert.data.subject)
    expect((await scan()).rotations).toBe(1)
    const successorId = (await key(old.ID)).rotatedTo_ID
    const successor = await waitFor(admin, `${API}/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed'))
    expect(successor).toMatchObject({ state_code: 'Ready', lastError: null, certificate_ID: renewed.data.ID, certFingerprint: renewed.data.fingerprint, verification_code: null })
    const post = emu.calls.find(c => c.method === 'POST' && c.path === '/v1/service_bindings' && c.body?.name === successor.name)!
    expect(JSON.stringify(post.body.parameters)).toContain(JSON.stringify(renewed.data.pem).slice(1, 60))

    // not verified yet: nothing moved
    await quietFor(300)
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: old.ID, status: 'Active' })
    expect((await key(old.ID)).retireAt).toBeNull()
    expect(eventsOf('KeyRotated', successorId)).toEqual([])
    // a newer certificate, so the scan neither rotates again nor asks again
    expect((await scan()).rotations).toBe(0)

    const verified = await admin.post(`${API}/ServiceKeys(${successorId})/verify`, { privateKey: second.keyPem })
    expect(verified.status).toBe(200)
    expect(verified.data.verification_code).toBe('ok')
    expect(await registration(reg.ID)).toMatchObject({ serviceKey_ID: successorId, status: 'Active' })
    const waiting = await key(old.ID)
    expect(waiting).toMatchObject({ state_code: 'Ready', rotatedTo_ID: successorId, rotationError: null })
    expect(waiting.retireAt).toBeTruthy()
    await until(() => eventsOf('KeyRotated', successorId).length > 0, 'KeyRotated')
    expect(eventsOf('KeyRotated', successorId)[0].data).toMatchObject({ reason: 'policy', rotatedFrom: old.ID, retireAt: waiting.retireAt })
    // a second verify hands over nothing twice
    expect((await admin.post(`${API}/ServiceKeys(${successorId})/verify`, { privateKey: second.keyPem })).status).toBe(200)
    await quietFor(200)
    expect(eventsOf('KeyRotated', successorId)).toHaveLength(1)
  })
})

describe('events', () => {
  test('reach the subscribers without a secret', () => {
    const seen = new Set(events.map(e => e.event))
    for (const event of ['KeyRotated', 'KeyRotationFailed', 'CertificateRenewalNeeded', 'messaging:KeyRotationFailed']) expect(seen).toContain(event)
    const text = JSON.stringify(events)
    expect(text).not.toMatch(/clientsecret|client_secret|PRIVATE KEY|BEGIN CERTIFICATE|access_token/i)
    for (const b of emu.bindings()) {
      const secret = (b.credentials as { clientsecret?: string; uaa?: { clientsecret?: string } } | undefined)?.clientsecret
      if (secret) expect(text).not.toContain(secret)
    }
    for (const e of events.filter(e => ['KeyRotated', 'KeyRotationFailed', 'CertificateRenewalNeeded'].includes(e.event)))
      expect(Object.keys(e.data).every(k => !/secret|key$|pem|token/i.test(k) || k === 'serviceKey')).toBe(true)
  })
})

/**
 * A process killed at each step of a rotation: the app as a child process on a SQLite file, a standalone
 * emulator whose state survives it; after a restart on the same database the rotation ends as it would have,
 * with one binding per key in SM and the registration on the successor.
 */
describe('a crash at each step of a rotation resumes it', () => {
  const PROVISIONING = { pollInitial: '100ms', pollMax: '500ms', pollSlice: '1s', retryMax: '1s', stepDeadline: '2m', rotationOverlap: '4s' }
  let cemu: EmulatorProcess
  let capp: AppProcess
  let cfg: AppConfig
  let dir: string
  let starts = 0
  let instanceId: string

  const restart = async () => {
    capp = await AppProcess.start(`rotation-crash-app-${++starts}`, cfg)
  }
  const bindingsOf = async (ID: string) => (await cemu.state({ calls: false })).bindings.filter(b => recordOf(b) === ID)
  const bindingPosts = async (name: string) => (await cemu.state()).calls.filter(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === name && c.status < 300)

  /** A Ready key with a registration, rotated: the successor's ID, once the rotation was asked for. */
  async function rotatedKey(name: string) {
    const k = await capp.post('/ServiceKeys', { instance_ID: instanceId, name })
    expect(k.status).toBe(201)
    const old = await capp.waitFor(`/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(old.state_code).toBe('Ready')
    const reg = await capp.post('/Registrations', { serviceKey_ID: old.ID, consumerType: 'cloud-alm-landscape', tenant: `tenant-${name}` })
    expect(reg.status).toBe(201)
    return { old, reg: reg.data }
  }

  /**
   * After the restart: the successor took over with one binding (one POST that SM took); the old key is
   * retired after the overlap (waited for where the test is about that step).
   */
  async function expectRotated(old: { ID: string }, successorId: string, regId: string, waitForRetirement: boolean) {
    const successor = await capp.waitFor(`/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed', 'Deleted'), 60_000)
    expect(successor).toMatchObject({ state_code: 'Ready', verification_code: 'ok', lastError: null, rotatedFrom_ID: old.ID })
    expect((await capp.get(`/Registrations(${regId})`)).data).toMatchObject({ serviceKey_ID: successorId, status: 'Active' })
    expect(await bindingsOf(successorId)).toHaveLength(1)
    expect(await bindingPosts(successor.name)).toHaveLength(1)
    const oldKey = (await capp.get(`/ServiceKeys(${old.ID})`)).data
    expect(oldKey).toMatchObject({ rotatedTo_ID: successorId, rotationReason: 'manual' })
    expect(oldKey.retireAt).toBeTruthy()
    if (!waitForRetirement) return
    const retired = await capp.waitFor(`/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'), 60_000)
    expect(retired.state_code).toBe('Deleted')
    expect(await bindingsOf(old.ID)).toHaveLength(0)
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'skm-rotation-crash-'))
    cemu = await EmulatorProcess.start('rotation-crash-emulator')
    cfg = { db: { kind: 'sqlite', credentials: { url: path.join(dir, 'db.sqlite') } }, emulator: cemu, provisioning: PROVISIONING }
    await deploy(cfg)
    await restart()
    const inst = await capp.post('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'rotation-crash' })
    expect(inst.status).toBe(201)
    instanceId = inst.data.ID
    expect((await capp.waitFor(`/ServiceInstances(${instanceId})`, stateIs('Ready', 'Failed'))).state_code).toBe('Ready')
  }, 120_000)

  afterAll(async () => {
    await stopAll()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  afterEach(() => cemu.clearFaults())

  test('killed after the successor row was written, before Service Manager created it', async () => {
    const { old, reg } = await rotatedKey('crash-row')
    // Service Manager is down: the successor's create cannot get through
    await cemu.addFault({ method: 'POST', path: BINDINGS, status: 503, times: 1000 })
    const rotated = await capp.post(`/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    const successorId = rotated.data.ID
    await cemu.waitForCall(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === rotated.data.name, 'the successor POST')
    await capp.kill()
    expect(await bindingsOf(successorId)).toHaveLength(0)

    await cemu.clearFaults()
    await restart()
    const successor = await capp.waitFor(`/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed'), 60_000)
    expect(successor.state_code).toBe('Ready')
    await expectRotated(old, successorId, reg.ID, false)
  }, 120_000)

  test('killed while the successor, created in Service Manager, was being verified (before the hand-over)', async () => {
    const { old, reg } = await rotatedKey('crash-verify')
    // the successor's token check is the next token request (the app's own SM token is cached)
    const since = Date.now()
    await cemu.addFault({ method: 'POST', path: '/oauth/token', delayResponseMs: 60_000 })
    const rotated = await capp.post(`/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    const successorId = rotated.data.ID
    await cemu.waitForCall(c => c.path === '/oauth/token' && c.at >= since, 'the verification')
    await capp.kill()
    expect(await bindingsOf(successorId)).toHaveLength(1)
    expect((await cemu.state()).calls.filter(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === rotated.data.name)).toHaveLength(1)

    await restart()
    // not handed over before the restarted process verified it
    await expectRotated(old, successorId, reg.ID, false)
  }, 120_000)

  test('killed after the hand-over, before the old key was retired', async () => {
    const { old, reg } = await rotatedKey('crash-retire')
    const rotated = await capp.post(`/ServiceKeys(${old.ID})/rotate`, {})
    const successorId = rotated.data.ID
    await capp.waitFor(`/Registrations(${reg.ID})`, r => r.serviceKey_ID === successorId)
    const waiting = (await capp.get(`/ServiceKeys(${old.ID})`)).data
    await capp.kill()
    expect(waiting).toMatchObject({ state_code: 'Ready', rotatedTo_ID: successorId })
    expect(Date.parse(waiting.retireAt)).toBeGreaterThan(Date.now())
    expect(await bindingsOf(old.ID)).toHaveLength(1)

    await restart()
    await expectRotated(old, successorId, reg.ID, true)
  }, 120_000)

  test("the emulator's clock moves through its admin API", async () => {
    const move = async (body: unknown) => (await fetch(`${cemu.url}/__emulator/clock`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json()
    const ahead = await move({ advanceMs: 2 * DAY })
    expect(ahead.offsetMs).toBeGreaterThan(2 * DAY - 60_000)
    expect(Date.parse(ahead.now) - Date.now()).toBeGreaterThan(2 * DAY - 60_000)
    expect((await move({ reset: true })).offsetMs).toBeLessThan(60_000)
    const bad = await fetch(`${cemu.url}/__emulator/clock`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ advanceMs: 'soon' }) })
    expect(bad.status).toBe(400)
  })
})
