import cds from '@sap/cds'
import path from 'node:path'
import fs from 'node:fs'
import os from 'node:os'
import { inspect } from 'node:util'
import { API, PLANS, SUB1, eventually, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

// everything this suite's server writes to the console, to be scanned for secrets
const logged: string[] = []
const consoleSpies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map(level => {
  const original = console[level].bind(console)
  return jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
    logged.push(args.map(a => (typeof a === 'string' ? a : safeInspect(a))).join(' '))
    original(...args)
  })
})
function safeInspect(a: unknown) {
  return inspect(a, { depth: 8 })
}

// declared before useApp (cds.test), so it runs before the server stops
afterAll(() => consoleSpies.forEach(s => s.mockRestore()))
const { as, admin, emu } = useApp()

let key: { ID: string; smId: string; name: string; instance_ID: string }
const auditRecords: Record<string, any>[] = []
const failedEvents: Record<string, any>[] = []

beforeAll(async () => {
  // the most talkative log levels for our own components, so the scan below has something to scan
  for (const id of ['orchestrator', 'sm-client', 'service-manager', 'verification', 'key-health']) cds.log(id, 'debug')
  const audit = await cds.connect.to('audit-log')
  cds.unqueued(audit).before('SensitiveDataRead', req => {
    auditRecords.push(req.data)
  })
  const service = await cds.connect.to('ProvisioningService')
  service.on('KeyVerificationFailed', msg => {
    failedEvents.push(msg.data)
  })
  const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.cloudAlmApi, name: 'calm-landscape' })
  await waitFor(admin, `${API}/ServiceInstances(${inst.data.ID})`, stateIs('Ready'))
  const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: 'calm-lm-key' })
  key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, row => row.state_code === 'Ready' && row.verification_code !== null)
})

const secretOf = () => emu.bindings().find(b => b.id === key.smId).credentials.uaa.clientsecret as string

const waitForAudit = (count: number) =>
  eventually(() => auditRecords.length >= count, { what: `${count} audit records`, timeout: 10000, interval: 50 })

describe('credentials on demand', () => {
  test('a new key was verified right after creation with its client secret', async () => {
    expect(key).toMatchObject({ verification_code: 'ok', verifyStatus: 200 })
    const ops = await admin.get(`${API}/ServiceKeys(${key.ID})/operations?$filter=type eq 'verify'`)
    expect(ops.data.value).toHaveLength(1)
    expect(ops.data.value[0]).toMatchObject({ state_code: 'succeeded', httpStatus: 200 })
  })

  test('reveal: 403 without the CredentialReader role', async () => {
    for (const user of ['viewer', 'provisioner'] as const) {
      const res = await as(user).post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})
      expect(res.status).toBe(403)
    }
    const dl = await as('viewer').get(`${API}/ServiceKeys(${key.ID})/downloadCredentials()`)
    expect(dl.status).toBe(403)
    expect(auditRecords).toHaveLength(0)
  })

  test('reveal: the live credentials for a CredentialReader, one audit record per read', async () => {
    const reader = as('reader')
    const res = await reader.post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})
    expect(res.status).toBe(200)
    const credentials = JSON.parse(res.data.value)
    expect(credentials).toEqual(emu.bindings().find(b => b.id === key.smId).credentials)
    expect(credentials.endpoints.Api).toBeTruthy()
    expect(credentials.uaa.clientsecret).toBe(secretOf())
    await waitForAudit(1)
    expect(auditRecords).toHaveLength(1)
    expect(auditRecords[0]).toMatchObject({ user: 'reader', object: { id: { ID: key.ID } }, attributes: [{ name: 'credentials' }] })
    expect(auditRecords[0].time).toBeDefined()

    const again = await reader.post(`${API}/ServiceKeys(${key.ID})/revealCredentials`, {})
    expect(again.status).toBe(200)
    await waitForAudit(2)
    expect(auditRecords).toHaveLength(2)
  })

  test('download: the cockpit service key JSON as a file, audit-logged', async () => {
    const res = await as('reader').get(`${API}/ServiceKeys(${key.ID})/downloadCredentials()`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/application\/json/)
    expect(res.headers['content-disposition']).toBe('attachment; filename="calm-lm-key.json"')
    const body = typeof res.data === 'string' ? JSON.parse(res.data) : res.data
    expect(body.uaa.clientid).toBe(emu.bindings().find(b => b.id === key.smId).credentials.uaa.clientid)
    await waitForAudit(3)
    expect(auditRecords).toHaveLength(3)
  })

  test('a key whose secret was revoked: verify fails with a clear message and emits KeyVerificationFailed', async () => {
    emu.revokeBinding(key.smId)
    const res = await admin.post(`${API}/ServiceKeys(${key.ID})/verify`, {})
    expect(res.status).toBe(200)
    expect(res.data).toMatchObject({ verification_code: 'failed', verifyStatus: 401 })
    expect(res.data.verifyMessage).toMatch(/The token endpoint refused the key \(401\)/)
    await eventually(() => failedEvents.length > 0, { what: 'KeyVerificationFailed', timeout: 5000, interval: 50 })
    expect(failedEvents).toHaveLength(1)
    expect(failedEvents[0]).toMatchObject({ serviceKey: key.ID, name: 'calm-lm-key', httpStatus: 401 })
    expect(JSON.stringify(failedEvents[0])).not.toContain(secretOf())
    const history = await admin.get(`${API}/ServiceKeys(${key.ID})/operations?$filter=type eq 'verify'&$orderby=createdAt`)
    expect(history.data.value.map((o: { state_code: string }) => o.state_code)).toEqual(['succeeded', 'failed'])
  })

  test('no response, database row or log line of the run holds a secret', async () => {
    const secrets = emu.bindings().flatMap(b => {
      const c = b.credentials ?? {}
      const oauth = c.uaa ?? c
      return [oauth.clientsecret, oauth.key].filter(Boolean)
    }) as string[]
    expect(secrets.length).toBeGreaterThan(0)

    // every entity set as a reader would list it
    for (const set of ['ServiceKeys', 'ServiceInstances', 'Operations', 'Subaccounts', 'Certificates']) {
      const res = await admin.get(`${API}/${set}`)
      expect(res.status).toBe(200)
      for (const s of secrets) expect(JSON.stringify(res.data)).not.toContain(s)
      expect(JSON.stringify(res.data)).not.toMatch(/clientsecret/i)
    }

    // the database file itself
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'skm-db-')), 'snapshot.sqlite')
    await cds.db.tx(async tx => {
      await tx.run(SELECT.one.from('btp.provisioning.ServiceKeys')) // acquires the connection
      // the in-memory database's file image (SQLite's serialize), written out as a database file
      fs.writeFileSync(file, (tx as unknown as { dbc: { serialize(): Buffer } }).dbc.serialize())
    })
    const bytes = fs.readFileSync(file).toString('latin1')
    expect(bytes.startsWith('SQLite format 3')).toBe(true)
    expect(bytes.length).toBeGreaterThan(10000)
    expect(bytes).toContain(key.ID) // the scan reads real content
    for (const s of secrets) expect(bytes).not.toContain(s)

    // everything logged by this run
    const logs = logged.join('\n')
    expect(logs.length).toBeGreaterThan(0)
    for (const s of secrets) expect(logs).not.toContain(s)
    for (const t of ['dev-only-emulator-secret-1', 'dev-only-emulator-secret-2']) expect(logs).not.toContain(t)
  })
})
