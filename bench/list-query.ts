/**
 * Benchmark b: the Fiori list query of the Service Keys app at 100k keys, ProvisioningService (roles,
 * instance-based restrictions, the $expand guard of srv/lib/instance-auth.ts, handlers) against a bare
 * CAP service over the same schema and data (bench/bare.cds), served by the same server process.
 *
 * The data is bulk-inserted straight into a SQLite file in a temp folder (schema from `cds deploy`).
 * Both services are measured in the same run with the same fixed number of keep-alive clients, alternating
 * in rounds to spread noise evenly; figures: requests/s, the ratio ours/bare (goal >= 0.9), p50/p99
 * latency, and the peak RSS of the server process.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { ADMIN_AUTH, ROOT, block, fmt, load, percentile, request, rss, secs, sleep, startApp, type LoadResult } from './lib'

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
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require('better-sqlite3') as new (file: string) => SqliteDatabase

const BARE_MODEL = { 'bench-bare': { model: 'bench/bare' } }
/** The Service Keys list report's request: first page, count, the instance, newest first (PresentationVariant). */
const QUERY = 'ServiceKeys?$top=30&$count=true&$expand=instance&$orderby=modifiedAt%20desc'

export interface ListQueryOptions {
  keys: number
  concurrency: number
  seconds: number
  rounds: number
  keysPerInstance?: number
}

interface Figures {
  rps: number
  p50: number
  p99: number
  requests: number
  errors: number
}

export interface ListQueryResult {
  ours: Figures
  bare: Figures
  ratio: number
  peakRssMiB: number
}

/** Deploys the schema (with the bare service's views) to a SQLite file. */
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

/** Inserts `keys` service keys (and their instances) in one transaction; columns the schema lacks are left out. */
export function fill(file: string, keys: number, keysPerInstance: number) {
  const db = new Database(file)
  try {
    const columns = (table: string) => new Set((db.prepare(`pragma table_info(${table})`).all() as Array<{ name: string }>).map(c => c.name))
    const insert = (table: string, row: Record<string, unknown>, have: Set<string>) => {
      const names = Object.keys(row).filter(n => have.has(n))
      return { sql: `insert into ${table} (${names.join(',')}) values (${names.map(() => '?').join(',')})`, names }
    }
    const plans = db.prepare('select ID, subaccount_ID, offering_ID from btp_provisioning_ServicePlans where entitled = 1').all() as Array<Record<string, string>>
    if (!plans.length) throw new Error('no entitled plans in the sample data')
    const instCols = columns('btp_provisioning_ServiceInstances')
    const keyCols = columns('btp_provisioning_ServiceKeys')
    const yearMs = 365 * 24 * 3600 * 1000
    const now = Date.now()
    const iso = (t: number) => new Date(t).toISOString()
    const instanceCount = Math.ceil(keys / keysPerInstance)
    const instanceIds: string[] = []
    let instStmt: { sql: string; names: string[] } | undefined
    let keyStmt: { sql: string; names: string[] } | undefined
    let prepared: SqliteStatement | undefined
    let preparedKey: SqliteStatement | undefined
    db.transaction(() => {
      for (let i = 0; i < instanceCount; i++) {
        const plan = plans[i % plans.length]
        const created = now - Math.floor(((i + 1) / instanceCount) * yearMs)
        const ID = randomUUID()
        instanceIds.push(ID)
        const row = {
          ID,
          createdAt: iso(created),
          createdBy: 'bench',
          modifiedAt: iso(created + 60_000),
          modifiedBy: 'bench',
          state_code: 'Ready',
          smId: randomUUID(),
          subaccount_ID: plan.subaccount_ID,
          offering_ID: plan.offering_ID,
          plan_ID: plan.ID,
          environment: 'other',
          name: `inst-${String(i).padStart(6, '0')}`,
          labels: JSON.stringify({ managed_by: ['service-key-manager'], skm_id: [ID] })
        }
        instStmt ??= insert('btp_provisioning_ServiceInstances', row, instCols)
        prepared ??= db.prepare(instStmt.sql)
        prepared.run(...instStmt.names.map(n => (row as Record<string, unknown>)[n]))
      }
      for (let i = 0; i < keys; i++) {
        const x509 = i % 10 === 0
        const created = now - Math.floor(Math.random() * yearMs)
        const state = i % 50 === 0 ? 'Failed' : i % 70 === 0 ? 'Creating' : 'Ready'
        const expiresAt = x509 ? iso(created + 90 * 24 * 3600 * 1000) : null
        const row = {
          ID: randomUUID(),
          createdAt: iso(created),
          createdBy: 'bench',
          modifiedAt: iso(created + Math.floor(Math.random() * 3_600_000)),
          modifiedBy: 'bench',
          state_code: state,
          smId: state === 'Ready' ? randomUUID() : null,
          lastError: state === 'Failed' ? 'The operation failed in Service Manager' : null,
          instance_ID: instanceIds[i % instanceCount],
          name: `key-${String(i).padStart(6, '0')}`,
          credentialType: x509 ? 'x509' : 'binding-secret',
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
        }
        keyStmt ??= insert('btp_provisioning_ServiceKeys', row, keyCols)
        preparedKey ??= db.prepare(keyStmt.sql)
        preparedKey.run(...keyStmt.names.map(n => (row as Record<string, unknown>)[n]))
      }
    })()
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

function figures(results: LoadResult[]): Figures {
  const latencies = results.flatMap(r => r.latencies)
  const requests = results.reduce((s, r) => s + r.requests, 0)
  const ms = results.reduce((s, r) => s + r.durationMs, 0)
  return {
    rps: requests / (ms / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    requests,
    errors: results.reduce((s, r) => s + r.errors, 0)
  }
}

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

    const app = await startApp({
      requires: {
        db: { kind: 'sqlite', credentials: { url: file } },
        ...BARE_MODEL,
        messaging: { kind: 'local-messaging' }
      },
      provisioning: { expiryScanInterval: '24h' },
      log: { levels: { cds: 'warn', odata: 'warn', orchestrator: 'error', queue: 'warn', 'persistent-queue': 'warn', 'key-health': 'info' } }
    })
    // the expiry scan runs once at start-up; measure after it
    for (let i = 0; i < 600 && !/Expiry scan:/.test(app.output()); i++) await sleep(100)
    try {
      const rssBefore = rss(app.pid)
      const headers = { Authorization: ADMIN_AUTH }
      const urls = { ours: `${app.url}/odata/v4/provisioning/${QUERY}`, bare: `${app.url}/odata/v4/bare/${QUERY}` }
      // same answer from both
      const [a, b] = await Promise.all([request('GET', urls.ours, undefined, headers), request('GET', urls.bare, undefined, headers)])
      for (const [name, res] of [['ours', a], ['bare', b]] as const) {
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.data).slice(0, 500)}`)
        if (res.data['@odata.count'] !== o.keys || res.data.value.length !== 30 || !res.data.value[0].instance)
          throw new Error(`${name}: unexpected answer (count ${res.data['@odata.count']}, ${res.data.value.length} rows)`)
      }
      if (a.data.value.map((r: { ID: string }) => r.ID).join() !== b.data.value.map((r: { ID: string }) => r.ID).join())
        throw new Error('ours and bare answered different rows')
      // warm up both
      await load(urls.ours, headers, o.concurrency, 1500)
      await load(urls.bare, headers, o.concurrency, 1500)

      const results: Record<'ours' | 'bare', LoadResult[]> = { ours: [], bare: [] }
      for (let r = 0; r < o.rounds; r++) {
        const order: Array<'ours' | 'bare'> = r % 2 === 0 ? ['ours', 'bare'] : ['bare', 'ours']
        for (const which of order) results[which].push(await load(urls[which], headers, o.concurrency, o.seconds * 1000))
      }
      const ours = figures(results.ours)
      const bare = figures(results.bare)
      const mem = rss(app.pid)
      const ratio = ours.rps / bare.rps

      block('list query: inputs', [
        ['query', QUERY],
        ['data', `${o.keys} keys, ${instances} instances (SQLite file in a temp folder; no index on modifiedAt)`],
        ['schema deploy / bulk insert', `${secs(deployMs)} / ${secs(fillMs)}`],
        ['clients (keep-alive, fixed concurrency)', o.concurrency],
        ['measuring', `${o.rounds} alternating rounds x ${o.seconds} s per service, same server process`],
        ['ours', 'ProvisioningService as user admin (roles, @restrict where, $expand guard, handlers)'],
        ['bare', 'service Bare { ServiceKeys, ServiceInstances as projections }, no handlers, no auth']
      ])
      block('list query: figures', [
        ['requests/s ours', `${fmt(ours.rps, 1)} (${ours.requests} requests, ${ours.errors} errors)`],
        ['requests/s bare', `${fmt(bare.rps, 1)} (${bare.requests} requests, ${bare.errors} errors)`],
        ['throughput ours / bare', fmt(ratio)],
        ['per round ours', results.ours.map(x => fmt(x.requests / (x.durationMs / 1000), 1)).join(', ')],
        ['per round bare', results.bare.map(x => fmt(x.requests / (x.durationMs / 1000), 1)).join(', ')],
        ['latency p50 / p99 ours', `${fmt(ours.p50, 1)} / ${fmt(ours.p99, 1)} ms`],
        ['latency p50 / p99 bare', `${fmt(bare.p50, 1)} / ${fmt(bare.p99, 1)} ms`],
        ['machine load average (1 min) at the end', `${fmt(os.loadavg()[0], 1)} on ${os.cpus().length} cores`],
        ['expiry scan at start-up', /Expiry scan:[^\n]*/.exec(app.output())?.[0] ?? 'not seen'],
        ['server RSS after start / now / peak', `${fmt(rssBefore.nowMiB, 0)} / ${fmt(mem.nowMiB, 0)} / ${fmt(mem.peakMiB, 0)} MiB`]
      ])
      return { ours, bare, ratio, peakRssMiB: mem.peakMiB }
    } finally {
      await app.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
