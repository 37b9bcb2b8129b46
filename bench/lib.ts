/**
 * Helpers of the benchmarks: the app as a child process (one node process, so its RSS is the server's),
 * a keep-alive HTTP client, a fixed-concurrency load loop and a few statistics.
 * Everything talks to 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'

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

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/**
 * Starts the app (`cds-serve` under tsx, test profile: mocked users) with `config` as CDS_CONFIG on a free
 * port of 127.0.0.1, and resolves once it listens.
 */
export async function startApp(config: Record<string, unknown>, timeoutMs = 120_000): Promise<AppProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (/^cds[._]/i.test(k)) delete env[k]
  Object.assign(env, {
    NODE_ENV: 'test',
    CDS_TYPESCRIPT: 'true',
    CDS_CONFIG: JSON.stringify(config),
    CDS_PLUGIN_UI5_ACTIVE: 'false',
    HOST: '127.0.0.1',
    NO_COLOR: '1',
    FORCE_COLOR: '0'
  })
  delete env.PORT
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'node_modules/@sap/cds/bin/serve.js'), '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  let out = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  void exited.then(() => children.delete(child))
  const onData = (chunk: Buffer) => {
    out += chunk.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start within ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs)
    const check = () => {
      const m = /server listening on \{ url: '(http:\/\/[^']+)'/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1].replace('localhost', '127.0.0.1'))
      }
    }
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`the app exited before it listened:\n${out.slice(-3000)}`))
    })
  })
  return {
    url,
    pid: child.pid!,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(t)
    }
  }
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

export interface Answer {
  status: number
  data: any
  ms: number
}

/** One HTTP request over the keep-alive agent; JSON in and out. */
export function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
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
          let data: any = text
          try {
            data = text ? JSON.parse(text) : undefined
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, data, ms: performance.now() - started })
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
  const results: T[] = new Array(count)
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
