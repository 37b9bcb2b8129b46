/**
 * Benchmark b: the four Fiori apps' default list requests (bench/list-requests.ts) at 100k keys, as users meet
 * them: ProvisioningService (roles, instance-based restrictions, srv/lib/instance-auth.ts, handlers) against
 * a bare CAP service over the same schema, data and indexes (bench/bare.cds), served by the same server.
 *
 * Two users: the unrestricted admin, and a Viewer limited to 2 of the 20 subaccounts (`viewer-acme`). The
 * bare service has no authorization; for the Viewer it is asked the same requests with the restriction
 * written out as a $filter, so both answer the same rows.
 *
 * The data is bulk-inserted straight into a SQLite file in a temp folder (schema and indexes from
 * `cds deploy`). Each measurement runs a fixed number of keep-alive clients, each cycling through the four
 * requests; ours and bare alternate in rounds to spread noise evenly. Figures: requests/s, the ratio
 * ours/bare, p50/p99 latency (also per app), the time of the same pages in plain SQL on one connection,
 * and the peak RSS of the server process.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT, block, buildServer, cpuSeconds, fmt, percentile, productionNodeOptions, request, rss, secs, sleep, startApp, type AppProcess } from './lib'
import { LIST_REQUESTS, type ListRequest } from './list-requests'

// better-sqlite3 (the driver under @cap-js/sqlite) ships no types; the few calls used here
interface SqliteStatement {
  run(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
}
interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  transaction(fn: () => void): () => void
  close(): void
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- better-sqlite3 comes with @cap-js/sqlite and has no types of ours
const Database = require('better-sqlite3') as new (file: string) => SqliteDatabase

const BARE_MODEL = { 'bench-bare': { model: 'bench/bare' } }
/** the sample subaccounts (test/data) the limited Viewer `viewer-acme` of .cdsrc.json reaches */
const LIMITED_TO = ['3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61', '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72']
const SUBACCOUNTS = 20
const USERS = {
  admin: { name: 'admin', auth: 'Basic ' + Buffer.from('admin:admin').toString('base64') },
  viewer: { name: 'viewer-acme', auth: 'Basic ' + Buffer.from('viewer-acme:viewer-acme').toString('base64') }
}
type Who = keyof typeof USERS
type Service = 'ours' | 'bare'
/** A list page with its count, as both services answer it */
interface ListAnswer {
  value: Array<{ ID: string }>
  '@odata.count': number
}

export interface ListQueryOptions {
  keys: number
  /** client counts, the first is the one the ratio goal is about */
  concurrency: number[]
  seconds: number
  rounds: number
  keysPerInstance?: number
  /** built JavaScript under cds-serve as in production (default), or the TypeScript sources under tsx */
  server?: 'built' | 'tsx'
  /** node options of the server (default: those production sets, `productionNodeOptions`) */
  nodeOptions?: string[]
  /**
   * Also measure ours against a second server over the same data with `requires.db.compiledQueryCache: false`
   * (srv/lib/query-cache.ts) and `provisioning.parsedUrlCache: false` (srv/lib/url-cache.ts), in alternating
   * rounds: what keeping compiled reads and parsed URLs saves
   */
  compareCache?: boolean
}

interface Figures {
  rps: number
  p50: number
  p99: number
  requests: number
  errors: number
  /** CPU time of the server process per answered request: the read path's cost, whatever else runs on the machine */
  cpuMs: number
  perApp: Record<string, { p50: number; p99: number }>
}

export interface ListQueryResult {
  /** by user, then by client count */
  runs: Record<Who, Record<number, { ours: Figures; bare: Figures; ratio: number }>>
  /** ms per page (page + count) in plain SQL on one connection, by user and app */
  rawSqlMs: Record<Who, Record<string, number>>
  peakRssMiB: number
  /** with compareCache: ours with the caches (on) and without (off), by user, then by client count */
  cache?: Record<Who, Record<number, { on: Figures; off: Figures }>>
}

/** Deploys the schema (with the bare service's views) and the indexes (db/init.js) to a SQLite file. */
export async function deploy(file: string) {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (/^cds[._]/i.test(k)) delete env[k]
  Object.assign(env, { NODE_ENV: 'test', CDS_CONFIG: JSON.stringify({ requires: BARE_MODEL }) })
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/@sap/cds-dk/bin/cds.js'), 'deploy', '--to', `sqlite:${file}`], {
    cwd: ROOT,
    env,
    maxBuffer: 10 * 1024 * 1024
  })
}

/**
 * Adds subaccounts up to 20 (each with a few offerings and plans), `keys` service keys over `keys /
 * keysPerInstance` instances spread evenly over the subaccounts, and a few hundred certificates; in one
 * transaction. Columns the schema lacks are left out.
 */
export function fill(file: string, keys: number, keysPerInstance: number) {
  const db = new Database(file)
  try {
    const columns = (table: string) => new Set((db.prepare(`pragma table_info(${table})`).all() as Array<{ name: string }>).map(c => c.name))
    const inserter = (table: string) => {
      const have = columns(table)
      const cache = new Map<string, SqliteStatement>()
      return (row: Record<string, unknown>) => {
        const names = Object.keys(row).filter(n => have.has(n))
        const sql = `insert into ${table} (${names.join(',')}) values (${names.map(() => '?').join(',')})`
        let stmt = cache.get(sql)
        if (!stmt) cache.set(sql, (stmt = db.prepare(sql)))
        stmt.run(...names.map(n => row[n]))
      }
    }
    const yearMs = 365 * 24 * 3600 * 1000
    const now = Date.now()
    const iso = (t: number) => new Date(t).toISOString()
    const instanceCount = Math.ceil(keys / keysPerInstance)
    db.transaction(() => {
      const existing = db.prepare('select ID from btp_provisioning_Subaccounts').all() as Array<{ ID: string }>
      const subaccount = inserter('btp_provisioning_Subaccounts')
      const offering = inserter('btp_provisioning_ServiceOfferings')
      const plan = inserter('btp_provisioning_ServicePlans')
      for (let s = existing.length; s < SUBACCOUNTS; s++) {
        const ID = randomUUID()
        subaccount({ ID, displayName: `Bench subaccount ${String(s).padStart(2, '0')}`, subaccountId: randomUUID(), region: 'eu10', health: 'ok', createdAt: iso(now), modifiedAt: iso(now) })
        for (let o = 0; o < 3; o++) {
          const offeringId = randomUUID()
          offering({ ID: offeringId, subaccount_ID: ID, name: `offering-${o}`, smId: randomUUID() })
          for (let p = 0; p < 2; p++) plan({ ID: randomUUID(), subaccount_ID: ID, offering_ID: offeringId, name: `plan-${p}`, smId: randomUUID(), entitled: 1 })
        }
      }
      const plans = db.prepare('select ID, subaccount_ID, offering_ID from btp_provisioning_ServicePlans where entitled = 1').all() as Array<Record<string, string>>
      const bySubaccount = new Map<string, Array<Record<string, string>>>()
      for (const p of plans) bySubaccount.set(p.subaccount_ID, [...(bySubaccount.get(p.subaccount_ID) ?? []), p])
      const subaccounts = [...bySubaccount.keys()]
      if (subaccounts.length < SUBACCOUNTS) throw new Error(`only ${subaccounts.length} subaccounts with entitled plans`)

      const instance = inserter('btp_provisioning_ServiceInstances')
      const instanceIds: string[] = []
      const subaccountOf: string[] = []
      for (let i = 0; i < instanceCount; i++) {
        const sub = bySubaccount.get(subaccounts[i % subaccounts.length])!
        const p = sub[Math.floor(i / subaccounts.length) % sub.length]
        const created = now - Math.floor(((i + 1) / instanceCount) * yearMs)
        const ID = randomUUID()
        instanceIds.push(ID)
        subaccountOf.push(p.subaccount_ID)
        instance({
          ID,
          createdAt: iso(created),
          createdBy: 'bench',
          modifiedAt: iso(created + 60_000),
          modifiedBy: 'bench',
          state_code: 'Ready',
          smId: randomUUID(),
          subaccount_ID: p.subaccount_ID,
          offering_ID: p.offering_ID,
          plan_ID: p.ID,
          environment: 'other',
          name: `inst-${String(i).padStart(6, '0')}`,
          labels: JSON.stringify({ managed_by: ['service-key-manager'], skm_id: [ID] })
        })
      }
      const certificate = inserter('btp_provisioning_Certificates')
      const certificateIds: string[] = []
      for (let c = 0; c < 300; c++) {
        const ID = randomUUID()
        certificateIds.push(ID)
        const notAfter = now + (c - 30) * 24 * 3600 * 1000
        certificate({
          ID,
          name: `cert-${c}`,
          subject: `CN=client-${c}, O=ACME`,
          issuer: 'CN=ACME Issuing CA',
          serialNumber: String(1000 + c),
          notBefore: iso(now - yearMs),
          notAfter: iso(notAfter),
          fingerprint: randomUUID().replace(/-/g, ''),
          keyAlgorithm: 'EC',
          keySize: 256,
          clientAuth: 1,
          expiry_code: expiryCode(notAfter, now),
          createdAt: iso(now),
          modifiedAt: iso(now)
        })
      }
      const key = inserter('btp_provisioning_ServiceKeys')
      for (let i = 0; i < keys; i++) {
        const x509 = i % 10 === 0
        const created = now - Math.floor(Math.random() * yearMs)
        const state = i % 50 === 0 ? 'Failed' : i % 70 === 0 ? 'Creating' : 'Ready'
        const expiresAt = x509 ? iso(created + 90 * 24 * 3600 * 1000) : null
        key({
          ID: randomUUID(),
          createdAt: iso(created),
          createdBy: 'bench',
          modifiedAt: iso(created + Math.floor(Math.random() * 3_600_000)),
          modifiedBy: 'bench',
          state_code: state,
          smId: state === 'Ready' ? randomUUID() : null,
          lastError: state === 'Failed' ? 'The operation failed in Service Manager' : null,
          instance_ID: instanceIds[i % instanceCount],
          // as srv/lib/key-scope.ts sets it
          subaccount_ID: subaccountOf[i % instanceCount],
          name: `key-${String(i).padStart(6, '0')}`,
          credentialType: x509 ? 'x509' : 'binding-secret',
          certificate_ID: x509 && i % 20 === 0 ? certificateIds[i % certificateIds.length] : null,
          clientId: state === 'Ready' ? `sb-${i}!b1|app!b2` : null,
          tokenUrl: state === 'Ready' ? 'https://acme.authentication.eu10.hana.ondemand.com/oauth/token' : null,
          apiUrl: state === 'Ready' ? 'https://api.acme.eu10.hana.ondemand.com' : null,
          expiresAt,
          // as the expiry scan would set it, so that the scan at start-up has nothing to update
          expiry_code: expiresAt ? expiryCode(Date.parse(expiresAt), now) : null,
          verification_code: state === 'Ready' ? (i % 97 === 0 ? 'failed' : 'ok') : null,
          verifiedAt: state === 'Ready' ? iso(created + 5000) : null,
          verifyStatus: state === 'Ready' ? 200 : null,
          verifyLatency: state === 'Ready' ? 40 : null
        })
      }
    })()
    db.prepare('analyze').run()
    return instanceCount
  } finally {
    db.close()
  }
}

/** The expiry state the app's scan computes (warning window: the default 30 days). */
function expiryCode(expiresAt: number, now: number): string {
  if (expiresAt <= now) return 'expired'
  return expiresAt - now <= 30 * 24 * 3600 * 1000 ? 'expiring' : 'valid'
}

// ---- the requests ---------------------------------------------------------------------------------------

/** The path from each entity to the subaccount GUID, as the restriction of srv/access-control.cds has it. */
const SCOPE_PATH: Record<ListRequest['entity'], string | undefined> = {
  Subaccounts: 'subaccountId',
  ServiceInstances: 'subaccount/subaccountId',
  ServiceKeys: 'subaccount/subaccountId',
  Certificates: undefined
}

/** The URL of a list request for a service and user; bare gets the Viewer's restriction as a $filter. */
function urlOf(base: string, service: Service, who: Who, r: ListRequest): string {
  let query = r.query
  if (service === 'bare') {
    // daysLeft is computed by ProvisioningService only
    query = query.replace(encodeURIComponent(',daysLeft'), '')
    const scope = SCOPE_PATH[r.entity]
    if (who === 'viewer' && scope) query += `&$filter=${encodeURIComponent(`${scope} in (${LIMITED_TO.map(g => `'${g}'`).join(',')})`)}`
  }
  return `${base}/odata/v4/${service === 'ours' ? 'provisioning' : 'bare'}/${r.entity}?${query}`
}

interface Sample {
  app: string
  ms: number
}

/** Each of `concurrency` keep-alive clients cycles through the four requests for `durationMs`. */
async function load(urls: string[], auth: string, concurrency: number, durationMs: number) {
  const samples: Sample[] = []
  let errors = 0
  const started = performance.now()
  const until = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; performance.now() < until; i++) {
        const r = LIST_REQUESTS[i % LIST_REQUESTS.length]
        try {
          const res = await request('GET', urls[i % urls.length], undefined, { Authorization: auth })
          if (res.status === 200) samples.push({ app: r.app, ms: res.ms })
          else errors++
        } catch {
          errors++
        }
      }
    })
  )
  return { samples, errors, durationMs: performance.now() - started }
}

type Measured = Awaited<ReturnType<typeof load>> & { cpuSeconds: number }

function figures(results: Measured[]): Figures {
  const samples = results.flatMap(r => r.samples)
  const ms = results.reduce((s, r) => s + r.durationMs, 0)
  const all = samples.map(s => s.ms)
  const perApp: Figures['perApp'] = {}
  for (const r of LIST_REQUESTS) {
    const mine = samples.filter(s => s.app === r.app).map(s => s.ms)
    perApp[r.app] = { p50: percentile(mine, 50), p99: percentile(mine, 99) }
  }
  return {
    rps: samples.length / (ms / 1000),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    requests: samples.length,
    errors: results.reduce((s, r) => s + r.errors, 0),
    cpuMs: (results.reduce((s, r) => s + r.cpuSeconds, 0) * 1000) / samples.length,
    perApp
  }
}

/**
 * `o.rounds` alternating rounds of two measurements (the first one first in even rounds), each `concurrency`
 * clients for `o.seconds` against the URLs and server process `target` gives; the figures of each.
 */
async function alternating<K extends string>(
  names: readonly [K, K],
  target: (k: K) => { urls: string[]; pid: number },
  auth: string,
  concurrency: number,
  o: ListQueryOptions
): Promise<Record<K, Figures>> {
  const measured = new Map<K, Measured[]>(names.map(k => [k, []]))
  for (let r = 0; r < o.rounds; r++) {
    for (const k of r % 2 === 0 ? names : [...names].reverse()) {
      const { urls, pid } = target(k)
      const cpu = cpuSeconds(pid)
      const res = await load(urls, auth, concurrency, o.seconds * 1000)
      measured.get(k)!.push({ ...res, cpuSeconds: cpuSeconds(pid) - cpu })
    }
  }
  return Object.fromEntries(names.map(k => [k, figures(measured.get(k)!)])) as Record<K, Figures>
}

/**
 * Ours on the measured server (compiled reads and parsed URLs kept) against ours on a second server started over the same
 * database without them, in alternating rounds; the second server is stopped at the end.
 */
async function compareCache(on: AppProcess, start: () => Promise<AppProcess>, o: ListQueryOptions) {
  const off = await start()
  try {
    const servers = { on, off }
    const urls = (app: AppProcess, who: Who) => LIST_REQUESTS.map(r => urlOf(app.url, 'ours', who, r))
    for (const who of Object.keys(USERS) as Who[]) await load(urls(off, who), USERS[who].auth, Math.max(...o.concurrency), 3000)
    const result = {} as NonNullable<ListQueryResult['cache']>
    for (const who of Object.keys(USERS) as Who[]) {
      result[who] = {}
      for (const concurrency of o.concurrency)
        result[who][concurrency] = await alternating(['on', 'off'], k => ({ urls: urls(servers[k], who), pid: servers[k].pid }), USERS[who].auth, concurrency, o)
    }
    const rows: Array<[string, string]> = []
    for (const who of Object.keys(USERS) as Who[])
      for (const c of o.concurrency) {
        const { on: a, off: b } = result[who][c]
        rows.push([`${USERS[who].name}, ${c} clients: requests/s on / off`, `${fmt(a.rps, 1)} / ${fmt(b.rps, 1)} = ${fmt(a.rps / b.rps)}`])
        rows.push([`${USERS[who].name}, ${c} clients: server CPU per request on / off`, `${fmt(a.cpuMs)} / ${fmt(b.cpuMs)} ms = ${fmt(a.cpuMs / b.cpuMs)}`])
        rows.push([`${USERS[who].name}, ${c} clients: p50 / p99 on; off`, `${fmt(a.p50, 1)} / ${fmt(a.p99, 1)} ms; ${fmt(b.p50, 1)} / ${fmt(b.p99, 1)} ms`])
      }
    block('list query: ours with compiled reads and parsed URLs kept (on) / without (off, a second server, compiledQueryCache and parsedUrlCache false)', rows)
    return result
  } finally {
    await off.stop()
  }
}

// ---- the same pages in plain SQL ------------------------------------------------------------------------

/** Each app's page (30 rows, its texts and criticalities) and count, written by hand, for one user. */
function rawPages(who: Who): Record<string, string[]> {
  const t = (e: string) => `btp_provisioning_${e}`
  const limited = who === 'viewer'
  const scoped = limited ? `s.subaccountId in (${LIMITED_TO.map(g => `'${g}'`).join(',')})` : '1 = 1'
  // the unrestricted user's pages need no subaccount
  const viaSubaccount = (on: string) => (limited ? `join ${t('Subaccounts')} s on s.ID = ${on}` : '')
  const code = (e: string, alias: string, on: string) => `left join ${t(e)} ${alias} on ${alias}.code = ${on}`
  return {
    subaccounts: [
      `select s.ID, s.catalogSyncedAt, s.displayName, s.globalAccount, s.health, s.region, s.subaccountId, s.subdomain from ${t('Subaccounts')} s where ${scoped} order by s.displayName, s.ID limit 30`,
      `select count(*) from ${t('Subaccounts')} s where ${scoped}`
    ],
    serviceinstances: [
      `select i.ID, i.environment, i.modifiedAt, i.name, i.offering_ID, i.plan_ID, i.state_code, i.subaccount_ID, o.name, p.name, st.name, st.criticality, s.displayName ` +
        `from ${t('ServiceInstances')} i left join ${t('Subaccounts')} s on s.ID = i.subaccount_ID left join ${t('ServiceOfferings')} o on o.ID = i.offering_ID ` +
        `left join ${t('ServicePlans')} p on p.ID = i.plan_ID ${code('LifecycleStates', 'st', 'i.state_code')} where ${scoped} order by i.modifiedAt desc, i.ID limit 30`,
      `select count(*) from ${t('ServiceInstances')} i ${viaSubaccount('i.subaccount_ID')} where ${scoped}`
    ],
    servicekeys: [
      // the page first (through the index), then its 30 rows' texts, as one would write it by hand
      `select k.ID, k.credentialType, k.expiresAt, k.expiry_code, k.instance_ID, k.name, k.state_code, k.verification_code, k.verifiedAt, i.name, ` +
        `st.name, st.criticality, v.name, v.criticality, e.name, e.criticality ` +
        `from (select k.* from ${t('ServiceKeys')} k ${viaSubaccount('k.subaccount_ID')} where ${scoped} order by k.modifiedAt desc, k.ID limit 30) k ` +
        `left join ${t('ServiceInstances')} i on i.ID = k.instance_ID ${code('LifecycleStates', 'st', 'k.state_code')} ` +
        `${code('VerificationStates', 'v', 'k.verification_code')} ${code('ExpiryStates', 'e', 'k.expiry_code')} order by k.modifiedAt desc, k.ID`,
      `select count(*) from ${t('ServiceKeys')} k ${viaSubaccount('k.subaccount_ID')} where ${scoped}`
    ],
    certificates: [
      `select c.ID, c.clientAuth, c.expiry_code, c.issuer, c.keyAlgorithm, c.name, c.notAfter, c.subject, e.name, e.criticality from ${t('Certificates')} c ` +
        `${code('ExpiryStates', 'e', 'c.expiry_code')} order by c.notAfter, c.ID limit 30`,
      `select count(*) from ${t('Certificates')}`
    ]
  }
}

/** ms per page (its statements once each), median of `repeat` runs on one connection. */
export function timeRawPages(file: string, who: Who, repeat = 101): Record<string, number> {
  const db = new Database(file)
  try {
    const result: Record<string, number> = {}
    for (const [app, sqls] of Object.entries(rawPages(who))) {
      const statements = sqls.map(s => db.prepare(s))
      const times: number[] = []
      for (let i = 0; i < repeat; i++) {
        const t = performance.now()
        for (const s of statements) s.all()
        times.push(performance.now() - t)
      }
      result[app] = percentile(times, 50)
    }
    return result
  } finally {
    db.close()
  }
}

// ---- the run ----------------------------------------------------------------------------------------------

export async function listQueryBench(o: ListQueryOptions): Promise<ListQueryResult> {
  const keysPerInstance = o.keysPerInstance ?? 10
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skm-bench-'))
  const file = path.join(dir, 'bench.sqlite')
  try {
    let t = Date.now()
    await deploy(file)
    const deployMs = Date.now() - t
    t = Date.now()
    const instances = fill(file, o.keys, keysPerInstance)
    const fillMs = Date.now() - t
    const rawSqlMs = { admin: timeRawPages(file, 'admin'), viewer: timeRawPages(file, 'viewer') }
    const server = o.server ?? 'built'
    const built = server === 'built' ? buildServer(path.join(dir, 'server')) : undefined
    const nodeOptions = o.nodeOptions ?? productionNodeOptions()

    const config = (db: Record<string, unknown> = {}, provisioning: Record<string, unknown> = {}) => ({
      requires: {
        db: { kind: 'sqlite', credentials: { url: file }, ...db },
        ...BARE_MODEL,
        messaging: { kind: 'local-messaging' }
      },
      provisioning: { expiryScanInterval: '24h', ...provisioning },
      log: { levels: { cds: 'warn', odata: 'warn', orchestrator: 'error', queue: 'warn', 'persistent-queue': 'warn', 'key-health': 'info' } }
    })
    const app = await startApp(config(), undefined, { built, nodeOptions })
    // the expiry scan runs once at start-up; measure after it
    // (a new database schedules its first scan an interval ahead: then none comes)
    const scanDue = () => {
      const db = new Database(file)
      try {
        const duty = db.prepare(`select runAt, leaseOwner from btp_provisioning_Duties where name = 'expiryScan'`).all()[0] as { runAt: string; leaseOwner: string | null } | undefined
        return !duty || !!duty.leaseOwner || Date.parse(duty.runAt) <= Date.now() + 60_000
      } finally {
        db.close()
      }
    }
    for (let i = 0; i < 600 && !/Expiry scan:/.test(app.output()) && scanDue(); i++) await sleep(100)
    try {
      const rssBefore = rss(app.pid)
      const urls = (service: Service, who: Who) => LIST_REQUESTS.map(r => urlOf(app.url, service, who, r))
      // both services answer the same rows to each user
      for (const who of Object.keys(USERS) as Who[]) {
        for (const [i, r] of LIST_REQUESTS.entries()) {
          const [a, b] = await Promise.all((['ours', 'bare'] as const).map(s => request<ListAnswer>('GET', urls(s, who)[i], undefined, { Authorization: USERS[who].auth })))
          for (const [name, res] of [['ours', a], ['bare', b]] as const)
            if (res.status !== 200) throw new Error(`${name} ${who} ${r.entity}: ${res.status} ${JSON.stringify(res.data).slice(0, 500)}`)
          const ids = (x: typeof a) => x.data.value.map(row => row.ID).join()
          if (a.data['@odata.count'] !== b.data['@odata.count'] || ids(a) !== ids(b) || !a.data.value.length)
            throw new Error(`${who} ${r.entity}: ours and bare answered differently (count ${a.data['@odata.count']} / ${b.data['@odata.count']})`)
        }
      }

      // both services and users warmed up before the first round (code loaded and compiled on first use),
      // so that the first measurement (ours first) does not carry it
      const most = Math.max(...o.concurrency)
      for (const who of Object.keys(USERS) as Who[]) for (const s of ['bare', 'ours'] as const) await load(urls(s, who), USERS[who].auth, most, 3000)

      const loadAtStart = os.loadavg()[0]
      const runs = {} as ListQueryResult['runs']
      for (const who of Object.keys(USERS) as Who[]) {
        runs[who] = {}
        for (const concurrency of o.concurrency) {
          // warm up both
          for (const s of ['ours', 'bare'] as const) await load(urls(s, who), USERS[who].auth, concurrency, 1500)
          const { ours, bare } = await alternating(['ours', 'bare'] as const, s => ({ urls: urls(s, who), pid: app.pid }), USERS[who].auth, concurrency, o)
          runs[who][concurrency] = { ours, bare, ratio: ours.rps / bare.rps }
        }
      }
      const mem = rss(app.pid)
      const cache = o.compareCache ? await compareCache(app, () => startApp(config({ compiledQueryCache: false }, { parsedUrlCache: false }), undefined, { built, nodeOptions }), o) : undefined

      block('list query: inputs', [
        ['requests (each client cycles through them)', LIST_REQUESTS.map(r => `${r.app}: ${r.entity}?${decodeURIComponent(r.query)}`).join('\n    ')],
        ['data', `${o.keys} keys, ${instances} instances, ${SUBACCOUNTS} subaccounts, 300 certificates (SQLite file in a temp folder, indexes of db/indexes.cds)`],
        ['schema deploy / bulk insert', `${secs(deployMs)} / ${secs(fillMs)}`],
        ['clients (keep-alive, fixed concurrency)', o.concurrency.join(', ')],
        ['measuring', `after 3 s of warm-up per service and user, ${o.rounds} alternating rounds x ${o.seconds} s per service, user and client count, same server process`],
        ['server', `${server === 'built' ? 'built JavaScript under cds-serve (as in production)' : 'TypeScript sources under tsx and cds-serve'}, one node process, node options: ${nodeOptions.join(' ') || 'none'}${o.nodeOptions ? '' : ' (as mta.yaml starts it)'}`],
        ['users', `admin (unrestricted); ${USERS.viewer.name} (Viewer, limited to 2 of ${SUBACCOUNTS} subaccounts; bare: the same restriction as $filter)`],
        ['ours', 'ProvisioningService (roles, @restrict where, srv/lib/instance-auth.ts, handlers)'],
        ['bare', 'service Bare { projections }, no handlers, no auth']
      ])
      for (const who of Object.keys(USERS) as Who[]) {
        const rows: Array<[string, string]> = []
        for (const c of o.concurrency) {
          const { ours, bare, ratio } = runs[who][c]
          rows.push([`${c} clients: requests/s ours / bare`, `${fmt(ours.rps, 1)} / ${fmt(bare.rps, 1)} = ${fmt(ratio)} (${ours.requests} / ${bare.requests} requests, ${ours.errors} / ${bare.errors} errors)`])
          rows.push([`${c} clients: server CPU per request ours / bare`, `${fmt(ours.cpuMs)} / ${fmt(bare.cpuMs)} ms = ${fmt(ours.cpuMs / bare.cpuMs)}`])
          rows.push([`${c} clients: p50 / p99 ours`, `${fmt(ours.p50, 1)} / ${fmt(ours.p99, 1)} ms`])
          rows.push([`${c} clients: p50 / p99 bare`, `${fmt(bare.p50, 1)} / ${fmt(bare.p99, 1)} ms`])
          rows.push([`${c} clients: p99 per app ours / bare`, LIST_REQUESTS.map(r => `${r.app} ${fmt(ours.perApp[r.app].p99, 1)} / ${fmt(bare.perApp[r.app].p99, 1)}`).join(', ')])
        }
        rows.push(['plain SQL per page (page + count, one connection)', Object.entries(rawSqlMs[who]).map(([k, v]) => `${k} ${fmt(v, 2)} ms`).join(', ')])
        block(`list query: ${USERS[who].name}`, rows)
      }
      block('list query: server', [
        ['machine load average (1 min) before / after measuring', `${fmt(loadAtStart, 1)} / ${fmt(os.loadavg()[0], 1)} on ${os.cpus().length} cores`],
        ['expiry scan at start-up', /Expiry scan:[^\n]*/.exec(app.output())?.[0] ?? 'none (not due)'],
        ['server RSS after start / now / peak', `${fmt(rssBefore.nowMiB, 0)} / ${fmt(mem.nowMiB, 0)} / ${fmt(mem.peakMiB, 0)} MiB`]
      ])
      return { runs, rawSqlMs, peakRssMiB: mem.peakMiB, cache }
    } finally {
      await app.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
