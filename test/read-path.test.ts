import cds from '@sap/cds'
import fs from 'node:fs'
import { API, SUB1, SUB2 } from './helpers'
import { useApp } from './support/app'
import { Lru, cacheAsConfigured, cacheCompiledQueries, observeQueryCache, queryCacheStats, queryKey } from '../srv/lib/query-cache'

/**
 * The read path of the lists. Compiled reads kept for reuse (srv/lib/query-cache.ts): a list asked again is not
 * compiled again, and what it answers is still each user's own rows, today's rows, in the request's order.
 * Static files (srv/server.ts): the apps are served from app/, and API requests are not looked up on disk.
 */

const { as, admin } = useApp()

const SUBACCOUNTS_PAGE = `${API}/Subaccounts?$count=true&$select=ID,displayName&$orderby=displayName&$top=30`
/** a page shorter than the list: its count is a query of its own */
const PLANS_PAGE = `${API}/ServicePlans?$count=true&$select=ID,name&$orderby=name&$top=3`

interface Page {
  value: Array<{ ID: string; displayName: string }>
  '@odata.count': number
}

/**
 * Counts hits and misses of the reads whose SQL matches `about` from now on; the returned function stops
 * counting and tells. The reconciler's own reads go on meanwhile, so the counts are of the test's reads only.
 */
function count(about: RegExp) {
  const seen = { hits: 0, misses: 0 }
  const stop = observeQueryCache(e => {
    if (about.test(e.sql)) seen[e.kind === 'hit' ? 'hits' : 'misses']++
  })
  return () => {
    stop()
    return seen
  }
}

describe('through the OData API', () => {
  test('a list asked again is served from its compiled form, with the same answer', async () => {
    const first = await admin.get(PLANS_PAGE)
    expect(first.status).toBe(200)
    expect((first.data as Page)['@odata.count']).toBeGreaterThan(3)
    const counted = count(/ServicePlans/)
    const statements = queryCacheStats.statementHits
    const again = await admin.get(PLANS_PAGE)
    expect(again.status).toBe(200)
    expect(again.data).toEqual(first.data)
    // the page and its count
    expect(counted()).toEqual({ hits: 2, misses: 0 })
    // and SQLite ran the statements it had prepared for them
    expect(queryCacheStats.statementHits - statements).toBeGreaterThanOrEqual(2)
  })

  test("each user's restriction is part of the query: the same URL answers each user their own subaccounts", async () => {
    // admin: all; viewer-eu10: SUB1 only; provisioner-eu20: SUB2 only; asked in turns, twice
    for (let round = 0; round < 2; round++) {
      const pages = await Promise.all(['admin', 'viewer-eu10', 'provisioner-eu20'].map(u => as(u).get(SUBACCOUNTS_PAGE)))
      const ids = pages.map(p => (p.data as Page).value.map(r => r.ID))
      expect(pages.map(p => p.status)).toEqual([200, 200, 200])
      expect(ids[0]).toEqual(expect.arrayContaining([SUB1, SUB2]))
      expect(ids[1]).toEqual([SUB1])
      expect(ids[2]).toEqual([SUB2])
      expect(pages.map(p => (p.data as Page)['@odata.count'])).toEqual([ids[0].length, 1, 1])
      // a page of one: the counts are queries of their own, derived from the restricted query
      const counts = await Promise.all(['admin', 'viewer-eu10', 'provisioner-eu20'].map(u => as(u).get(SUBACCOUNTS_PAGE.replace('$top=30', '$top=1'))))
      expect(counts.map(p => (p.data as Page)['@odata.count'])).toEqual([ids[0].length, 1, 1])
    }
  })

  test('the SQL is kept, not the rows: a change shows in the next answer', async () => {
    const url = `${API}/Subaccounts?$count=true&$select=ID,displayName&$filter=${encodeURIComponent("startswith(displayName,'Cache test')")}`
    const empty = await admin.get(url)
    expect((empty.data as Page)['@odata.count']).toBe(0)
    const created = await admin.post(`${API}/Subaccounts`, { displayName: 'Cache test subaccount', subaccountId: cds.utils.uuid(), region: 'eu10' })
    expect(created.status).toBe(201)
    const counted = count(/Subaccounts/)
    const after = await admin.get(url)
    expect(counted().hits).toBeGreaterThan(0)
    expect((after.data as Page)['@odata.count']).toBe(1)
    expect((after.data as Page).value.map(r => r.displayName)).toEqual(['Cache test subaccount'])
    expect((await admin.delete(`${API}/Subaccounts(${(created.data as { ID: string }).ID})`)).status).toBe(204)
    expect(((await admin.get(url)).data as Page)['@odata.count']).toBe(0)
  })

  test('the order and the page asked for are kept apart', async () => {
    const page = (orderby: string, skip: number) =>
      admin.get(`${API}/ServicePlans?$select=ID,name&$orderby=${encodeURIComponent(orderby)},ID&$top=4&$skip=${skip}`)
    const asc = (await page('name asc', 0)).data as Page
    const desc = (await page('name desc', 0)).data as Page
    const next = (await page('name asc', 5)).data as Page
    expect(asc.value).toHaveLength(4)
    expect(desc.value.map(r => r.ID)).not.toEqual(asc.value.map(r => r.ID))
    expect(next.value.map(r => r.ID).some(id => asc.value.some(r => r.ID === id))).toBe(false)
    // asked again, each the same
    expect(((await page('name desc', 0)).data as Page).value).toEqual(desc.value)
    expect(((await page('name asc', 5)).data as Page).value).toEqual(next.value)
  })
})

describe('on the database service', () => {
  test('SQLite: a statement is prepared once per connection; a busy one is not shared, a raw one is switched back', async () => {
    interface Statement {
      all(...values: unknown[]): unknown[]
      iterate(...values: unknown[]): Iterator<unknown>
      raw(on: boolean): Statement
    }
    const sql = 'SELECT ID, name FROM btp_provisioning_ServicePlans ORDER BY ID'
    await cds.db.tx(async tx => {
      await tx.run(SELECT.one.from('btp.provisioning.LifecycleStates')) // takes the connection
      const dbc = (tx as unknown as { dbc: { prepare(sql: string): Statement } }).dbc
      // through @cap-js/sqlite's prepare, which asks the connection
      await (tx as unknown as { prepare(sql: string): unknown }).prepare(sql)
      const first = dbc.prepare(sql)
      expect(dbc.prepare(sql)).toBe(first)
      const rows = first.all()
      // a streamed read switches its statement to raw rows (arrays)
      first.raw(true)
      expect(Array.isArray(first.all()[0])).toBe(true)
      expect(dbc.prepare(sql).all()).toEqual(rows)
      // while its rows are being read, the statement is not handed out again
      const reading = first.iterate()
      reading.next()
      const other = dbc.prepare(sql)
      expect(other).not.toBe(first)
      reading.return?.()
    })
  })

  test('the same read again is a hit; a read with its values passed as parameters is kept apart from them', async () => {
    const byId = () => cds.db.run(SELECT.from('btp.provisioning.Subaccounts').columns('ID').where({ ID: SUB1 }))
    const counted = count(/Subaccounts/)
    await byId()
    await byId()
    expect(counted()).toEqual({ hits: 1, misses: 1 })

    const query = () => SELECT.from('btp.provisioning.Subaccounts').columns('ID').where([{ ref: ['ID'] }, '=', { ref: ['?'], param: true }])
    // cds-types declare run(query, data) for CQL strings only
    const withParams = (ID: string) => (cds.db.run as (q: unknown, data: unknown[]) => Promise<unknown>)(query(), [ID])
    const params = count(/Subaccounts/)
    expect(await withParams(SUB1)).toEqual([{ ID: SUB1 }])
    expect(await withParams(SUB2)).toEqual([{ ID: SUB2 }])
    expect(params()).toEqual({ hits: 1, misses: 1 })
  })

  test('a hit is logged like CAP logs what it renders: in production without the values', async () => {
    const log = cds.log('sql', 'debug')
    const debug = jest.spyOn(log, 'debug').mockImplementation(() => undefined)
    const env = process.env.NODE_ENV
    try {
      const byName = () => cds.db.run(SELECT.from('btp.provisioning.Subaccounts').columns('ID').where({ displayName: 'Logged by name' }))
      const counted = count(/Subaccounts/)
      process.env.NODE_ENV = 'production'
      await byName()
      await byName()
      expect(counted()).toEqual({ hits: 1, misses: 1 })
      const logged = JSON.stringify(debug.mock.calls)
      expect(logged).toContain('btp_provisioning_Subaccounts')
      expect(logged).not.toContain('Logged by name')
      process.env.NODE_ENV = env
      debug.mockClear()
      await byName()
      expect(JSON.stringify(debug.mock.calls)).toContain('Logged by name')
    } finally {
      process.env.NODE_ENV = env
      debug.mockRestore()
      cds.log('sql', 'info')
    }
  })

  test('writes are compiled as before', async () => {
    const writes = count(/Subaccounts/)
    await cds.db.run(UPDATE('btp.provisioning.Subaccounts').set({ health: 'ok' }).where({ ID: SUB1 }))
    await cds.db.run(UPDATE('btp.provisioning.Subaccounts').set({ health: 'ok' }).where({ ID: SUB1 }))
    expect(writes()).toEqual({ hits: 0, misses: 0 })
  })

  test('the locale of a request is part of the key (a localized order may collate by it)', async () => {
    const read = (locale: string) => cds.tx({ locale } as never, () => cds.run(SELECT.from('btp.provisioning.LifecycleStates').orderBy('name')))
    await read('de')
    const counted = count(/LifecycleStates/)
    await read('fr')
    await read('de')
    expect(counted()).toEqual({ misses: 1, hits: 1 })
  })

  test('cds.requires.db.compiledQueryCache: false leaves the database service as it is; a number sets its size', () => {
    class SQLiteService {
      name = 'db'
      model = {}
      cqn2sql = () => ({ sql: 'SELECT 1', values: [], cqn: {} })
    }
    const db = cds.env.requires.db as { compiledQueryCache?: unknown }
    const configured = db.compiledQueryCache
    try {
      db.compiledQueryCache = false
      const off = new SQLiteService()
      const original = off.cqn2sql
      expect(cacheAsConfigured(off)).toBe(false)
      expect(off.cqn2sql).toBe(original)

      db.compiledQueryCache = 1
      const small = new SQLiteService()
      expect(cacheAsConfigured(small)).toBe(true)
      expect(small.cqn2sql).not.toBe(original)
      const counted = count(/^SELECT 1$/)
      const read = (table: string) => (small.cqn2sql as (q: unknown) => unknown).call(small, SELECT.from(table))
      read('A')
      read('B') // A is forgotten: one entry only
      read('A')
      read('B')
      expect(counted()).toEqual({ hits: 0, misses: 4 })
    } finally {
      db.compiledQueryCache = configured
    }
  })

  test('a service other than SQLite or PostgreSQL is left as it is', () => {
    class HANAService {
      cqn2sql = () => ({ sql: '', values: [], cqn: {} })
    }
    const hana = new HANAService()
    const original = hana.cqn2sql
    expect(cacheCompiledQueries(hana as never)).toBe(false)
    expect(hana.cqn2sql).toBe(original)
  })
})

describe('queryKey', () => {
  test('its text for plain queries; queries with values a text cannot tell apart are not cached', () => {
    expect(queryKey(SELECT.from('X').where({ a: 1 }))).toEqual(expect.stringContaining('"val":#1'))
    expect(queryKey(SELECT.from('X').where({ a: 1 }))).not.toEqual(queryKey(SELECT.from('X').where({ a: '1' })))
    // a date and its ISO text, a buffer, a function, a bigint
    expect(queryKey(SELECT.from('X').where({ a: new Date() }))).toBeUndefined()
    expect(queryKey(SELECT.from('X').where({ a: Buffer.from('x') }))).toBeUndefined()
    expect(queryKey({ SELECT: { from: { ref: ['X'] }, f: () => 1 } })).toBeUndefined()
    expect(queryKey({ SELECT: { from: { ref: ['X'] }, n: 1n } })).toBeUndefined()
    // undefined is not the same as missing
    expect(queryKey({ SELECT: { from: { ref: ['X'] }, where: [{ ref: ['a'] }, '=', { val: undefined }] } })).not.toEqual(
      queryKey({ SELECT: { from: { ref: ['X'] }, where: [{ ref: ['a'] }, '=', {}] } })
    )
  })

  test('very long queries are compiled every time', () => {
    const ids = Array.from({ length: 2000 }, () => cds.utils.uuid())
    expect(queryKey(SELECT.from('X').where({ ID: { in: ids } }))).toBeUndefined()
  })
})

test('Lru keeps the entries used last', () => {
  const lru = new Lru<string, number>(2)
  lru.set('a', 1)
  lru.set('b', 2)
  expect(lru.get('a')).toBe(1) // a is now the newest
  lru.set('c', 3)
  expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual([1, undefined, 3])
  expect(lru.length).toBe(2)
})

describe('static files', () => {
  test('the entry page and the apps are served from app/', async () => {
    const index = await admin.get('/index.html')
    expect(index.status).toBe(200)
    expect(String(index.data)).toContain('<html')
    expect((await admin.get('/')).data).toEqual(index.data)
    const manifest = await admin.get('/servicekeys/webapp/manifest.json')
    expect(manifest.status).toBe(200)
    expect(manifest.data).toMatchObject({ 'sap.app': expect.any(Object) })
  })

  test('API requests are not looked up on disk', async () => {
    const stat = jest.spyOn(fs, 'stat')
    try {
      expect((await admin.get(PLANS_PAGE)).status).toBe(200)
      expect(stat).not.toHaveBeenCalled()
      // while a file of the apps is
      expect((await admin.get('/servicekeys/webapp/manifest.json')).status).toBe(200)
      expect(stat).toHaveBeenCalled()
    } finally {
      stat.mockRestore()
    }
  })
})
