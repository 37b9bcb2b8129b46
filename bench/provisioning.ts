/**
 * Benchmark a: provisioning N instance + key pairs through the real app (child process, OData over HTTP)
 * against the SM emulator (in this process) with realistic operation latency and SM's rate limits, both
 * on the emulator and in the app's throttle.
 *
 * Time runs K times faster to keep the run short: SM's limits stay as documented per window, but the
 * "minute" they count in lasts 60 s / K (an hour 60 of those), and operations take operationMs / K. So
 * the run sees the same number of rate-limit windows as the same load against SM would (1,000 instance
 * creates at 50 per minute: 20 windows), only each window is shorter; the figures are ratios, so they
 * do not depend on K much:
 *   wall time / ideal bound   (goal <= 1.1)
 *   SM calls per key          (goal <= 6; every call the emulator received, tokens and polls included)
 * Ideal bound = when the limits let the last call of the most constrained level start, plus the latency
 * tail that no limit removes (one operation + three request latencies: the POST answer, the poll that sees
 * it done, the key creation). SM's window is sliding, so the first `limit` calls may go at once and the
 * last of `need` calls may start after floor((need - 1) / limit) windows: that is the bound the goal is
 * measured against. The same limit taken as a plain rate (need / limit windows) is printed beside it.
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startEmulator, type Emulator, type RecordedCall } from '../emulator'
import { SM_LIMITS } from '../srv/service-manager/throttle'
import { API, ADMIN_AUTH, ROOT, block, cpuSeconds, fmt, percentile, pool, request, rss, secs, sleep, startApp, type AppProcess } from './lib'

/** Objects one app process reconciles at a time, as the app is configured, when a run does not override it. */
export const APP_CONCURRENCY: number =
  (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { cds: { provisioning?: { reconcileConcurrency?: number } } }).cds.provisioning?.reconcileConcurrency ?? 32

/** Subaccount "ACME Integration (eu10)" of the sample data and its entitled plan xsuaa/application. */

const SUBACCOUNT = '0c7a51f2-3b6d-4e8a-9f10-2d4c6e8a0b11'
const PLAN = 'f144ebdf-e1f3-5813-acca-d3353ea7d7d0'

export interface ProvisioningOptions {
  pairs: number
  scale: number
  /** operation duration before scaling (default 2000 ms, i.e. 2000/K ms in the run) */
  operationMs: number
  requestLatencyMs: number
  /** parallel OData clients submitting the pairs */
  clients: number
  /** cds.provisioning.reconcileConcurrency override */
  concurrency?: number
  /** cds.provisioning overrides, e.g. { pollMax: '2s' } */
  provisioning?: Record<string, unknown>
  label?: string
}

export interface ProvisioningResult {
  label: string
  wallMs: number
  idealSlidingMs: number
  idealRateMs: number
  callsPerKey: number
  rateLimited: number
  failed: number
}

/** Start of the last of `need` calls under `limit` per sliding window, and as a plain rate. */
function bounds(need: number, limit: number, windowMs: number) {
  return { sliding: Math.floor((need - 1) / limit) * windowMs, rate: (need / limit) * windowMs }
}

/** The columns of an operation the run reads. */
interface Operation {
  instance_ID: string
  targetType: 'instance' | 'serviceKey'
  finishedAt: string | null
}

type Kind = string
function kindOf(c: RecordedCall, smClients: Set<string>): Kind {
  if (c.path.endsWith('/oauth/token')) return smClients.has(String((c.body as { client_id?: string } | undefined)?.client_id ?? '')) ? 'token (SM client)' : 'token (key verification)'
  if (c.method === 'POST' && c.path === '/v1/service_instances') return 'POST instance'
  if (c.method === 'GET' && /^\/v1\/service_instances\/[^/]+\/operations\//.test(c.path)) return 'GET instance operation'
  if (c.method === 'POST' && c.path === '/v1/service_bindings') return 'POST binding'
  if (c.method === 'GET' && /^\/v1\/service_bindings\/[^/]+$/.test(c.path)) return 'GET binding'
  if (c.method === 'GET' && /^\/v1\/service_bindings\/[^/]+\/operations\//.test(c.path)) return 'GET binding operation'
  if (c.method === 'GET' && /^\/v1\/service_(instances|bindings)$/.test(c.path)) return 'GET list (lookup)'
  return `${c.method} ${c.path.replace(/[0-9a-f-]{36}/g, '{id}')}`
}

async function count(app: AppProcess, query: string): Promise<number> {
  const res = await request<{ '@odata.count': number }>('GET', `${app.url}${API}/${query}&$count=true&$top=0`, undefined, { Authorization: ADMIN_AUTH })
  if (res.status !== 200) throw new Error(`${query}: ${res.status} ${JSON.stringify(res.data).slice(0, 300)}`)
  return res.data['@odata.count']
}

/** All rows of a query, page by page (the server pages at 1000). */
async function all<T>(app: AppProcess, query: string): Promise<T[]> {
  const rows: T[] = []
  for (let skip = 0; ; skip += 1000) {
    const res = await request<{ value: T[] }>('GET', `${app.url}${API}/${query}&$top=1000&$skip=${skip}`, undefined, { Authorization: ADMIN_AUTH })
    if (res.status !== 200) throw new Error(`${query}: ${res.status}`)
    rows.push(...res.data.value)
    if (res.data.value.length < 1000) return rows
  }
}

export async function provisioningBench(o: ProvisioningOptions): Promise<ProvisioningResult> {
  const k = o.scale
  const operationMs = Math.round(o.operationMs / k)
  const windowMs = Math.round(60_000 / k)
  const limits = { all: SM_LIMITS.all.perMinute!, instanceCreates: SM_LIMITS.instanceCreates.perMinute!, bindings: SM_LIMITS.bindings.perMinute! }
  const concurrency = o.concurrency ?? APP_CONCURRENCY
  const label = o.label ?? `concurrency ${concurrency}`
  const emu: Emulator = await startEmulator({
    operationMs,
    requestLatencyMs: o.requestLatencyMs,
    rateLimit: {
      perMinute: limits.all,
      instanceCreatesPerMinute: limits.instanceCreates,
      bindingsPerMinute: limits.bindings,
      windowMs
    }
  })
  const subaccounts = Object.fromEntries(
    emu.tenants.map(t => [t.subaccountId, { sm_url: emu.url, url: emu.url, clientid: t.clientid, clientsecret: t.clientsecret }])
  )
  const smClients = new Set(emu.tenants.map(t => t.clientid))
  const app = await startApp({
    requires: {
      'service-manager': { kind: 'credentials', subaccounts, limits: { minuteMs: windowMs } },
      messaging: { kind: 'local-messaging' }
    },
    provisioning: { expiryScanInterval: '24h', reconcileConcurrency: concurrency, ...(o.provisioning ?? {}) },
    log: { levels: { cds: 'warn', odata: 'warn', orchestrator: 'error', queue: 'warn', 'persistent-queue': 'warn', 'service-manager': 'warn' } }
  })
  const auth = { Authorization: ADMIN_AUTH }
  try {
    // warm up the OData paths (no SM call: nothing may use up the rate limits before the run)
    for (const q of ['ServicePlans?$top=1', 'ServiceInstances?$top=1', 'ServiceKeys?$top=1', 'Operations?$top=1']) {
      const res = await request('GET', `${app.url}${API}/${q}`, undefined, auth)
      if (res.status !== 200) throw new Error(`warm-up ${q}: ${res.status}`)
    }
    const plan = await request<{ subaccount_ID?: string }>('GET', `${app.url}${API}/ServicePlans(${PLAN})`, undefined, auth)
    if (plan.status !== 200 || plan.data.subaccount_ID !== SUBACCOUNT) throw new Error(`plan ${PLAN} is not in the sample data`)

    const from = emu.calls.length
    const cpu0 = cpuSeconds(app.pid)
    const t0 = Date.now()
    await pool(o.pairs, o.clients, async i => {
      const name = `bench-${String(i).padStart(5, '0')}`
      const inst = await request<{ ID: string }>('POST', `${app.url}${API}/ServiceInstances`, { subaccount_ID: SUBACCOUNT, plan_ID: PLAN, name }, auth)
      if (inst.status !== 201) throw new Error(`create instance ${name}: ${inst.status} ${JSON.stringify(inst.data).slice(0, 300)}`)
      const key = await request('POST', `${app.url}${API}/ServiceKeys`, { instance_ID: inst.data.ID, name: `${name}-key` }, auth)
      if (key.status !== 201) throw new Error(`create key ${name}: ${key.status} ${JSON.stringify(key.data).slice(0, 300)}`)
    })
    const submittedMs = Date.now() - t0

    const slidingCreates = bounds(o.pairs, limits.instanceCreates, windowMs)
    const slidingAll = bounds(3 * o.pairs, limits.all, windowMs)
    const slidingBindings = bounds(o.pairs, limits.bindings, windowMs)
    const tailMs = operationMs + 3 * o.requestLatencyMs
    const idealSlidingMs = Math.max(slidingCreates.sliding, slidingAll.sliding, slidingBindings.sliding) + tailMs
    const idealRateMs = Math.max(slidingCreates.rate, slidingAll.rate, slidingBindings.rate) + tailMs

    // all keys Ready (or Failed): the wall time
    const deadline = t0 + 3 * idealRateMs + 180_000
    let done = 0
    let progress = Date.now()
    while (done < o.pairs) {
      if (Date.now() > deadline) throw new Error(`only ${done} of ${o.pairs} keys finished by the deadline`)
      await sleep(200)
      done = await count(app, `ServiceKeys?$filter=state_code eq 'Ready' or state_code eq 'Failed'`)
      if (Date.now() - progress > 15_000) {
        progress = Date.now()
        console.log(`  ... ${secs(Date.now() - t0)}: ${done}/${o.pairs} keys finished`)
      }
    }
    const wallMs = Date.now() - t0
    const appCpu = cpuSeconds(app.pid) - cpu0
    // let the verification token fetches of the last keys happen, so that every call is counted
    for (let i = 0; i < 100 && (await count(app, `ServiceKeys?$filter=verifiedAt eq null`)) > 0; i++) await sleep(200)
    await sleep(500)

    const calls = emu.calls.slice(from)
    const byKind = new Map<string, number>()
    for (const c of calls) byKind.set(kindOf(c, smClients), (byKind.get(kindOf(c, smClients)) ?? 0) + 1)
    const rateLimited = calls.filter(c => c.status === 429).length
    const failedKeys = await count(app, `ServiceKeys?$filter=state_code eq 'Failed'`)
    const failedInstances = await count(app, `ServiceInstances?$filter=state_code eq 'Failed'`)
    const keys = o.pairs - failedKeys

    // where the time went
    const creates = calls.filter(c => c.method === 'POST' && c.path === '/v1/service_instances' && c.status !== 429)
    const perWindow: number[] = []
    for (const c of creates) {
      const w = Math.floor((c.at - creates[0].at) / windowMs)
      perWindow[w] = (perWindow[w] ?? 0) + 1
    }
    const ops = await all<Operation>(app, `Operations?$filter=type eq 'create'&$select=instance_ID,serviceKey_ID,targetType,finishedAt,createdAt`)
    const instDone = new Map<string, number>()
    for (const op of ops) if (op.targetType === 'instance' && op.finishedAt) instDone.set(op.instance_ID, Date.parse(op.finishedAt))
    const keyLag: number[] = []
    let lastInstanceReady = 0
    for (const t of instDone.values()) lastInstanceReady = Math.max(lastInstanceReady, t)
    for (const op of ops) {
      if (op.targetType !== 'serviceKey' || !op.finishedAt) continue
      const inst = instDone.get(op.instance_ID)
      if (inst) keyLag.push(Date.parse(op.finishedAt) - inst)
    }
    const withinWindow = creates.filter(c => c.at - creates[0].at < windowMs)
    // how late each create came after the window let it (the create `limit` places before it + one window)
    const lateness = creates.slice(limits.instanceCreates).map((c, i) => c.at - creates[i].at - windowMs)
    const firstWindowPush = withinWindow.length ? withinWindow.at(-1)!.at - withinWindow[0].at : NaN
    const rssNow = rss(app.pid)

    block(`provisioning (${label}): inputs`, [
      ['pairs (instance + key)', o.pairs],
      ['time scale K', k],
      ['limits (SM\'s, per window of 60 s / K)', `all ${limits.all}, instance creates ${limits.instanceCreates}, bindings ${limits.bindings} per ${secs(windowMs)} (emulator and app throttle)`],
      ['operation duration', `${operationMs} ms (${o.operationMs} ms / K)`],
      ['request latency', `${o.requestLatencyMs} ms per SM call`],
      ['OData clients', o.clients],
      ['objects reconciled at a time', concurrency],
      ['provisioning', JSON.stringify(o.provisioning ?? {})]
    ])
    block(`provisioning (${label}): figures`, [
      ['wall time (first POST -> all keys Ready)', secs(wallMs)],
      ['all pairs submitted (OData POSTs answered)', secs(submittedMs)],
      ['ideal bound (sliding window)', `${secs(idealSlidingMs)} (the first ${limits.instanceCreates} creates go at once, the last at ${secs(slidingCreates.sliding)}; + tail ${tailMs} ms)`],
      ['wall / ideal', fmt(wallMs / idealSlidingMs)],
      ['ideal bound as a plain rate', `${secs(idealRateMs)} (${o.pairs} creates at ${limits.instanceCreates} per ${secs(windowMs)} + tail)`],
      ['wall / plain-rate bound', fmt(wallMs / idealRateMs)],
      ['SM calls (emulator received)', calls.length],
      ['SM calls per key', fmt(calls.length / Math.max(1, keys))],
      ...[...byKind.entries()].sort((a, b) => b[1] - a[1]).map(([kind, n]): [string, string] => [`  ${kind}`, `${n} (${fmt(n / Math.max(1, keys))}/key)`]),
      ['429 answered by the emulator', rateLimited],
      ['failed instances / keys', `${failedInstances} / ${failedKeys}`],
      ['instance creates per minute window', perWindow.map(n => n ?? 0).join(', ')],
      ['first window: its creates took', secs(firstWindowPush)],
      ['create after its window freed: p50 / p90 / max', `${secs(percentile(lateness, 50))} / ${secs(percentile(lateness, 90))} / ${secs(Math.max(...lateness))}`],
      ['last create at SM (after first POST)', secs((creates.at(-1)?.at ?? NaN) - t0)],
      ['last instance Ready', secs(lastInstanceReady - t0)],
      ['key Ready after its instance: p50 / p99 / max', `${secs(percentile(keyLag, 50))} / ${secs(percentile(keyLag, 99))} / ${secs(Math.max(...keyLag))}`],
      ['app CPU during the run', `${fmt(appCpu, 1)} s = ${fmt((100 * appCpu * 1000) / wallMs, 0)} % of one core, ${fmt((1000 * appCpu) / o.pairs, 0)} ms per pair`],
      ['pairs/min one free core could carry', `${fmt((60 * o.pairs) / appCpu, 0)} (SM allows ${fmt((limits.instanceCreates * 60_000) / windowMs, 0)} instance creates/min at this scale)`],
      ['machine load average (1 min) at the end', `${fmt(os.loadavg()[0], 1)} on ${os.cpus().length} cores`],
      ['app RSS now / peak', `${fmt(rssNow.nowMiB, 0)} / ${fmt(rssNow.peakMiB, 0)} MiB`]
    ])
    return { label, wallMs, idealSlidingMs, idealRateMs, callsPerKey: calls.length / Math.max(1, keys), rateLimited, failed: failedKeys + failedInstances }
  } finally {
    await app.stop()
    await emu.close()
  }
}
