/**
 * npm run bench [-- options]
 *
 *   --only provisioning|list|settle   run one benchmark (default all)
 *   provisioning (a):
 *   --pairs N          instance + key pairs (default 1000)
 *   --scale K          time K x faster: SM's limits per 60/K s, operations 1/K as long (default 10)
 *   --operation-ms MS  SM operation duration before scaling (default 2000)
 *   --latency-ms MS    emulator latency per request (default 20)
 *   --clients N        parallel OData clients submitting pairs (default 16)
 *   --reconcile-concurrency N  objects the app reconciles at a time (default: the app's, 32)
 *   --compare-concurrency N    also run with this reconcile concurrency, to compare (default 0: no second run)
 *   --pollInitial/--pollMax/--pollSlice D   cds.provisioning overrides of the app, e.g. --pollInitial 1s
 *   list query (b):
 *   --keys N           service keys in the database (default 100000)
 *   --concurrency N,M  parallel clients, each count measured (default 32,8)
 *   --seconds S        measuring time per service, user, client count and round (default 4)
 *   --rounds N         alternating rounds per service (default 4)
 *   --server built|tsx the server as in production, built JavaScript (default), or the sources under tsx
 *   --node-options="..."  node options of the server (default: NODE_OPTIONS of the server module in mta.yaml)
 *   --compare-cache    also measure ours without kept compiled reads and parsed URLs (a second server,
 *                      compiledQueryCache and parsedUrlCache false)
 *   settle after a crash (c):
 *   --settle-pairs N   instance + key pairs in flight when the app is killed (default 40)
 *   --settle-rounds N  kills per database (default 3)
 *
 * Prints the inputs, the figures and a summary of ratios; asserts nothing.
 */
import { args, block, fmt, num } from './lib'
import { APP_CONCURRENCY, provisioningBench, type ProvisioningResult } from './provisioning'
import { listQueryBench, type ListQueryResult } from './list-query'
import { settleBench, type SettleResult } from './settle'

async function main() {
  const a = args()
  const only = a.only
  const provisioning: ProvisioningResult[] = []
  let list: ListQueryResult | undefined
  let settle: SettleResult | undefined

  if (!only || only === 'provisioning') {
    const base = {
      pairs: num(a, 'pairs', 1000),
      scale: num(a, 'scale', 10),
      operationMs: num(a, 'operation-ms', 2000),
      requestLatencyMs: num(a, 'latency-ms', 20),
      clients: num(a, 'clients', 16)
    }
    const concurrency = num(a, 'reconcile-concurrency', APP_CONCURRENCY)
    const prov: Record<string, string> = {}
    for (const k of ['pollInitial', 'pollMax', 'pollSlice']) if (a[k]) prov[k] = a[k]
    const extra = Object.keys(prov).length ? ' ' + JSON.stringify(prov) : ''
    provisioning.push(await provisioningBench({ ...base, concurrency, provisioning: prov, label: `concurrency ${concurrency}${extra}` }))
    const compare = num(a, 'compare-concurrency', 0)
    if (compare > 0 && compare !== concurrency) provisioning.push(await provisioningBench({ ...base, concurrency: compare, label: `concurrency ${compare}` }))
  }
  if (!only || only === 'list') {
    const concurrency = (a.concurrency ?? '32,8').split(',').map(Number)
    if (concurrency.some(c => !Number.isInteger(c) || c < 1)) throw new Error(`--concurrency must list positive integers, got '${a.concurrency}'`)
    if (a.server && a.server !== 'tsx' && a.server !== 'built') throw new Error(`--server must be built or tsx, got '${a.server}'`)
    if (a['node-options'] === 'true') throw new Error('--node-options takes its value after =, e.g. --node-options=--max-old-space-size=192')
    list = await listQueryBench({
      keys: num(a, 'keys', 100_000),
      concurrency,
      seconds: num(a, 'seconds', 4),
      rounds: num(a, 'rounds', 4),
      server: a.server === 'tsx' ? 'tsx' : 'built',
      nodeOptions: a['node-options'] === undefined ? undefined : a['node-options'].split(/\s+/).filter(Boolean),
      compareCache: a['compare-cache'] === 'true'
    })
  }

  if (!only || only === 'settle') settle = await settleBench({ pairs: num(a, 'settle-pairs', 40), rounds: num(a, 'settle-rounds', 3) })

  const rows: Array<[string, string]> = []
  for (const p of provisioning) {
    rows.push([`provisioning (${p.label}): wall / ideal bound (goal <= 1.1)`, `${fmt(p.wallMs / p.idealSlidingMs)} (${fmt(p.wallMs / 1000, 1)} s / ${fmt(p.idealSlidingMs / 1000, 1)} s)`])
    rows.push([`provisioning (${p.label}): wall / plain-rate bound`, fmt(p.wallMs / p.idealRateMs)])
    rows.push([`provisioning (${p.label}): SM calls per key (goal <= 4)`, fmt(p.callsPerKey)])
    rows.push([`provisioning (${p.label}): 429s / failed`, `${p.rateLimited} / ${p.failed}`])
  }
  if (list) {
    const counts = Object.keys(list.runs.admin).map(Number)
    const most = Math.max(...counts)
    const fewest = Math.min(...counts)
    for (const who of ['admin', 'viewer'] as const) {
      const user = who === 'admin' ? 'admin (unrestricted)' : 'Viewer (2 of 20 subaccounts)'
      const top = list.runs[who][most]
      rows.push([`list query, ${user}: throughput ours / bare at ${most} clients (goal >= 0.9)`, `${fmt(top.ratio)} (${fmt(top.ours.rps, 1)} / ${fmt(top.bare.rps, 1)} requests/s)`])
      rows.push([`list query, ${user}: p99 ours / bare at ${most} clients (goal <= 1.2)`, `${fmt(top.ours.p99 / top.bare.p99)} (${fmt(top.ours.p99, 1)} / ${fmt(top.bare.p99, 1)} ms)`])
      rows.push([`list query, ${user}: server CPU per request ours / bare at ${most} clients`, `${fmt(top.ours.cpuMs / top.bare.cpuMs)} (${fmt(top.ours.cpuMs)} / ${fmt(top.bare.cpuMs)} ms)`])
      rows.push([`list query, ${user}: p99 ours at ${fewest} clients (goal < 50 ms)`, `${fmt(list.runs[who][fewest].ours.p99, 1)} ms (bare ${fmt(list.runs[who][fewest].bare.p99, 1)} ms)`])
      rows.push([`list query, ${user}: plain SQL per page + count`, Object.entries(list.rawSqlMs[who]).map(([k, v]) => `${k} ${fmt(v, 2)} ms`).join(', ')])
    }
    rows.push(['list query: server peak RSS (goal <= 250 MiB)', `${fmt(list.peakRssMiB, 0)} MiB`])
    for (const who of ['admin', 'viewer'] as const) {
      const c = list.cache?.[who]
      if (!c) continue
      const user = who === 'admin' ? 'admin' : 'Viewer'
      rows.push([`list query, ${user}: compiled reads and parsed URLs kept / not, CPU per request at ${most} and ${fewest} clients`, `${fmt(c[most].on.cpuMs / c[most].off.cpuMs)}, ${fmt(c[fewest].on.cpuMs / c[fewest].off.cpuMs)}`])
      rows.push([`list query, ${user}: compiled reads and parsed URLs kept / not, p99 at ${fewest} clients`, `${fmt(c[fewest].on.p99 / c[fewest].off.p99)} (${fmt(c[fewest].on.p99, 1)} / ${fmt(c[fewest].off.p99, 1)} ms)`])
    }
  }
  if (settle) {
    const worst = (ms: number[]) => `${fmt(Math.max(...ms) / 1000, 1)} s (rounds: ${ms.map(m => fmt(m / 1000, 1)).join(', ')})`
    rows.push([`settle after SIGKILL, SQLite restart, ${settle.objects} objects: worst (goal <= 15 s)`, worst(settle.sqliteMs)])
    rows.push([`settle after SIGKILL, PostgreSQL takeover by the other instance: worst (goal <= 15 s)`, worst(settle.postgresMs)])
  }
  block('SUMMARY', rows)
}

main().then(
  () => process.exit(0),
  e => {
    console.error(e)
    process.exit(1)
  }
)
