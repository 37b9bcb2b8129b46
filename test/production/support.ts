/**
 * What the production rehearsal needs besides the app: the build in a copy of the project, the production
 * dependencies installed as Cloud Foundry's buildpack installs them, Node 22 from the npm registry, and an
 * audit log service look-alike (HTTPS, OAuth2 plan of the SAP Audit Log service) that can be switched to
 * refusing records.
 *
 * Installs are cached under node_modules/.cache/skm-rehearsal (not committed), keyed by what they install:
 * a fresh clone installs once, later runs reuse them.
 */
import type { ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { selfSignedFor127 } from '../fixtures/jwt-issuer'
import { CDS_LISTENING, childEnv, freePort, onLoopback, run as runToEnd, start, type Proc } from '../support/process'

export const ROOT = path.resolve(__dirname, '..', '..')
export const OUT = path.join(ROOT, 'test-output', 'production')
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'skm-rehearsal')
/** the Node.js line production runs on (package.json engines, mta.yaml's buildpack picks it from there) */
export const NODE_LINE = '22'

const LEAKS = new Set(['NODE_ENV', 'JEST_WORKER_ID', 'NODE_OPTIONS'])

/** The environment of a child process: no jest, cds or TypeScript settings of this process leak into it. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(extra, k => /^cds[._]/i.test(k) || LEAKS.has(k))
}

export function run(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }) {
  return runToEnd(command, args, { ...opts, env: opts.env ?? cleanEnv() })
}

// ---- the build --------------------------------------------------------------------------------------------

/**
 * Copies the project (without node_modules, gen, git and outputs; node_modules linked) and runs the build as
 * mta.yaml's before-all does, except the install: `npm run build:cf`. Returns the copy's folder.
 */
export async function buildCopy(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skm-rehearsal-'))
  const skip = new Set(['node_modules', 'gen', '.git', '@cds-models', 'mta_archives', 'coverage', 'test-output'])
  for (const entry of fs.readdirSync(ROOT))
    if (!skip.has(entry)) fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true, filter: src => !src.split(path.sep).includes('node_modules') })
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  await run('npm', ['run', 'build:cf'], { cwd: dir, timeoutMs: 300_000 })
  return dir
}

const sha = (...parts: (string | Buffer)[]) => {
  const h = crypto.createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex').slice(0, 16)
}

/** An install into the cache, made once under a temporary name and then renamed into place. */
async function cachedInstall(name: string, install: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(CACHE, name)
  if (fs.existsSync(path.join(dir, '.complete'))) return dir
  fs.mkdirSync(CACHE, { recursive: true })
  const tmp = fs.mkdtempSync(path.join(CACHE, `.${name}-`))
  try {
    await install(tmp)
    fs.writeFileSync(path.join(tmp, '.complete'), new Date().toISOString())
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(tmp, dir)
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return dir
}

/** Node.js 22 from the npm registry (package `node`), for a machine whose own Node.js is another line. */
export async function node22(): Promise<string> {
  const dir = await cachedInstall(`node-${NODE_LINE}`, async tmp => {
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', tmp, `node@${NODE_LINE}`], { cwd: tmp })
  })
  return path.join(dir, 'node_modules', 'node', 'bin', 'node')
}

/** The npm CLI of this machine, to run it with another Node.js. */
function npmCli(): string {
  for (const p of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(p, 'npm')
    if (fs.existsSync(candidate)) return fs.realpathSync(candidate)
  }
  throw new Error('npm is not on the PATH')
}

/**
 * gen/srv's production dependencies, as the buildpack installs them: `npm ci --omit=dev` from the lockfile the
 * build copied, run on Node 22 with `--engine-strict`, so a production dependency whose engines exclude
 * Node 22 fails the install. Cached by the lockfile and package.json; linked as gen/srv/node_modules.
 */
export function installProductionDependencies(genSrv: string, node: string): Promise<string> {
  return installFromLockfile('prod', genSrv, node)
}

/**
 * `npm ci --omit=dev --engine-strict` of the package in `dir` with `node`, into the cache (keyed by its
 * package.json and lockfile), linked as `dir`/node_modules. Answers the cached node_modules.
 */
async function installFromLockfile(name: string, dir: string, node: string): Promise<string> {
  const pkg = fs.readFileSync(path.join(dir, 'package.json'))
  const lock = fs.readFileSync(path.join(dir, 'package-lock.json'))
  const cached = await cachedInstall(`${name}-${sha(pkg, lock, NODE_LINE)}`, async tmp => {
    fs.writeFileSync(path.join(tmp, 'package.json'), pkg)
    fs.writeFileSync(path.join(tmp, 'package-lock.json'), lock)
    const env = cleanEnv({ PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` })
    await run(node, [npmCli(), 'ci', '--omit=dev', '--engine-strict', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tmp, env, timeoutMs: 400_000 })
  })
  const modules = path.join(dir, 'node_modules')
  fs.rmSync(modules, { recursive: true, force: true })
  fs.symlinkSync(path.join(cached, 'node_modules'), modules, 'dir')
  return path.join(cached, 'node_modules')
}

// ---- the built server as a process -----------------------------------------------------------------------

export interface ServerProcess {
  child: ChildProcess
  url: string
  output(): string
  /** milliseconds from spawn until it listened */
  startMs: number
  stop(): Promise<void>
}

/** Starts `node <cds-serve>` in gen/srv and resolves once it listens. */
export async function startServer(node: string, genSrv: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServerProcess> {
  const cdsPkg = path.join(genSrv, 'node_modules', '@sap', 'cds')
  const serve = path.join(cdsPkg, (JSON.parse(fs.readFileSync(path.join(cdsPkg, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['cds-serve'])
  const { proc, match, startMs } = await start({ name: 'server', command: node, args: [serve], cwd: genSrv, env, ready: CDS_LISTENING, timeoutMs, logFile: path.join(OUT, 'server.log') })
  return serverProcess(proc, onLoopback(match[1]), startMs)
}

/**
 * The approuter of app/router, installed from its lockfile like the server's dependencies (cached), started
 * with Node 22 in a copy of app/router; resolves once it listens.
 */
export async function startApprouter(node: string, routerDir: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ServerProcess> {
  await installFromLockfile('router', routerDir, node)
  const main = path.join(routerDir, 'node_modules', '@sap', 'approuter', 'approuter.js')
  const port = String(await freePort())
  const { proc, startMs } = await start({
    name: 'approuter',
    command: node,
    args: [main],
    cwd: routerDir,
    env: { ...env, PORT: port },
    ready: /Application router is listening on port: (\d+)/,
    timeoutMs,
    logFile: path.join(OUT, 'approuter.log')
  })
  return serverProcess(proc, `http://127.0.0.1:${port}`, startMs)
}

const serverProcess = (proc: Proc, url: string, startMs: number): ServerProcess => ({ child: proc.child, url, output: proc.output, startMs, stop: () => proc.stop() })

/** Resident set size of a process in MB (Linux). */
export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Math.round(Number(kb) / 102.4) / 10
}

// ---- the audit log service look-alike ---------------------------------------------------------------------

export interface AuditRecord {
  kind: string
  body: Record<string, unknown>
}

export interface AuditLogService {
  /** https://127.0.0.1:<port>: the binding's `url` and its `uaa.url` */
  url: string
  caPem: string
  records: AuditRecord[]
  /** refusing: every call answers 401, as with revoked binding credentials */
  setRefusing(refusing: boolean): void
  close(): Promise<void>
}

/**
 * The SAP Audit Log service's OAuth2 plan as @cap-js/audit-logging (kind audit-log-to-restv2) calls it:
 * `POST <uaa.url>/oauth/token`, then `POST <url>/audit-log/oauth2/v2/<kind>` with the bearer token.
 */
export async function startAuditLog(clientid: string, clientsecret: string): Promise<AuditLogService> {
  // a subject of its own: a process trusts it next to the JWT issuer's certificate (NODE_EXTRA_CA_CERTS)
  const tls = await selfSignedFor127('CN=audit-log.127.0.0.1')
  const records: AuditRecord[] = []
  const token = crypto.randomBytes(24).toString('hex')
  let refusing = false
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', c => (text += c))
    req.on('end', () => {
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' })
        res.end(body === undefined ? undefined : JSON.stringify(body))
      }
      if (refusing) return send(401, { error: 'unauthorized' })
      const route = (req.url ?? '').split('?')[0]
      if (req.method === 'POST' && route === '/oauth/token') {
        const form = new URLSearchParams(text)
        if (form.get('client_id') !== clientid || form.get('client_secret') !== clientsecret) return send(401, { error: 'invalid_client' })
        return send(200, { access_token: token, token_type: 'bearer', expires_in: 3600 })
      }
      const m = /^\/audit-log\/oauth2\/v2\/([a-z-]+)$/.exec(route)
      if (req.method === 'POST' && m) {
        if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'invalid_token' })
        records.push({ kind: m[1], body: JSON.parse(text) as Record<string, unknown> })
        return send(201)
      }
      send(404, { error: 'not_found' })
    })
  })
  // @cap-js/audit-logging takes a URL containing 6081 for the premium plan: keep that out of the port
  let port = 0
  for (let i = 0; i < 5 && (!port || String(port).includes('6081')); i++) {
    if (port) await new Promise(resolve => server.close(resolve))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  }
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: tls.certPem,
    records,
    setRefusing: r => void (refusing = r),
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}
