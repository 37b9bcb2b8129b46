/**
 * Helpers for the resilience suites: the SM emulator and the app as real child processes, so that the app
 * can be killed (SIGKILL) and restarted while the emulator keeps its state, and several app processes can
 * share one database and one emulator.
 *
 * Every process is started in its own process group (cds-tsx and tsx start node children of their own)
 * and bound to 127.0.0.1; stopAll() ends all of them, and a last-resort exit hook kills whatever is left
 * should jest itself go down.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import type { AdminFault } from '../../emulator/admin'
import type { RecordedCall } from '../../emulator/types'
import {
  DEV_SUBACCOUNT_1_ID,
  DEV_SUBACCOUNT_2_ID,
  DEV_TENANT_1_CLIENT_ID,
  DEV_TENANT_1_CLIENT_SECRET,
  DEV_TENANT_2_CLIENT_ID,
  DEV_TENANT_2_CLIENT_SECRET
} from '../../emulator/catalog'

export const ROOT = path.resolve(__dirname, '..', '..')
const BIN = path.join(ROOT, 'node_modules', '.bin')
export const LOG_DIR = path.join(ROOT, 'test-output', 'resilience')
export const API = '/odata/v4/provisioning'
export const INSTANCES = '/v1/service_instances'
export const BINDINGS = '/v1/service_bindings'
export const LABEL_RECORD = 'skm_id'

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
const execFileAsync = promisify(execFile)

// ---- processes ---------------------------------------------------------------------------------------

export interface Proc {
  name: string
  child: ChildProcess
  /** everything the process wrote to stdout and stderr so far */
  output(): string
  /** resolves with the exit code (or the signal) once the process has ended */
  exited: Promise<string>
}

const running = new Set<Proc>()

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal)
  } catch {
    /* already gone */
  }
}

// should jest die without running afterAll, at least nothing we started outlives it
const killAllNow = () => {
  for (const p of running) if (p.child.pid) killGroup(p.child.pid, 'SIGKILL')
}
process.once('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllNow()
    process.kill(process.pid, signal)
  })
}

function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }
  // the parent's cds settings must not leak into the child; each child gets exactly what it is given
  for (const k of Object.keys(env)) if (/^cds[._]/i.test(k) && k !== 'CDS_TYPESCRIPT') delete env[k]
  env.PATH = `${BIN}${path.delimiter}${env.PATH ?? ''}`
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

const opened = new Set<string>()

/** test-output/resilience/<name>.log: written afresh by each jest run, appended to by restarts. */
function openLog(name: string): WriteStream {
  mkdirSync(LOG_DIR, { recursive: true })
  const flags = opened.has(name) ? 'a' : 'w'
  opened.add(name)
  return createWriteStream(path.join(LOG_DIR, `${name}.log`), { flags })
}

/**
 * Starts `command` in its own process group and resolves with the first match of `ready` in its output.
 * Rejects (and kills the process) when it exits or does not get ready within `timeoutMs`.
 */
export async function spawnUntil(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  ready: RegExp,
  timeoutMs = 60_000
): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const log = openLog(name)
  log.write(`\n===== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`)
  const child = spawn(command, args, { cwd: ROOT, env: childEnv(env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const exited = new Promise<string>(resolve => {
    child.once('exit', (code, signal) => {
      running.delete(proc)
      log.end(`\n===== exited ${signal ?? code}\n`)
      resolve(String(signal ?? code))
    })
  })
  const proc: Proc = { name, child, output: () => out, exited }
  running.add(proc)
  const onData = (chunk: Buffer) => {
    const text = chunk.toString()
    out += text
    log.write(text)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not get ready within ${timeoutMs} ms:\n${tail(out)}`)), timeoutMs)
      const check = () => {
        const m = ready.exec(out)
        if (m) {
          clearTimeout(timer)
          child.stdout!.off('data', check)
          child.stderr!.off('data', check)
          resolve(m)
        }
      }
      child.stdout!.on('data', check)
      child.stderr!.on('data', check)
      child.once('error', e => {
        clearTimeout(timer)
        reject(e)
      })
      void exited.then(code => {
        clearTimeout(timer)
        reject(new Error(`${name} exited (${code}) before it got ready:\n${tail(out)}`))
      })
    })
    return { proc, match }
  } catch (e) {
    await stop(proc, 'SIGKILL')
    throw e
  }
}

/** Ends the process group of `proc`: SIGTERM (SIGKILL after 10 s) or SIGKILL right away. */
export async function stop(proc: Proc | undefined, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
  const pid = proc?.child.pid
  if (!proc || !pid || !running.has(proc)) return
  killGroup(pid, signal)
  const escalate = setTimeout(() => killGroup(pid, 'SIGKILL'), 10_000)
  await proc.exited
  clearTimeout(escalate)
  // whatever the group started is gone too (cds-tsx -> tsx -> node)
  killGroup(pid, 'SIGKILL')
}

/** Stops every process these helpers started (afterAll). */
export async function stopAll() {
  await Promise.all([...running].map(p => stop(p, 'SIGKILL')))
}

export function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n')
}

/** Runs a command to completion (npx-free: from node_modules/.bin), failing with its output. */
export async function run(command: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000) {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd: ROOT, env: childEnv(env), timeout: timeoutMs, maxBuffer: 20 * 1024 * 1024 })
    return stdout + stderr
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${tail(`${err.stdout ?? ''}${err.stderr ?? ''}`)}`)
  }
}

// ---- the emulator --------------------------------------------------------------------------------------

export interface EmulatorState {
  url: string
  pendingFaults: number
  instances: any[]
  bindings: any[]
  callCount: number
  calls: RecordedCall[]
}

/** The standalone emulator (emulator/start.ts) with its admin API, in a process of its own. */
export class EmulatorProcess {
  private constructor(
    readonly proc: Proc,
    readonly url: string
  ) {}

  static async start(
    name = 'emulator',
    opts: { operationMs?: number; operationMaxMs?: number; latencyMs?: number; rateLimit?: Record<string, number> } = {}
  ): Promise<EmulatorProcess> {
    const { proc, match } = await spawnUntil(
      name,
      path.join(BIN, 'tsx'),
      [path.join(ROOT, 'emulator', 'start.ts')],
      {
        PORT: '0',
        EMULATOR_ADMIN: '1',
        EMULATOR_OPERATION_MS: String(opts.operationMs ?? 0),
        ...(opts.operationMaxMs ? { EMULATOR_OPERATION_MAX_MS: String(opts.operationMaxMs) } : {}),
        EMULATOR_LATENCY_MS: String(opts.latencyMs ?? 0),
        ...(opts.rateLimit ? { EMULATOR_RATE_LIMIT: JSON.stringify(opts.rateLimit) } : {})
      },
      /admin API: (http:\/\/127\.0\.0\.1:\d+)\/__emulator/
    )
    return new EmulatorProcess(proc, match[1])
  }

  /** SM credentials of the emulator's default tenants, per subaccount GUID (kind `credentials`). */
  credentials() {
    const url = this.url
    return {
      [DEV_SUBACCOUNT_1_ID]: { sm_url: url, url, clientid: DEV_TENANT_1_CLIENT_ID, clientsecret: DEV_TENANT_1_CLIENT_SECRET },
      [DEV_SUBACCOUNT_2_ID]: { sm_url: url, url, clientid: DEV_TENANT_2_CLIENT_ID, clientsecret: DEV_TENANT_2_CLIENT_SECRET }
    }
  }

  private async admin(method: string, p: string, body?: unknown) {
    const res = await fetch(`${this.url}/__emulator${p}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    if (!res.ok) throw new Error(`emulator admin ${method} ${p}: HTTP ${res.status} ${await res.text()}`)
    return res.status === 204 ? undefined : res.json()
  }

  addFault(fault: AdminFault | AdminFault[]) {
    return this.admin('POST', '/faults', fault)
  }

  clearFaults() {
    return this.admin('DELETE', '/faults')
  }

  async state(opts: { since?: number; calls?: boolean } = {}): Promise<EmulatorState> {
    const q = new URLSearchParams()
    if (opts.since) q.set('since', String(opts.since))
    if (opts.calls === false) q.set('calls', 'false')
    const state = (await this.admin('GET', `/state${q.size ? `?${q}` : ''}`)) as EmulatorState
    state.calls ??= []
    return state
  }

  /** Waits until a call that satisfies `pred` has arrived at the emulator (recorded on arrival). */
  async waitForCall(pred: (c: RecordedCall) => boolean, what: string, timeoutMs = 30_000): Promise<RecordedCall> {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      const hit = (await this.state()).calls.find(pred)
      if (hit) return hit
      await sleep(50)
    }
    throw new Error(`The emulator did not receive ${what} within ${timeoutMs} ms`)
  }

  stop() {
    return stop(this.proc, 'SIGTERM')
  }
}

// ---- the app ---------------------------------------------------------------------------------------------

export type DbConfig =
  | { kind: 'sqlite'; credentials: { url: string } }
  | { kind: 'postgres'; credentials: { host: string; port: number; database: string; user: string; password?: string }; pool?: Record<string, unknown> }

export interface AppConfig {
  db: DbConfig
  emulator: EmulatorProcess
  /** cds.provisioning (durations as strings like '500ms') */
  provisioning?: Record<string, unknown>
  /** cds.requires.queue on top of package.json's */
  queue?: Record<string, unknown>
  /** more of cds.requires['service-manager'] (e.g. `limits`) */
  serviceManager?: Record<string, unknown>
}

/** The cds configuration of an app child process, as CDS_CONFIG (JSON). */
export function cdsConfig(cfg: AppConfig): string {
  return JSON.stringify({
    requires: {
      db: cfg.db,
      'service-manager': { ...(cfg.serviceManager ?? {}), kind: 'credentials', subaccounts: cfg.emulator.credentials() },
      ...(cfg.queue ? { queue: cfg.queue } : {})
    },
    provisioning: { expiryScanInterval: '1h', ...(cfg.provisioning ?? {}) },
    log: { levels: { orchestrator: 'warn', queue: 'warn', 'persistent-queue': 'warn' } }
  })
}

/** Environment of cds commands run for an app (deploy, serve): test profile, mocked users, our config. */
export function appEnv(cfg: AppConfig): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    CDS_ENV: undefined,
    CDS_CONFIG: cdsConfig(cfg),
    CDS_TYPESCRIPT: 'true',
    // cds-plugin-ui5 would serve the Fiori apps (slow start, not needed here)
    CDS_PLUGIN_UI5_ACTIVE: 'false',
    HOST: '127.0.0.1',
    PORT: undefined
  }
}

/** Deploys the schema (and sample data) to the database of `cfg` with `cds deploy`. */
export async function deploy(cfg: AppConfig) {
  const to = cfg.db.kind === 'sqlite' ? ['--to', `sqlite:${cfg.db.credentials.url}`] : []
  return run(path.join(BIN, 'cds'), ['deploy', ...to], appEnv(cfg))
}

const auth = 'Basic ' + Buffer.from('admin:admin').toString('base64')

export interface Answer {
  status: number
  data: any
}

/** An app process (`cds-tsx serve`) and an OData client for it (user admin). */
export class AppProcess {
  private constructor(
    readonly proc: Proc,
    readonly url: string,
    readonly name: string
  ) {}

  static async start(name: string, cfg: AppConfig): Promise<AppProcess> {
    const { proc, match } = await spawnUntil(
      name,
      path.join(BIN, 'cds-tsx'),
      ['serve', '--port', '0'],
      appEnv(cfg),
      /server listening on \{ url: '(http:\/\/[^']+)'/
    )
    return new AppProcess(proc, match[1].replace('localhost', '127.0.0.1'), name)
  }

  async request(method: string, p: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${this.url}${API}${p}`, {
      method,
      headers: { Authorization: auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    let data: any = text
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      /* not JSON */
    }
    return { status: res.status, data }
  }

  get(p: string) {
    return this.request('GET', p)
  }

  post(p: string, body: unknown) {
    return this.request('POST', p, body)
  }

  delete(p: string) {
    return this.request('DELETE', p)
  }

  /** Polls an entity until `done(row)` holds; fails with the last answer after `timeoutMs`. */
  async waitFor(p: string, done: (row: any) => boolean, timeoutMs = 30_000): Promise<any> {
    const until = Date.now() + timeoutMs
    let last: Answer | undefined
    while (Date.now() < until) {
      last = await this.get(p)
      if (last.status === 200 && done(last.data)) return last.data
      await sleep(100)
    }
    throw new Error(`Timed out waiting for ${p} on ${this.name}; last answer ${last?.status}: ${JSON.stringify(last?.data)}\n${tail(this.proc.output(), 30)}`)
  }

  /** The hard way down: SIGKILL to the whole process group, no shutdown handlers run. */
  kill() {
    return stop(this.proc, 'SIGKILL')
  }

  stop() {
    return stop(this.proc, 'SIGTERM')
  }

  output() {
    return this.proc.output()
  }
}

export const stateIs =
  (...states: string[]) =>
  (row: { state_code: string }) =>
    states.includes(row.state_code)

/** Our record's ID on an SM object (label skm_id). */
export const recordOf = (obj: { labels?: Record<string, string[]> }) => obj.labels?.[LABEL_RECORD]?.[0]
