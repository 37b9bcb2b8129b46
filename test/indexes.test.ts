import cds from '@sap/cds'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { LIST_REQUESTS } from '../bench/list-requests'
import { fill, listPlans, SIZES } from './list-plans'
import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'
import { backfillKeyScope } from '../srv/lib/key-scope'
import { declaredIndexes } from '../db/init'

/**
 * Indexes (db/indexes.cds): created when the schema is deployed (db/init.js), and each Fiori app's default
 * list request reads its page through one of them (EXPLAIN QUERY PLAN on SQLite; test/security-postgres.test.ts
 * does the same on PostgreSQL), for the unrestricted user and for users limited to some subaccounts.
 */

const { as: client, admin } = useApp()
const ROOT = path.join(__dirname, '..')

/** the index named after each list's sort column (db/indexes.cds) */
const SORTED_BY: Record<string, string> = { Subaccounts: 'displayName', ServiceInstances: 'modifiedAt', ServiceKeys: 'modifiedAt', Certificates: 'notAfter' }

/** the index a user limited to some subaccounts reads a list through: the subaccount, then the sort column (db/indexes.cds) */
const LIMITED_BY: Record<string, string> = { ServiceInstances: 'subaccountModified', ServiceKeys: 'subaccount' }

const as = (user: string) => (url: string) => client(user).get(url)

beforeAll(async () => {
  await fill('sqlite')
}, 60_000)

test('the declared indexes exist after deployment', async () => {
  const declared = declaredIndexes(cds.model)
  expect(declared.map(i => i.table)).toEqual(expect.arrayContaining(LIST_REQUESTS.map(r => `btp_provisioning_${r.entity}`)))
  const present = ((await cds.db.run(`SELECT name FROM sqlite_master WHERE type = 'index'`)) as { name: string }[]).map(r => r.name)
  expect(present).toEqual(expect.arrayContaining(declared.map(i => i.name)))
  // the reconciler polls instances and keys by their next reconcile time
  expect(present).toEqual(expect.arrayContaining(['btp_provisioning_ServiceInstances_reconcileAt', 'btp_provisioning_ServiceKeys_reconcileAt']))
})

test('the HANA build carries the same indexes (db/src/*.hdbindex)', () => {
  // exits non-zero, naming the files, when db/src does not match the @indexes annotations
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'hana-indexes.js'), '--check'], { cwd: ROOT, stdio: 'pipe' })
  // HDI deploys files outside src/gen only with a .hdiconfig naming their plugin
  const hdiconfig = JSON.parse(readFileSync(path.join(ROOT, 'db', 'src', '.hdiconfig'), 'utf8'))
  expect(hdiconfig.file_suffixes.hdbindex).toEqual({ plugin_name: 'com.sap.hana.di.index' })
})

describe.each(['admin', 'viewer-acme', 'viewer-eu10'])('default list requests of the four apps as %s', user => {
  test('read their page through an index', async () => {
    const plans = await listPlans('sqlite', as(user))
    for (const p of plans) {
      expect({ entity: p.entity, status: p.status }).toEqual({ entity: p.entity, status: 200 })
      expect(p.rows).toBeGreaterThan(0)
      expect({ entity: p.entity, index: p.index, plan: p.plan }).toEqual({ entity: p.entity, index: expect.stringMatching(/^btp_provisioning_/i), plan: p.plan })
      // the admin's lists come in the order of the sort column's index: no sort of the whole table
      if (user === 'admin') {
        expect({ entity: p.entity, index: p.index }).toEqual({ entity: p.entity, index: `btp_provisioning_${p.entity}_${SORTED_BY[p.entity]}`.toLowerCase() })
        expect({ entity: p.entity, sorts: p.plan.filter(l => /TEMP B-TREE/i.test(l)) }).toEqual({ entity: p.entity, sorts: [] })
      } else if (LIMITED_BY[p.entity]) {
        // a limited user's instances and keys: per subaccount in the list's order, not all of theirs sorted
        expect({ entity: p.entity, index: p.index }).toEqual({ entity: p.entity, index: `btp_provisioning_${p.entity}_${LIMITED_BY[p.entity]}`.toLowerCase() })
      }
    }
  })
})

test('the data is large enough for the plans to matter', async () => {
  const { n } = (await cds.db.run(`SELECT count(*) AS n FROM btp_provisioning_ServiceKeys`))[0] as { n: number }
  expect(n).toBeGreaterThanOrEqual(SIZES.keys)
})

describe("a key's own subaccount (the restriction's and the index's column)", () => {
  const keyRow = (ID: string) => SELECT.one.from('btp.provisioning.ServiceKeys', ID).columns('subaccount_ID') as unknown as Promise<{ subaccount_ID: string | null }>

  test("is its instance's from its creation on: created (whatever the request says), rotated", async () => {
    const inst = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.cloudAlmApi, name: 'scoped-inst' })
    expect(inst.status).toBe(201)
    await waitFor(admin, `${API}/ServiceInstances(${inst.data.ID})`, stateIs('Ready'))
    // the element is read-only: a value in the request is ignored
    const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: 'scoped-key', subaccount_ID: SUB2 })
    expect(key.status).toBe(201)
    expect(key.data.subaccount_ID).toBe(SUB1)
    expect(await keyRow(key.data.ID)).toEqual({ subaccount_ID: SUB1 })
    await waitFor(admin, `${API}/ServiceKeys(${key.data.ID})`, stateIs('Ready'))
    const rotated = await admin.post(`${API}/ServiceKeys(${key.data.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    expect(await keyRow(rotated.data.ID)).toEqual({ subaccount_ID: SUB1 })
  })

  test('rows written without it get it at start-up (and at deploy, db/init.js)', async () => {
    type Key = { ID: string; instance_ID: string; subaccount_ID: string | null }
    const keys = 'btp.provisioning.ServiceKeys'
    const sample = (await SELECT.from(keys).columns('ID', 'instance_ID', 'subaccount_ID').limit(50)) as Key[]
    const instances = (await SELECT.from('btp.provisioning.ServiceInstances').columns('ID', 'subaccount_ID').where({ ID: { in: sample.map(k => k.instance_ID) } })) as Key[]
    const owner = new Map(instances.map(i => [i.ID, i.subaccount_ID]))
    const expected = Object.fromEntries(sample.map(k => [k.ID, owner.get(k.instance_ID)]))
    expect(new Set(Object.values(expected)).size).toBeGreaterThan(1)
    // the bulk-inserted rows got theirs from the same statement as deployment runs
    expect(Object.fromEntries(sample.map(k => [k.ID, k.subaccount_ID]))).toEqual(expected)
    await UPDATE(keys).set({ subaccount_ID: null }).where({ ID: { in: sample.map(k => k.ID) } })
    expect(await backfillKeyScope()).toBe(sample.length)
    const after = (await SELECT.from(keys).columns('ID', 'instance_ID', 'subaccount_ID').where({ ID: { in: sample.map(k => k.ID) } })) as Key[]
    expect(Object.fromEntries(after.map(k => [k.ID, k.subaccount_ID]))).toEqual(expected)
    expect(await backfillKeyScope()).toBe(0)
  })
})
