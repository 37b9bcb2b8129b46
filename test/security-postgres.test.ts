import cds from '@sap/cds'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { makeLeaf } from './fixtures/pki'
import { postgresDatabase } from './fixtures/postgres'
import { scopedFixtures } from './fixtures/scoped-rows'
import { API, PLANS, SUB1, SUB2 } from './helpers'
import { useApp } from './support/app'
import { mockedUsers } from './support/users'
import { fill, listPlans } from './list-plans'
import { observeQueryCache } from '../srv/lib/query-cache'

/**
 * The Subaccount attribute on PostgreSQL: the users of the security matrix limited to some subaccounts
 * (test/security.test.ts runs the whole matrix on SQLite), reading, creating, deleting and calling actions
 * inside and outside their reach; $expand and $filter across scoped entities; and each Fiori app's default
 * list request read through an index (EXPLAIN). PostgreSQL comes from scripts/ensure-postgres.sh (a
 * database of its own for this run, dropped at the end).
 */

const ROOT = path.join(__dirname, '..')
const DATABASE = `skm_security_${process.pid}`
const pg = postgresDatabase(DATABASE)
const GUID1 = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'
const GUID2 = '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72'
const run = promisify(execFile)

jest.setTimeout(60_000)

// declared before cds.test: the database exists and has its schema before the server connects to it
beforeAll(async () => {
  await pg.create()
  const db = { kind: 'postgres', credentials: pg.credentials, data: ['db/data', 'test/data'] }
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (/^cds[._]/i.test(k)) delete env[k]
  Object.assign(env, { NODE_ENV: 'test', CDS_CONFIG: JSON.stringify({ requires: { db } }) })
  await run(process.execPath, [path.join(ROOT, 'node_modules/@sap/cds-dk/bin/cds.js'), 'deploy'], { cwd: ROOT, env, timeout: 120_000 })
  const requires = cds.env.requires as unknown as Record<string, Record<string, unknown>> & { kinds: Record<string, Record<string, unknown>> }
  requires.db = { ...requires.kinds.postgres, credentials: pg.credentials }
}, 12 * 60_000)
const { as: client } = useApp()
afterAll(async () => {
  await pg.drop()
}, 60_000)

// ---- the rules (as in test/security.test.ts), for the users limited to subaccounts -------------------------

type Role = 'Viewer' | 'Provisioner' | 'CredentialReader' | 'Administrator'
type Set = 'Subaccounts' | 'ServiceOfferings' | 'ServicePlans' | 'ServiceInstances' | 'ServiceKeys' | 'Operations'
type Where = 'in' | 'out'
/** the mocked users of .cdsrc.json limited to subaccounts, and which of the subaccounts (1, 2) they reach */
const USERS: Record<string, { roles: Role[]; reach: (1 | 2)[] }> = Object.fromEntries(
  Object.entries(mockedUsers).flatMap(([name, u]) => {
    const guids = u.attr?.Subaccount
    if (!guids) return []
    const reach = ([[1, GUID1], [2, GUID2]] as const).filter(([, g]) => guids.includes(g)).map(([n]) => n)
    return [[name, { roles: (u.roles ?? []) as Role[], reach }]]
  })
)
const SETS: Set[] = ['Subaccounts', 'ServiceOfferings', 'ServicePlans', 'ServiceInstances', 'ServiceKeys', 'Operations']
const WRITER: Partial<Record<Set, Role>> = { Subaccounts: 'Administrator', ServiceInstances: 'Provisioner', ServiceKeys: 'Provisioner' }
/** 'in': a row of subaccount 1, 'out': of subaccount 2 */
const reaches = (user: string, where: Where) => USERS[user].reach.includes(where === 'in' ? 1 : 2)
const readStatus = (user: string, where: Where) => (reaches(user, where) ? 200 : 404)
function writeStatus(user: string, set: Set, where: Where, success: number) {
  const writer = WRITER[set]
  if (!writer) return 405
  if (!USERS[user].roles.includes(writer)) return 403
  return reaches(user, where) ? success : 403
}

const rows = {} as Record<Set, Record<Where, string>>
const { unique, created: createdId, readyKey, scopedRows } = scopedFixtures(() => client('admin'), 'pg-fixture')

beforeAll(async () => {
  expect((cds.db as unknown as { options: { kind: string } }).options.kind).toBe('postgres')
  Object.assign(rows, await scopedRows())
}, 120_000)

const cases = <T>(make: (user: string, set: Set, where: Where) => T) =>
  Object.keys(USERS).flatMap(user => SETS.flatMap(set => (['in', 'out'] as const).map(where => make(user, set, where))))

describe('PostgreSQL: READ', () => {
  test.each(cases((user, set, where) => ({ user, set, where, status: readStatus(user, where) })))('$user reads $set ($where) -> $status', async ({ user, set, where, status }) => {
    const id = rows[set][where]
    const single = await client(user).get(`${API}/${set}(${id})`)
    expect({ status: single.status, ID: status === 200 ? single.data.ID : undefined }).toEqual({ status, ID: status === 200 ? id : undefined })
    const list = await client(user).get(`${API}/${set}?$select=ID&$top=1000&$count=true`)
    expect(list.status).toBe(200)
    expect(list.data.value.map((r: { ID: string }) => r.ID).includes(id)).toBe(status === 200)
  })
})

describe('PostgreSQL: compiled reads kept for reuse (srv/lib/query-cache.ts)', () => {
  test("a list asked again is not compiled again, and still answers each user their own rows", async () => {
    const url = `${API}/ServiceInstances?$select=ID,name&$orderby=name&$top=1&$count=true`
    const users = ['admin', 'viewer-eu10', 'provisioner-eu20']
    const first = await Promise.all(users.map(u => client(u).get(url)))
    expect(first.map(r => r.status)).toEqual([200, 200, 200])
    // the reconciler's own reads go on meanwhile: only the instances' reads are counted
    let hits = 0
    const stop = observeQueryCache(e => {
      if (e.kind === 'hit' && /ProvisioningService_ServiceInstances/.test(e.sql)) hits++
    })
    const again = await Promise.all(users.map(u => client(u).get(url))).finally(stop)
    expect(again.map(r => r.data)).toEqual(first.map(r => r.data))
    // each user's page and count
    expect(hits).toBe(2 * users.length)
    // the restricted users see fewer instances than the admin, and not each other's
    const counts = again.map(r => (r.data as { '@odata.count': number })['@odata.count'])
    expect(counts[1]).toBeGreaterThan(0)
    expect(counts[2]).toBeGreaterThan(0)
    expect(counts[1] + counts[2]).toBeLessThanOrEqual(counts[0])
    const ids = again.map(r => (r.data as { value: { ID: string }[] }).value.map(v => v.ID))
    expect(ids[1][0]).not.toEqual(ids[2][0])
  })
})

describe('PostgreSQL: CREATE and DELETE', () => {
  const body = (set: Set, where: Where): Record<string, unknown> | undefined =>
    set === 'ServiceInstances'
      ? where === 'in'
        ? { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: unique('pg') }
        : { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: unique('pg') }
      : set === 'ServiceKeys'
        ? { instance_ID: rows.ServiceInstances[where], name: unique('pg-key') }
        : set === 'Subaccounts'
          ? { displayName: unique('PG test'), subaccountId: where === 'in' ? GUID1 : cds.utils.uuid() }
          : undefined
  const writable = cases((user, set, where) => ({ user, set, where })).filter(c => WRITER[c.set])

  test.each(writable.map(c => ({ ...c, status: writeStatus(c.user, c.set, c.where, 201) })))('$user creates in $set ($where) -> $status', async ({ user, set, where, status }) => {
    const res = await client(user).post(`${API}/${set}`, body(set, where))
    expect({ status: res.status, error: status === 201 ? res.data.error : undefined }).toEqual({ status, error: undefined })
  })

  test.each(writable.map(c => ({ ...c, status: writeStatus(c.user, c.set, c.where, 204) })))('$user deletes from $set ($where) -> $status', async ({ user, set, where, status }) => {
    // a row of its own where the delete is expected to succeed, the shared one otherwise
    const id = status === 204 ? createdId(await client('admin').post(`${API}/${set}`, body(set, where))) : rows[set][where]
    const res = await client(user).delete(`${API}/${set}(${id})`)
    expect(res.status).toBe(status)
    if (status !== 204) expect((await client('admin').get(`${API}/${set}(${id})`)).status).toBe(200)
  })

  test.each([
    ['provisioner-eu10', 'in', 200],
    ['provisioner-eu10', 'out', 403],
    ['provisioner-eu20', 'out', 200],
    ['viewer-acme', 'in', 403]
  ] as const)('%s refreshes a key (%s) -> %s', async (user, where, status) => {
    expect((await client(user).post(`${API}/ServiceKeys(${rows.ServiceKeys[where]})/refresh`, {})).status).toBe(status)
  })
})

describe('PostgreSQL: $expand and $filter across scoped entities', () => {
  test('$top and $count inside $expand count only rows within reach', async () => {
    const res = await client('viewer-eu10').get(`${API}/Subaccounts?$select=subaccountId&$expand=instances($select=name;$top=1000;$count=true)`)
    expect(res.status).toBe(200)
    expect([...new Set(res.data.value.map((s: { subaccountId: string }) => s.subaccountId))]).toEqual([GUID1])
    const instances = (res.data.value as { instances: { ID: string }[]; 'instances@odata.count': number }[]).flatMap(s => s.instances.map(i => i.ID))
    expect(instances).toContain(rows.ServiceInstances.in)
    expect(instances).not.toContain(rows.ServiceInstances.out)
    for (const s of res.data.value) expect(s['instances@odata.count']).toBe(s.instances.length)
  })

  test('a certificate\'s keys: $expand, $count and $filter=keys/any(...) see only keys within reach', async () => {
    const cert = await makeLeaf(null, { cn: 'PG Security Test', key: 'EC', eku: ['clientAuth'] })
    const certId = createdId(await client('admin').post(`${API}/Certificates`, { name: unique('pg-cert'), pem: cert.certPem }))
    const x509 = { credentialType: 'x509', certificate_ID: certId }
    const inReach = await readyKey(rows.ServiceInstances.in, x509)
    const outOfReach = await readyKey(rows.ServiceInstances.out, x509)
    const outName = (await client('admin').get(`${API}/ServiceKeys(${outOfReach})`)).data.name

    const expanded = await client('viewer-eu10').get(`${API}/Certificates(${certId})?$expand=keys($select=name;$count=true;$top=10)`)
    expect(expanded.data.keys.map((k: { ID: string }) => k.ID)).toEqual([inReach])
    expect(expanded.data['keys@odata.count']).toBe(1)
    const all = await client('viewer').get(`${API}/Certificates(${certId})?$expand=keys($select=name;$count=true)`)
    expect(all.data['keys@odata.count']).toBe(2)

    const filter = `$filter=${encodeURIComponent(`keys/any(k:k/name eq '${outName}')`)}&$select=ID`
    expect((await client('viewer-eu10').get(`${API}/Certificates?${filter}`)).data.value).toEqual([])
    expect((await client('viewer').get(`${API}/Certificates?${filter}`)).data.value.map((c: { ID: string }) => c.ID)).toEqual([certId])
    void inReach
  })
})

/** the index named after each list's sort column (db/indexes.cds) */
const SORTED_BY: Record<string, string> = { Subaccounts: 'displayName', ServiceInstances: 'modifiedAt', ServiceKeys: 'modifiedAt', Certificates: 'notAfter' }

describe('PostgreSQL: default list requests read through an index', () => {
  beforeAll(() => fill('postgres'), 60_000)
  test.each(['admin', 'viewer-acme'])('as %s', async user => {
    for (const p of await listPlans('postgres', client(user).get)) {
      expect({ entity: p.entity, status: p.status }).toEqual({ entity: p.entity, status: 200 })
      expect(p.rows).toBeGreaterThan(0)
      expect({ entity: p.entity, index: p.index, plan: p.plan }).toEqual({ entity: p.entity, index: expect.stringMatching(/^btp_provisioning_/), plan: p.plan })
      expect(p.plan.filter(l => /Seq Scan on btp_provisioning_/i.test(l))).toEqual([])
      // the admin's lists come in the order of the sort column's index: no sort
      if (user === 'admin') {
        expect({ entity: p.entity, index: p.index }).toEqual({ entity: p.entity, index: `btp_provisioning_${p.entity}_${SORTED_BY[p.entity]}`.toLowerCase() })
        expect({ entity: p.entity, sorts: p.plan.filter(l => /\bSort\b/.test(l)) }).toEqual({ entity: p.entity, sorts: [] })
      }
    }
  })
})
