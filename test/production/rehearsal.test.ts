import fs from 'node:fs'
import path from 'node:path'
import { postgresDatabase } from '../fixtures/postgres'
import { startJwtIssuer, type JwtIssuer } from '../fixtures/jwt-issuer'
import { EmulatorProcess, stopAll } from '../resilience/support'
import { eventually } from '../support/eventually'
import { DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID, DEV_TENANT_1_CLIENT_ID, DEV_TENANT_1_CLIENT_SECRET, DEV_TENANT_2_CLIENT_ID, DEV_TENANT_2_CLIENT_SECRET } from '../../emulator/catalog'
import {
  NODE_LINE,
  OUT,
  ROOT,
  buildCopy,
  cleanEnv,
  installProductionDependencies,
  node22,
  rssMb,
  run,
  startAuditLog,
  startApprouter,
  startServer,
  type AuditLogService,
  type ServerProcess
} from './support'

/**
 * Production rehearsal, as an operator would deploy, without BTP: `npm run build:cf`, the production
 * dependencies of gen/srv installed from its lockfile (`npm ci --omit=dev`, engine-strict on Node 22), the
 * built server on Node 22 with NODE_ENV=production on PostgreSQL; an XSUAA binding in VCAP_SERVICES whose
 * keys come from a local issuer, an audit log binding to a local audit log service, each subaccount's
 * Service Manager through a destination (environment variable `destinations`) to the SM emulator running as
 * a process of its own. Only `cds.requires.db` (PostgreSQL instead of HANA) and `cds.requires.messaging`
 * (file-based instead of Event Mesh) are overridden.
 */

jest.setTimeout(240_000)

const API = '/odata/v4/provisioning'
const XSAPPNAME = 'service-key-manager-rehearsal!t1'
const CLIENTID = `sb-${XSAPPNAME}`
const AUDIT_CLIENT = { clientid: 'sb-auditlog-rehearsal', clientsecret: 'rehearsal-audit-secret' }
const DATABASE = `skm_rehearsal_${process.pid}`
const pg = postgresDatabase(DATABASE)
const ALL_ROLES = ['Administrator', 'Provisioner', 'CredentialReader', 'Viewer']

let dir: string
let genSrv: string
let node: string
let prodModules: string
let issuer: JwtIssuer
let audit: AuditLogService
let emu: EmulatorProcess
let server: ServerProcess | undefined
let router: ServerProcess | undefined
let messagesFile: string
const timings: Record<string, number> = {}

const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = Date.now()
  try {
    return await fn()
  } finally {
    timings[name] = Date.now() - t
  }
}

beforeAll(async () => {
  issuer = await startJwtIssuer()
  audit = await startAuditLog(AUDIT_CLIENT.clientid, AUDIT_CLIENT.clientsecret)
  ;[dir, node] = await Promise.all([timed('build', buildCopy), timed('node22', node22)])
  genSrv = path.join(dir, 'gen', 'srv')
  prodModules = await timed('install', () => installProductionDependencies(genSrv, node))
  await timed('postgres', () => pg.create())
  emu = await EmulatorProcess.start('rehearsal-emulator')
}, 15 * 60_000)

afterAll(async () => {
  await router?.stop()
  await server?.stop()
  await stopAll()
  await issuer?.close()
  await audit?.close()
  await pg.drop().catch(() => undefined)
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
}, 60_000)

/** the CDS configuration the rehearsal overrides: the database and the message broker, nothing else */
const overrides = () =>
  JSON.stringify({
    requires: {
      db: { kind: 'postgres', credentials: pg.credentials },
      messaging: { kind: 'file-based-messaging', file: messagesFile }
    }
  })

function vcapServices() {
  return JSON.stringify({
    xsuaa: [
      {
        label: 'xsuaa',
        name: 'service-key-manager-auth',
        plan: 'application',
        tags: ['xsuaa'],
        credentials: { clientid: CLIENTID, clientsecret: 'rehearsal-xsuaa-secret', xsappname: XSAPPNAME, uaadomain: issuer.uaadomain, url: issuer.url, identityzone: 'test', tenantid: 'test-zone' }
      }
    ],
    auditlog: [
      {
        label: 'auditlog',
        name: 'service-key-manager-auditlog',
        plan: 'oauth2',
        tags: ['auditlog'],
        credentials: { url: audit.url, uaa: { url: audit.url, ...AUDIT_CLIENT, tenantid: 'test-zone' } }
      }
    ]
  })
}

/** BTP destinations as the SAP Cloud SDK reads them from the environment: one per subaccount's SM */
function destinations() {
  const dest = (name: string, clientId: string, clientSecret: string) => ({
    name,
    url: emu.url,
    authentication: 'OAuth2ClientCredentials',
    clientId,
    clientSecret,
    tokenServiceUrl: `${emu.url}/oauth/token`
  })
  return JSON.stringify([dest('sm-rehearsal-1', DEV_TENANT_1_CLIENT_ID, DEV_TENANT_1_CLIENT_SECRET), dest('sm-rehearsal-2', DEV_TENANT_2_CLIENT_ID, DEV_TENANT_2_CLIENT_SECRET)])
}

function productionEnv(extra: Record<string, string> = {}) {
  const ca = path.join(dir, 'trusted-ca.pem')
  fs.writeFileSync(ca, `${issuer.caPem}\n${audit.caPem}\n`)
  return cleanEnv({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    VCAP_SERVICES: vcapServices(),
    destinations: destinations(),
    CDS_CONFIG: overrides(),
    NODE_EXTRA_CA_CERTS: ca,
    ...extra
  })
}

// ---- HTTP -------------------------------------------------------------------------------------------------

interface Answer {
  status: number
  data: any
  text: string
  headers: Headers
}

async function call(method: string, p: string, auth?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (auth) headers.authorization = auth
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${server!.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  let data: any
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = undefined
  }
  return { status: res.status, data, text, headers: res.headers }
}

const tokenFor = async (roles: string[], subaccounts?: string[]) =>
  `Bearer ${await issuer.token({
    scope: ['openid', ...roles.map(r => `${XSAPPNAME}.${r}`)],
    aud: [XSAPPNAME, CLIENTID],
    cid: CLIENTID,
    azp: CLIENTID,
    ...(subaccounts ? { 'xs.user.attributes': { Subaccount: subaccounts } } : {})
  })}`

function waitFor(p: string, auth: string, done: (a: Answer) => boolean, what: string, timeoutMs = 30_000): Promise<Answer> {
  return eventually(() => call('GET', p, auth), {
    what,
    until: done,
    show: last => `${last.status} ${last.text.slice(0, 600)}\n${server?.output().slice(-3000)}`,
    timeout: timeoutMs,
    interval: 200
  })
}

const stateIs = (...states: string[]) => (a: Answer) => a.status === 200 && states.includes(a.data?.state_code)

// ---- the rehearsal ----------------------------------------------------------------------------------------

describe('the build', () => {
  test('gen/srv is the compiled app with production dependencies only, pinned to Node 22', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(genSrv, 'package.json'), 'utf8'))
    expect(pkg.engines.node).toBe(NODE_LINE)
    expect(pkg.scripts.start).toBe('cds-serve')
    expect(Object.keys(pkg.dependencies)).not.toContain('@cap-js/sqlite')
    expect(fs.existsSync(path.join(prodModules, '@sap', 'cds'))).toBe(true)
    expect(fs.existsSync(path.join(prodModules, '@sap', 'xb-msg-amqp-v100'))).toBe(true)
    // installed with --omit=dev: no test or build tooling, no native SQLite build
    for (const dev of ['@cap-js/sqlite', 'better-sqlite3', '@sap/cds-dk', 'jest', 'typescript', 'tsx']) expect({ dev, installed: fs.existsSync(path.join(prodModules, dev)) }).toEqual({ dev, installed: false })
  })

  test('the emulator is not part of the build: nothing in gen/srv can load it', () => {
    expect(fs.existsSync(path.join(genSrv, 'emulator'))).toBe(false)
    const files = (fs.readdirSync(genSrv, { recursive: true }) as string[]).filter(f => !f.startsWith('node_modules') && !f.startsWith('app'))
    expect(files.filter(f => /(^|\/)emulator(\/|\.js$)/.test(f))).toEqual([])
    expect(() => require.resolve('../../emulator', { paths: [path.join(genSrv, 'srv', 'service-manager')] })).toThrow()
  })

  test('no sample data in the HANA artifacts: code lists and templates only', () => {
    const data = (fs.readdirSync(path.join(dir, 'gen', 'db', 'src'), { recursive: true }) as string[]).filter(f => /\.(csv|hdbtabledata)$/.test(f)).map(f => path.basename(f))
    expect(data.length).toBeGreaterThan(0)
    expect(data.filter(f => /Subaccounts|ServiceOfferings|ServicePlans/.test(f))).toEqual([])
    const all = data.filter(f => f.endsWith('.csv')).map(f => fs.readFileSync(path.join(dir, 'gen', 'db', 'src', 'gen', 'data', f), 'utf8')).join('\n')
    for (const sample of [DEV_SUBACCOUNT_1_ID, DEV_SUBACCOUNT_2_ID, 'ACME']) expect(all).not.toContain(sample)
  })

  test('start-up names every missing binding: without VCAP_SERVICES, the production profile lacks them all', async () => {
    const out = await run(node, ['-e', "require('./srv/lib/bindings').reportBindings()"], { cwd: genSrv, env: cleanEnv({ NODE_ENV: 'production' }) })
    for (const service of ['auth', 'audit-log', 'messaging', 'service-manager']) expect(out).toMatch(new RegExp(`Missing binding for ${service}: bind`))
  })
})

describe('the built server on Node 22, NODE_ENV=production, PostgreSQL', () => {
  let admin: string
  let reader: string
  let viewer: string
  let scoped: string
  const sub: Record<string, string> = {}

  beforeAll(async () => {
    messagesFile = path.join(dir, 'messages.json')
    await timed('deploy', () =>
      run(path.join(ROOT, 'node_modules', '.bin', 'cds'), ['deploy', '--profile', 'production'], { cwd: dir, env: cleanEnv({ CDS_CONFIG: overrides() }), timeoutMs: 120_000 })
    )
    server = await startServer(node, genSrv, productionEnv())
    timings.start = server.startMs
    ;[admin, reader, viewer, scoped] = await Promise.all([
      tokenFor(ALL_ROLES),
      tokenFor(['CredentialReader', 'Viewer']),
      tokenFor(['Viewer']),
      tokenFor(['Provisioner', 'CredentialReader', 'Viewer'], [DEV_SUBACCOUNT_1_ID])
    ])
  }, 180_000)

  test('it runs on Node 22 and knows every binding it needs', () => {
    expect(server!.output()).not.toMatch(/Missing binding/)
    expect(server!.output()).not.toMatch(/emulator listening/i)
  })

  test('/health answers UP', async () => {
    const res = await call('GET', '/health')
    expect([res.status, res.data]).toEqual([200, { status: 'UP' }])
  })

  test('no mocked users: basic auth and requests without a token are refused', async () => {
    const basic = `Basic ${Buffer.from('admin:admin').toString('base64')}`
    expect((await call('GET', `${API}/Subaccounts`, basic)).status).toBe(401)
    expect((await call('GET', `${API}/Subaccounts`)).status).toBe(401)
  })

  test('the approuter in front (installed from its lockfile, on Node 22): login first, the logged-out page public, logout POST-only with a CSRF token', async () => {
    const destinationsOfRouter = JSON.stringify([
      { name: 'srv-api', url: server!.url, forwardAuthToken: true },
      { name: 'ui5', url: 'https://ui5.sap.com' }
    ])
    router = await startApprouter(node, path.join(dir, 'app', 'router'), cleanEnv({ VCAP_SERVICES: vcapServices(), destinations: destinationsOfRouter, NODE_EXTRA_CA_CERTS: path.join(dir, 'trusted-ca.pem') }))
    const get = (p: string, init: RequestInit = {}) => fetch(`${router!.url}${p}`, { redirect: 'manual', ...init })

    const page = await get('/logged-out.html')
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('You are logged out.')
    // the apps and the API only after a login at the issuer
    const app = await get('/index.html')
    const appText = await app.text()
    expect(appText).toContain(`${issuer.url}/oauth/authorize`)
    expect(appText).not.toContain('tile-servicekeys')
    const api = await get(`${API}/ServiceKeys`)
    expect(api.status === 401 || (await api.text()).includes(`${issuer.url}/oauth/authorize`)).toBe(true)
    // logout: not by GET (a link or an image elsewhere), not by a POST without the CSRF token
    expect((await get('/do/logout')).status).toBeGreaterThanOrEqual(400)
    expect((await get('/do/logout', { method: 'POST' })).status).toBe(403)
  })

  test('no sample rows: no subaccount, no catalog; the templates are there', async () => {
    expect((await call('GET', `${API}/Subaccounts`, admin)).data.value).toEqual([])
    expect((await call('GET', `${API}/ServicePlans`, admin)).data.value).toEqual([])
    expect((await call('GET', `${API}/Templates`, admin)).data.value.length).toBeGreaterThan(0)
  })

  test('an administrator registers two subaccounts with their destinations and syncs their catalogs', async () => {
    for (const [n, guid] of [
      [1, DEV_SUBACCOUNT_1_ID],
      [2, DEV_SUBACCOUNT_2_ID]
    ] as const) {
      const created = await call('POST', `${API}/Subaccounts`, admin, { displayName: `Rehearsal ${n}`, subaccountId: guid, region: 'eu10', destination: `sm-rehearsal-${n}` })
      expect([created.status, created.text.slice(0, 300)]).toEqual([201, expect.any(String)])
      sub[guid] = created.data.ID
      const synced = await call('POST', `${API}/Subaccounts(${created.data.ID})/syncCatalog`, admin, {})
      expect([synced.status, synced.text.slice(0, 300)]).toEqual([200, expect.any(String)])
    }
  })

  const planOf = async (guid: string, auth: string) => {
    const res = await call('GET', `${API}/ServicePlans?$filter=${encodeURIComponent(`subaccount_ID eq ${sub[guid]} and name eq 'default' and entitled eq true`)}&$expand=offering($select=name)`, auth)
    expect(res.status).toBe(200)
    const plan = res.data.value.find((p: { offering: { name: string } }) => p.offering.name === 'integration-assessment')
    expect(plan).toBeDefined()
    return plan.ID as string
  }

  let keyId: string
  let instanceId: string

  test('an unrestricted user: instance and key to Ready, credentials revealed and audit-logged', async () => {
    const plan = await planOf(DEV_SUBACCOUNT_1_ID, admin)
    const inst = await call('POST', `${API}/ServiceInstances`, admin, { subaccount_ID: sub[DEV_SUBACCOUNT_1_ID], plan_ID: plan, name: 'rehearsal-inst' })
    expect([inst.status, inst.text.slice(0, 300)]).toEqual([201, expect.any(String)])
    instanceId = inst.data.ID
    await waitFor(`${API}/ServiceInstances(${instanceId})`, admin, stateIs('Ready'), 'instance Ready')
    const key = await call('POST', `${API}/ServiceKeys`, admin, { instance_ID: instanceId, name: 'rehearsal-key' })
    expect([key.status, key.text.slice(0, 300)]).toEqual([201, expect.any(String)])
    keyId = key.data.ID
    const ready = await waitFor(`${API}/ServiceKeys(${keyId})`, admin, stateIs('Ready'), 'key Ready')
    expect(ready.data.clientId).toEqual(expect.any(String))

    const before = audit.records.length
    const revealed = await call('POST', `${API}/ServiceKeys(${keyId})/revealCredentials`, reader, {})
    expect(revealed.status).toBe(200)
    expect(JSON.parse(revealed.data.value)).toMatchObject({ clientid: ready.data.clientId, clientsecret: expect.any(String) })
    const record = audit.records.slice(before).find(r => r.kind === 'data-accesses')
    expect(record?.body).toMatchObject({ object: { id: { ID: keyId } }, attributes: [{ name: 'credentials' }] })
    expect(JSON.stringify(record?.body)).not.toContain(JSON.parse(revealed.data.value).clientsecret)
  })

  test('a user limited to one subaccount: sees only it, provisions there, is refused elsewhere', async () => {
    const seen = await call('GET', `${API}/Subaccounts?$select=subaccountId`, scoped)
    expect([seen.status, seen.data?.value?.map((s: { subaccountId: string }) => s.subaccountId), seen.text.slice(0, 300)]).toEqual([200, [DEV_SUBACCOUNT_1_ID], expect.any(String)])
    const plan = await planOf(DEV_SUBACCOUNT_1_ID, scoped)
    const inst = await call('POST', `${API}/ServiceInstances`, scoped, { subaccount_ID: sub[DEV_SUBACCOUNT_1_ID], plan_ID: plan, name: 'rehearsal-scoped' })
    expect([inst.status, inst.text.slice(0, 300)]).toEqual([201, expect.any(String)])
    await waitFor(`${API}/ServiceInstances(${inst.data.ID})`, scoped, stateIs('Ready'), 'scoped instance Ready')
    const key = await call('POST', `${API}/ServiceKeys`, scoped, { instance_ID: inst.data.ID, name: 'rehearsal-scoped-key' })
    expect([key.status, key.text.slice(0, 300)]).toEqual([201, expect.any(String)])
    await waitFor(`${API}/ServiceKeys(${key.data.ID})`, scoped, stateIs('Ready'), 'scoped key Ready')
    expect((await call('POST', `${API}/ServiceKeys(${key.data.ID})/revealCredentials`, scoped, {})).status).toBe(200)

    const otherPlan = await planOf(DEV_SUBACCOUNT_2_ID, admin)
    const elsewhere = await call('POST', `${API}/ServiceInstances`, scoped, { subaccount_ID: sub[DEV_SUBACCOUNT_2_ID], plan_ID: otherPlan, name: 'rehearsal-elsewhere' })
    expect(elsewhere.status).toBe(403)
    const list = await call('GET', `${API}/ServiceInstances?$select=name`, scoped)
    expect(list.data.value.map((i: { name: string }) => i.name).sort()).toEqual(['rehearsal-inst', 'rehearsal-scoped'])

    const deleted = await call('DELETE', `${API}/ServiceInstances(${inst.data.ID})`, scoped)
    expect(deleted.status).toBe(204)
  })

  test('reveal is refused with 503 AUDIT_LOG_UNAVAILABLE while the audit log refuses records; refusals dead-letter, /health is DEGRADED and AuditLogDegraded is raised', async () => {
    audit.setRefusing(true)
    try {
      const refused = await call('POST', `${API}/ServiceKeys(${keyId})/revealCredentials`, reader, {})
      expect([refused.status, refused.data?.error?.code]).toEqual([503, 'AUDIT_LOG_UNAVAILABLE'])
      expect(refused.text).not.toMatch(/clientsecret/i)
      const download = await call('GET', `${API}/ServiceKeys(${keyId})/downloadCredentials()`, reader)
      expect([download.status, download.data?.error?.code]).toEqual([503, 'AUDIT_LOG_UNAVAILABLE'])

      // a viewer's attempt is refused (403) and becomes a security event, which the audit log refuses too
      expect((await call('POST', `${API}/ServiceKeys(${keyId})/revealCredentials`, viewer, {})).status).toBe(403)
      const health = await waitFor('/health', admin, a => a.data?.status === 'DEGRADED', '/health DEGRADED', 30_000)
      expect(health.status).toBe(200)
      expect(health.data.auditLog.deadLetters).toBeGreaterThan(0)
      const messages = await eventually(() => (fs.existsSync(messagesFile) ? fs.readFileSync(messagesFile, 'utf8') : ''), {
        what: 'the AuditLogDegraded event in the message broker file',
        until: text => text.includes('btp.provisioning.AuditLogDegraded'),
        show: text => text.slice(-600),
        timeout: 10_000,
        interval: 200
      })
      expect(messages).toContain('btp.provisioning.AuditLogDegraded')
    } finally {
      audit.setRefusing(false)
    }
  })

  test('a refused reveal reaches the audit log as a security event once it takes records again', async () => {
    const before = audit.records.length
    expect((await call('POST', `${API}/ServiceKeys(${keyId})/revealCredentials`, viewer, {})).status).toBe(403)
    const event = await eventually(() => audit.records.slice(before).find(r => r.kind === 'security-events'), {
      what: 'a security event in the audit log',
      timeout: 15_000,
      interval: 200
    })
    expect(JSON.stringify(event)).toContain('revealCredentials')
    expect(JSON.stringify(event)).toContain(keyId)
  })

  test('cleanup: deleting the instance deletes its key first; then the server reports its start time and memory', async () => {
    const res = await call('DELETE', `${API}/ServiceInstances(${instanceId})`, admin)
    expect(res.status).toBe(204)
    await waitFor(`${API}/ServiceInstances(${instanceId})`, admin, a => a.status === 404 || a.data?.state_code === 'Deleted', 'instance deleted')
    const rss = rssMb(server!.child.pid!)
    const report = { node: (await run(node, ['-v'], { cwd: ROOT })).trim(), startMs: server!.startMs, rssMbAfterLifecycle: rss, timingsMs: timings }
    fs.mkdirSync(OUT, { recursive: true })
    fs.writeFileSync(path.join(OUT, 'rehearsal.json'), JSON.stringify(report, null, 2))
    console.log(`production rehearsal: ${report.node}, server listening after ${report.startMs} ms, RSS after the lifecycle ${rss} MB; steps (ms): ${JSON.stringify(timings)}`)
    expect(report.node).toMatch(new RegExp(`^v${NODE_LINE}\\.`))
    expect(rss).toBeGreaterThan(0)
  })
})
