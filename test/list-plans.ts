import cds from '@sap/cds'
import { LIST_REQUESTS } from '../bench/list-requests'
import { API, SUB1, SUB2 } from './helpers'
import { BACKFILLS } from '../db/init'

/**
 * Helpers of the index tests: fill the database with enough rows for a planner to care, capture the SQL
 * the service runs for each Fiori app's default list request, and ask the database how it would run it.
 */

export type Dialect = 'sqlite' | 'postgres'
export const SIZES = { subaccounts: 500, instances: 2000, keys: 20000, certificates: 2000 }

interface Statement {
  sql: string
  values: unknown[]
}

const table = (entity: string) => `btp_provisioning_${entity}`

/** Bulk-inserts subaccounts, instances (spread over SUB1, SUB2 and 20 more), keys and certificates. */
export async function fill(dialect: Dialect) {
  const db = cds.db
  const pg = dialect === 'postgres'
  const id = (prefix: string, n: string) => (pg ? `'${prefix}-' || lpad((${n})::text, 12, '0')` : `printf('${prefix}-%012d', ${n})`)
  const ago = (n: string) => (pg ? `now() - ((${n}) || ' seconds')::interval` : `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (${n}) || ' seconds')`)
  const ahead = (n: string) => (pg ? `now() + ((${n}) || ' minutes')::interval` : `strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || (${n}) || ' minutes')`)
  const series = (count: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count}) `
  const { subaccounts, instances, keys, certificates } = SIZES
  await db.run(
    `INSERT INTO ${table('Subaccounts')} (ID, subaccountId, displayName, region, createdAt, modifiedAt) ` +
      `${series(subaccounts)}SELECT ${id('5ab00000-0000-4000-8000', 'i')}, ${id('6ab00000-0000-4000-8000', 'i')}, 'Subaccount ' || i, 'eu10', ${ago('i')}, ${ago('i')} FROM n`
  )
  // instance i: SUB1, SUB2 or one of the first 20 subaccounts above
  const subaccountOf = `CASE WHEN i % 22 = 0 THEN '${SUB1}' WHEN i % 22 = 1 THEN '${SUB2}' ELSE ${id('5ab00000-0000-4000-8000', 'i % 22')} END`
  await db.run(
    `INSERT INTO ${table('ServiceInstances')} (ID, subaccount_ID, name, environment, state_code, createdAt, modifiedAt) ` +
      `${series(instances)}SELECT ${id('1ab00000-0000-4000-8000', 'i')}, ${subaccountOf}, 'inst-' || i, 'other', 'Ready', ${ago('i * 60')}, ${ago('i * 60')} FROM n`
  )
  await db.run(
    `INSERT INTO ${table('ServiceKeys')} (ID, instance_ID, name, credentialType, state_code, createdAt, modifiedAt) ` +
      `${series(keys)}SELECT ${id('2ab00000-0000-4000-8000', 'i')}, ${id('1ab00000-0000-4000-8000', `1 + i % ${instances}`)}, 'key-' || i, 'binding-secret', 'Ready', ${ago('i * 7')}, ${ago('i * 7')} FROM n`
  )
  // each key's subaccount, its instance's, as deployment fills it in for rows written without it (db/init.js)
  for (const b of BACKFILLS) await db.run(b.sql)
  await db.run(
    `INSERT INTO ${table('Certificates')} (ID, name, subject, notAfter, createdAt, modifiedAt) ` +
      `${series(certificates)}SELECT ${id('3ab00000-0000-4000-8000', 'i')}, 'cert-' || i, 'CN=cert-' || i, ${ahead('i')}, ${ago('i')}, ${ago('i')} FROM n`
  )
  await db.run('ANALYZE')
}

/** The SELECT statements the database is asked to run while `fn` runs. */
export async function captureSql(fn: () => Promise<unknown>): Promise<Statement[]> {
  const db = cds.db as unknown as { prepare: (this: unknown, sql: string) => Record<string, (...args: unknown[]) => unknown> }
  const original = db.prepare
  const statements: Statement[] = []
  const spy = jest.spyOn(db, 'prepare').mockImplementation(function (this: unknown, sql: string) {
    const ps = original.call(this, sql) as Record<string, (...args: unknown[]) => unknown>
    if (!/^\s*(with|select)\b/i.test(sql)) return ps
    const capture =
      (name: string) =>
      (...args: unknown[]) => {
        statements.push({ sql, values: Array.isArray(args[0]) ? (args[0] as unknown[]) : [] })
        return ps[name](...args)
      }
    return { ...ps, all: capture('all'), stream: capture('stream'), get: capture('get') }
  })
  try {
    await fn()
  } finally {
    spy.mockRestore()
  }
  return statements
}

/** How the database would run the statement: one line per plan node. */
export async function plan(dialect: Dialect, s: Statement): Promise<string[]> {
  type Prepared = { all(values: unknown[]): Promise<Record<string, string>[]> | Record<string, string>[] }
  return cds.db.tx(async tx => {
    const db = tx as unknown as { prepare(sql: string): Prepared | Promise<Prepared> }
    await tx.run(SELECT.one.from('btp.provisioning.LifecycleStates')) // takes the connection
    if (dialect === 'sqlite') {
      const rows = await (await db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`)).all(s.values)
      return rows.map(r => r.detail)
    }
    // PostgreSQL prefers a sequential scan and a sort for tables of a few thousand rows; without sequential
    // scans it shows which index serves the request (the one it takes at production sizes)
    await tx.run('SET LOCAL enable_seqscan = off')
    const rows = await (await db.prepare(`EXPLAIN ${s.sql}`)).all(s.values)
    return rows.map(r => Object.values(r)[0])
  })
}

/** The statement that reads the page (LIMIT) from the entity's table. */
export function pageStatement(entity: string, statements: Statement[]): Statement {
  // the service's view (SQLite, PostgreSQL), else the table itself: the view first, because the reconciler's
  // own queries of the table (its due query has a LIMIT too) may run while the request runs
  const pages = (name: string) =>
    statements.find(s => /\blimit\b/i.test(s.sql) && !/count\(\*\)/i.test(s.sql) && s.sql.toLowerCase().includes(name.toLowerCase() + ' as'))
  const page = pages(`ProvisioningService_${entity}`) ?? pages(table(entity))
  if (!page) throw new Error(`no page query of ${entity} among ${statements.length} statements:\n${statements.map(s => s.sql).join('\n')}`)
  return page
}

/** The index of the entity's table that the plan reads it through, or undefined for a full scan. */
export function indexUsed(dialect: Dialect, entity: string, lines: string[]): string | undefined {
  const prefix = table(entity).toLowerCase() + '_'
  for (const line of lines) {
    const l = line.toLowerCase()
    const m = dialect === 'sqlite' ? /(?:scan|search) \S+ using (?:covering )?index (\S+)/.exec(l) : /index (?:only )?scan(?: backward)? (?:using|on) (\S+)/.exec(l)
    if (m && m[1].startsWith(prefix)) return m[1]
  }
  return undefined
}

/** GETs each default list request as `user` and returns the plan of its page query. */
export async function listPlans(dialect: Dialect, get: (url: string) => Promise<{ status: number; data: { value?: unknown[] } }>) {
  const result: { entity: string; status: number; rows: number; index: string | undefined; plan: string[] }[] = []
  for (const r of LIST_REQUESTS) {
    let res: { status: number; data: { value?: unknown[] } } | undefined
    const statements = await captureSql(async () => (res = await get(`${API}/${r.entity}?${r.query}`)))
    const lines = await plan(dialect, pageStatement(r.entity, statements))
    result.push({ entity: r.entity, status: res!.status, rows: res!.data.value?.length ?? -1, index: indexUsed(dialect, r.entity, lines), plan: lines })
  }
  return result
}
