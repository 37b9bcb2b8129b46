/**
 * Helpers of the benchmarks: the app as a child process (one node process, so its RSS is the server's),
 * a keep-alive HTTP client, a fixed-concurrency load loop and a few statistics.
 * Everything talks to 127.0.0.1 only.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { parse } from 'yaml'
import { CDS_LISTENING, childEnv, onLoopback, start } from '../test/support/process'

export const ROOT = path.resolve(__dirname, '..')
export const API = '/odata/v4/provisioning'
export const ADMIN_AUTH = 'Basic ' + Buffer.from('admin:admin').toString('base64')

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

// ------------------------------------------------------------------------------------------- arguments

/** `--name value` / `--name=value` / `--flag` from argv. */
export function args(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) continue
    const eq = a.indexOf('=')
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1)
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i]
    else out[a.slice(2)] = 'true'
  }
  return out
}

export function num(a: Record<string, string>, name: string, fallback: number): number {
  if (a[name] === undefined) return fallback
  const n = Number(a[name])
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got '${a[name]}'`)
  return n
}

// ------------------------------------------------------------------------------------------- the app

export interface AppProcess {
  url: string
  pid: number
  output(): string
  stop(): Promise<void>
}

/**
 * The server as it runs in production, built JavaScript under `cds-serve` without a TypeScript loader: the
 * project's srv/ and emulator/ compiled to CommonJS (esbuild, as `tsc` with `module: commonjs` emits them:
 * a dynamic import becomes a require) in `dir`, next to copies of their other files and of app/ and bench/
 * (models that refer to srv/ by relative paths), the configuration files, and links to db/, _i18n/,
 * @cds-models/ and node_modules/. Returns `dir`, the folder to start the app in.
 */
export function buildServer(dir: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- esbuild comes with tsx, not as a dependency of ours: loaded only for a build
  const esbuild = require('esbuild') as { buildSync(o: Record<string, unknown>): unknown }
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]))
  const sources: string[] = []
  for (const folder of ['srv', 'emulator', 'app', 'bench']) {
    const compiled = folder === 'srv' || folder === 'emulator'
    for (const file of walk(path.join(ROOT, folder))) {
      if (file.endsWith('.ts')) {
        if (compiled && !file.endsWith('.d.ts')) sources.push(file)
        continue
      }
      const to = path.join(dir, path.relative(ROOT, file))
      mkdirSync(path.dirname(to), { recursive: true })
      copyFileSync(file, to)
    }
  }
  esbuild.buildSync({
    entryPoints: sources,
    outdir: dir,
    outbase: ROOT,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    supported: { 'dynamic-import': false },
    logLevel: 'warning'
  })
  for (const name of ['package.json', '.cdsrc.json', 'xs-security.json']) copyFileSync(path.join(ROOT, name), path.join(dir, name))
  // @cds-models: the handlers use the generated entity classes and enum constants at run time (`#cds-models/*`)
  for (const name of ['node_modules', 'db', '_i18n', '@cds-models']) symlinkSync(path.join(ROOT, name), path.join(dir, name))
  return dir
}

/** The part of mta.yaml read here (the file is ours; its shape is not checked). */
interface MtaDescriptor {
  modules?: Array<{ type?: string; path?: string; properties?: Record<string, unknown> }>
}

/**
 * The node options production starts the server with: `NODE_OPTIONS` of the server module in mta.yaml
 * (the platform runs `npm start`, i.e. cds-serve, with the module's properties as environment).
 */
export function productionNodeOptions(): string[] {
  const mta = parse(readFileSync(path.join(ROOT, 'mta.yaml'), 'utf8')) as MtaDescriptor | null
  const srv = (mta?.modules ?? []).find(m => m.type === 'nodejs' && m.path === 'gen/srv')
  const options = srv?.properties?.NODE_OPTIONS
  return typeof options === 'string' ? options.split(/\s+/).filter(Boolean) : []
}

/**
 * Starts the app (`cds-serve`, test profile: mocked users) with `config` as CDS_CONFIG on a free port of
 * 127.0.0.1, and resolves once it listens: the TypeScript sources under tsx, or with `built` the folder
 * `buildServer` made; `nodeOptions` go to node in front of cds-serve.
 */
export async function startApp(
  config: Record<string, unknown>,
  timeoutMs = 120_000,
  { built, nodeOptions = [] }: { built?: string; nodeOptions?: string[] } = {}
): Promise<AppProcess> {
  const env = childEnv({
    NODE_ENV: 'test',
    CDS_CONFIG: JSON.stringify(config),
    CDS_TYPESCRIPT: built ? undefined : 'true',
    CDS_PLUGIN_UI5_ACTIVE: 'false',
    HOST: '127.0.0.1',
    PORT: undefined
  })
  const loader = built ? [] : ['--import', 'tsx']
  const { proc, match } = await start({
    name: 'the app',
    command: process.execPath,
    args: [...nodeOptions, ...loader, path.join(ROOT, 'node_modules/@sap/cds/bin/serve.js'), '--port', '0'],
    cwd: built ?? ROOT,
    env,
    ready: CDS_LISTENING,
    timeoutMs,
    keep: 200_000
  })
  return { url: onLoopback(match[1]), pid: proc.pid, output: proc.output, stop: () => proc.stop() }
}

/** Peak and current resident set size of a process in MiB (Linux /proc). */
export function rss(pid: number): { peakMiB: number; nowMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { peakMiB: kb('VmHWM') / 1024, nowMiB: kb('VmRSS') / 1024 }
}

/** CPU seconds (user + system) a process has used so far (Linux /proc, clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// ------------------------------------------------------------------------------------------- HTTP

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

export interface Answer<T = unknown> {
  status: number
  /** the JSON answer (the text when it is no JSON) */
  data: T
  ms: number
}

/** One HTTP request over the keep-alive agent; JSON in and out. `T` is what the caller expects the answer to be. */
export function request<T = unknown>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const started = performance.now()
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          Accept: 'application/json',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          ...headers
        }
      },
      res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          let data: unknown = text
          try {
            data = text ? JSON.parse(text) : undefined
          } catch {
            /* not JSON */
          }
          // the caller's expectation of the answer, not checked (a benchmark of our own service)
          resolve({ status: res.statusCode ?? 0, data: data as T, ms: performance.now() - started })
        })
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    if (payload) req.write(payload)
    req.end()
  })
}

/** Runs `task` with `concurrency` workers over `count` items. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (;;) {
        const i = next++
        if (i >= count) return
        results[i] = await task(i)
      }
    })
  )
  return results
}

export interface LoadResult {
  requests: number
  errors: number
  durationMs: number
  latencies: number[]
}

/** GETs `url` with `concurrency` keep-alive workers for `durationMs`; every answer but 200 counts as error. */
export async function load(url: string, headers: Record<string, string>, concurrency: number, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = []
  let errors = 0
  const started = performance.now()
  const until = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          const res = await request('GET', url, undefined, headers)
          if (res.status === 200) latencies.push(res.ms)
          else errors++
        } catch {
          errors++
        }
      }
    })
  )
  return { requests: latencies.length, errors, durationMs: performance.now() - started, latencies }
}

// ------------------------------------------------------------------------------------------- figures

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n))
export const secs = (ms: number) => `${fmt(ms / 1000, 1)} s`

/** Prints `rows` as an aligned two-column block. */
export function block(title: string, rows: Array<[string, string | number]>) {
  const width = Math.max(...rows.map(r => r[0].length))
  console.log(`\n== ${title}`)
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`)
}
