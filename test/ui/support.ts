/**
 * Helpers for the browser tests of the Fiori apps: Debian's Chromium, a CAP server of our own with
 * cds-plugin-ui5 (a child process: the plugin does not run inside jest), and small UI5 page helpers.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process'
import { existsSync, mkdirSync } from 'fs'
import net from 'net'
import path from 'path'
import { Browser, BrowserContext, chromium, Locator, Page } from 'playwright-core'

export const ROOT = path.resolve(__dirname, '..', '..')
export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = path.join(ROOT, 'test-output', 'ui')

/** The first start downloads SAPUI5 from the npm registry into ~/.ui5; later starts take seconds. */
export const SERVER_START_TIMEOUT = 10 * 60_000
/** A Fiori elements app loads ~1,500 unbundled UI5 modules from the local UI5 server. */
export const APP_LOAD_TIMEOUT = 3 * 60_000
export const STEP_TIMEOUT = 60_000

export const users = {
  admin: { username: 'admin', password: 'admin' },
  provisioner: { username: 'provisioner', password: 'provisioner' },
  viewer: { username: 'viewer', password: 'viewer' }
}
export type User = keyof typeof users

/** Installs Debian's chromium through scripts/install-chromium.sh when it is missing. */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return
  execFileSync('bash', [path.join(ROOT, 'scripts', 'install-chromium.sh')], { stdio: 'inherit' })
}

export interface Server {
  url: string
  /** the embedded Service Manager emulator (admin API at /__emulator) */
  emulatorUrl: string
  process: ChildProcess
  log: () => string
}

/**
 * Starts `cds-tsx serve` on a free port; srv/server.ts makes it listen on 127.0.0.1 only. The child must
 * not see JEST_WORKER_ID, or cds-plugin-ui5 switches itself off. serve-guarded.js ends the server when
 * this process ends, however it ends.
 */
export async function startServer(): Promise<Server> {
  const emulatorPort = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: '1',
    CDS_PLUGIN_UI5_NO_CUSTOM_LOGGER: '1',
    // the embedded emulator on a known port, with its admin API, so that tests can put objects into SM
    // that we did not create
    CDS_CONFIG: JSON.stringify({ requires: { 'service-manager': { emulator: { admin: true, port: emulatorPort } } } })
  }
  delete env.JEST_WORKER_ID
  env.PATH = `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${env.PATH ?? ''}`
  const cdsTsx = path.join(ROOT, 'node_modules', '.bin', 'cds-tsx')
  const child = spawn(process.execPath, [path.join(__dirname, 'serve-guarded.js'), cdsTsx, 'serve', '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output}`)), SERVER_START_TIMEOUT)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = /server listening on \{ url: '(http:\/\/[^']+)'/.exec(output)
      if (m) {
        clearTimeout(timer)
        resolve(m[1].replace('localhost', '127.0.0.1'))
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
  return { url, emulatorUrl: `http://127.0.0.1:${emulatorPort}`, process: child, log: () => output }
}

/** A port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** Puts an object into the emulator as if another tool had created it (its admin API). */
export async function plant(server: Server, kind: 'instance' | 'binding', object: Record<string, unknown>) {
  const res = await fetch(`${server.emulatorUrl}/__emulator/plant`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ kind, object })
  })
  if (res.status !== 201) throw new Error(`plant ${kind}: ${res.status} ${await res.text()}`)
  return (await res.json()) as { id: string; name: string }
}

/** One OData GET as a mocked user (e.g. to look up IDs for a test). */
export async function odata(server: Server, user: User, path: string) {
  const res = await fetch(`${server.url}/odata/v4/provisioning/${path}`, {
    headers: { Accept: 'application/json', Authorization: `Basic ${Buffer.from(`${users[user].username}:${users[user].password}`).toString('base64')}` }
  })
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as Record<string, any>
}

export async function stopServer(server?: Server) {
  const child = server?.process
  if (!child?.pid || child.exitCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Headless Debian Chromium with a fresh profile (playwright creates a new user-data-dir per launch). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
}

/** A browser context logged on as one of the mocked users (basic authentication). */
export function contextFor(browser: Browser, user: User): Promise<BrowserContext> {
  return browser.newContext({
    httpCredentials: users[user],
    viewport: { width: 1440, height: 900 },
    locale: 'en-US'
  })
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Opens an app's index.html and waits for its list report (filter bar) to render. */
export async function openApp(page: Page, url: string) {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: APP_LOAD_TIMEOUT })
  await page.locator('[id*="--fe::FilterBar::"]').first().waitFor({ state: 'visible', timeout: APP_LOAD_TIMEOUT })
}

/** A visible button by its exact text (UI5 renders the text inside nested spans). */
export function button(scope: Page | Locator, text: string): Locator {
  return scope.locator('button:visible', { hasText: new RegExp(`^\\s*${text}\\s*$`) }).first()
}

/** Visible text on the page (UI5 keeps hidden copies of titles and labels, e.g. for the header). */
export function text(page: Page, value: string | RegExp, exact = true): Locator {
  return page.getByText(value, { exact }).filter({ visible: true }).first()
}

/** The list report's Go button: runs the search. */
export async function pressGo(page: Page) {
  await button(page, 'Go').click()
}

/** The open dialog (the last one opened, e.g. an action's parameter dialog). */
export function dialog(page: Page): Locator {
  return page.locator('.sapMDialog:visible').last()
}

/** The input of a field in the create dialog (app/shared/CreateDialog), by the field's id in the fragment. */
export function dialogInput(page: Page, id: string): Locator {
  const suffixes = ['Field-edit-inner', 'Field-edit-inner-inner'].map(s => `createDialog--${id}::${s}`)
  return page.locator(suffixes.flatMap(s => [`input[id$="${s}"]`, `textarea[id$="${s}"]`]).join(', ')).first()
}

/** Types into a field of the create dialog and leaves it, so that value helps resolve the text. */
export async function fillDialogField(page: Page, id: string, value: string) {
  const input = dialogInput(page, id)
  await input.click()
  await input.fill(value)
  await input.press('Tab')
}

/** A data point or field group in the object page header showing `value` (e.g. the state Ready). */
export function headerFacet(page: Page, value: string | RegExp): Locator {
  return page.locator('[id*="fe::HeaderFacet"]:visible', { hasText: value }).first()
}

/** Polls `read` until it returns something other than `previous`; returns the new value. */
export async function changedFrom<T>(previous: T, read: () => Promise<T>, timeoutMs = STEP_TIMEOUT): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== previous) return value
    if (Date.now() > until) throw new Error(`still ${JSON.stringify(previous)} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

/** Presses the object page's Refresh action until the header shows `text` (e.g. the state Ready). */
export async function refreshUntil(page: Page, value: string, timeoutMs = STEP_TIMEOUT) {
  const until = Date.now() + timeoutMs
  const shown = headerFacet(page, value)
  while (!(await shown.isVisible())) {
    if (Date.now() > until) throw new Error(`object page header never showed "${value}"`)
    await button(page, 'Refresh').click()
    await page.waitForTimeout(1000)
  }
}
