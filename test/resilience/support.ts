/**
 * Helpers for the resilience suites: the SM emulator and the app as real child processes, so that the app
 * can be killed (SIGKILL) and restarted while the emulator keeps its state, and several app processes can
 * share one database and one emulator.
 *
 * Every process is started in its own process group (cds-tsx and tsx start node children of their own,
 * test/support/process.ts) and bound to 127.0.0.1; stopAll() ends all of them.
 */
import path from 'node:path'
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
import { eventually } from '../support/eventually'
import { CDS_LISTENING, childEnv as processEnv, onLoopback, run as runToEnd, start, stopAll, tail, type Proc } from '../support/process'

export const ROOT = path.resolve(__dirname, '..', '..')
const BIN = path.join(ROOT, 'node_modules', '.bin')
export const LOG_DIR = path.join(ROOT, 'test-output', 'resilience')
export const API = '/odata/v4/provisioning'
export const INSTANCES = '/v1/service_instances'
export const BINDINGS = '/v1/service_bindings'
export const LABEL_RECORD = 'skm_id'

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

// ---- processes ---------------------------------------------------------------------------------------

export type { Proc }
export { stopAll, tail }

/** Environment of a child: no cds settings of this process but CDS_TYPESCRIPT, our binaries first on the PATH. */
function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const binFirst = `${BIN}${path.delimiter}${process.env.PATH ?? ''}`
  return processEnv({ PATH: binFirst, ...extra }, k => /^cds[._]/i.test(k) && k !== 'CDS_TYPESCRIPT')
}

/**
 * Starts `command` in its own process group (output in test-output/resilience/<name>.log) and resolves with
 * the first match of `ready` in its output. Rejects (and kills the process) when it exits or does not get
 * ready within `timeoutMs`.
 */
export async function spawnUntil(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
  ready: RegExp,
  timeoutMs = 60_000
): Promise<{ proc: Proc; match: RegExpExecArray }> {
  const { proc, match } = await start({ name, command, args, cwd: ROOT, env: childEnv(env), ready, timeoutMs, logFile: path.join(LOG_DIR, `${name}.log`) })
  return { proc, match }
}

/** Ends the process group of `proc`: SIGTERM (SIGKILL after 10 s) or SIGKILL right away. */
export async function stop(proc: Proc | undefined, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') {
  await proc?.stop(signal)
}

/** Runs a command to completion (npx-free: from node_modules/.bin), failing with its output. */
export function run(command: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000) {
  return runToEnd(command, args, { cwd: ROOT, env: childEnv(env), timeoutMs })
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
    const hit = await eventually(async () => (await this.state()).calls.find(pred), {
      what: `the emulator to receive ${what}`,
      show: () => 'not received',
      timeout: timeoutMs,
      interval: 50
    })
    return hit!
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

export interface Answer<T = any> {
  status: number
  data: T
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
      CDS_LISTENING
    )
    return new AppProcess(proc, onLoopback(match[1]), name)
  }

  /** `T`: what the caller expects the answer to be (not checked) */
  async request<T = any>(method: string, p: string, body?: unknown): Promise<Answer<T>> {
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

  post<T = any>(p: string, body: unknown) {
    return this.request<T>('POST', p, body)
  }

  delete(p: string) {
    return this.request('DELETE', p)
  }

  /** Polls an entity until `done(row)` holds; fails with the last answer after `timeoutMs`. */
  async waitFor(p: string, done: (row: any) => boolean, timeoutMs = 30_000): Promise<any> {
    const last = await eventually(() => this.get(p), {
      what: `${p} on ${this.name}`,
      until: a => a.status === 200 && done(a.data),
      show: a => `${a.status}: ${JSON.stringify(a.data)}\n${tail(this.proc.output(), 30)}`,
      timeout: timeoutMs
    })
    return last.data
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
