/**
 * Child processes of the suites and benchmarks (the app, the built server, the standalone emulators, the
 * approuter): started in a process group of their own, ready once their output says so, their output kept
 * for failure messages (and written to a log file if asked), stopped with their whole group.
 *
 * Whatever is still running when this process ends is killed (an exit hook, and SIGINT/SIGTERM), so a suite
 * that dies before its afterAll leaves nothing behind.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'

/** What `cds serve` prints once it listens; the group is its URL. */
export const CDS_LISTENING = /server listening on \{ url: '?(http:\/\/[^'"\s]+)/

export interface Proc {
  name: string
  child: ChildProcess
  pid: number
  /** everything the process wrote to stdout and stderr so far (the last `keep` characters) */
  output: () => string
  /** resolves with the exit code (or the signal) once the process has ended */
  exited: Promise<string>
  ended: () => boolean
  /**
   * Ends the process group: `signal` (SIGTERM by default), SIGKILL after `graceMs`, and SIGKILL to what the
   * group started and left behind (cds-tsx -> tsx -> node).
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL', graceMs?: number): Promise<void>
}

export interface StartOptions {
  /** names the process in failure messages */
  name: string
  command: string
  args?: string[]
  cwd: string
  env: NodeJS.ProcessEnv
  /** the output that says the process is ready; `start` answers its match */
  ready: RegExp
  timeoutMs?: number
  /** receives the output: written afresh the first time this process opens it, appended to by restarts */
  logFile?: string
  /** characters of output kept in memory (default 4 MB) */
  keep?: number
}

export interface Started {
  proc: Proc
  match: RegExpExecArray
  /** milliseconds from spawn until ready */
  startMs: number
}

const running = new Set<Proc>()

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal)
  } catch {
    /* already gone */
  }
}

const killAllNow = () => {
  for (const p of running) killGroup(p.pid, 'SIGKILL')
}
process.once('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllNow()
    process.kill(process.pid, signal)
  })
}

const opened = new Set<string>()

function openLog(file: string): WriteStream {
  mkdirSync(path.dirname(file), { recursive: true })
  const flags = opened.has(file) ? 'a' : 'w'
  opened.add(file)
  return createWriteStream(file, { flags })
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n')
}

/**
 * The environment of a child process: this one's without the variables `drop` matches (by default the cds
 * settings, which must not leak into a child: it gets exactly what it is given), no colours, and `extra`
 * on top (undefined removes a variable).
 */
export function childEnv(extra: Record<string, string | undefined> = {}, drop: (name: string) => boolean = name => /^cds[._]/i.test(name)): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }
  for (const k of Object.keys(env)) if (drop(k)) delete env[k]
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/**
 * Starts `command` in a process group of its own and resolves once `ready` matches its output. Rejects, and
 * kills the group, when the process exits first or is not ready within `timeoutMs`.
 */
export async function start(options: StartOptions): Promise<Started> {
  const { name, command, args = [], cwd, env, ready, timeoutMs = 60_000, keep = 4_000_000 } = options
  const log = options.logFile ? openLog(options.logFile) : undefined
  log?.write(`\n===== ${new Date().toISOString()} ${command} ${args.join(' ')}\n`)
  const started = Date.now()
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let ended = false
  const exited = new Promise<string>(resolve => {
    child.once('exit', (code, signal) => {
      ended = true
      running.delete(proc)
      resolve(String(signal ?? code))
    })
  })
  // after the last output, which may come after the exit
  child.once('close', (code, signal) => log?.end(`\n===== exited ${signal ?? code}\n`))
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? 0,
    output: () => out,
    exited,
    ended: () => ended,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (ended || !proc.pid) return
      killGroup(proc.pid, signal)
      const escalate = setTimeout(() => killGroup(proc.pid, 'SIGKILL'), graceMs)
      await exited
      clearTimeout(escalate)
      killGroup(proc.pid, 'SIGKILL')
    }
  }
  if (proc.pid) running.add(proc)
  const onData = (chunk: Buffer) => {
    out += chunk.toString()
    if (out.length > keep) out = out.slice(-Math.floor(keep / 2))
    log?.write(chunk)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not get ready within ${timeoutMs} ms:\n${tail(out)}`)), timeoutMs)
      const check = () => {
        const m = ready.exec(out)
        if (!m) return
        clearTimeout(timer)
        child.stdout?.off('data', check)
        child.stderr?.off('data', check)
        resolve(m)
      }
      child.stdout?.on('data', check)
      child.stderr?.on('data', check)
      child.once('error', e => {
        clearTimeout(timer)
        reject(e)
      })
      void exited.then(code => {
        clearTimeout(timer)
        reject(new Error(`${name} exited (${code}) before it got ready:\n${tail(out)}`))
      })
    })
    return { proc, match, startMs: Date.now() - started }
  } catch (e) {
    await proc.stop('SIGKILL')
    throw e
  }
}

/** Stops every process `start` started and that still runs. */
export async function stopAll() {
  await Promise.all([...running].map(p => p.stop('SIGKILL')))
}

/** A URL that cds printed, on 127.0.0.1 (the only address the children listen on). */
export const onLoopback = (url: string) => url.replace('localhost', '127.0.0.1')

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

const execFileAsync = promisify(execFile)

/** Runs a command to completion and answers its output; fails with the end of that output. */
export async function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 })
    return stdout + stderr
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${tail(`${err.stdout ?? ''}${err.stderr ?? ''}`, 60)}`, { cause: e })
  }
}
