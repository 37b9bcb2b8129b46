/**
 * Helpers for the browser tests of the Fiori apps: Debian's Chromium, a CAP server of our own with
 * cds-plugin-ui5 (a child process: the plugin does not run inside jest), and small UI5 page helpers.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process'
import { existsSync, mkdirSync } from 'fs'
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
  process: ChildProcess
  log: () => string
}

/**
 * Starts `cds-tsx serve` on a free port; srv/server.ts makes it listen on 127.0.0.1 only. The child must
 * not see JEST_WORKER_ID, or cds-plugin-ui5 switches itself off.
 */
export async function startServer(): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CDS_PLUGIN_UI5_NO_CUSTOM_LOGGER: '1' }
  delete env.JEST_WORKER_ID
  env.PATH = `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${env.PATH ?? ''}`
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'cds-tsx'), ['serve', '--port', '0'], {
    cwd: ROOT,
    env,
    detached: true, // own process group: stopServer ends the server and whatever it started
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
  return { url, process: child, log: () => output }
}

export async function stopServer(server?: Server) {
  const child = server?.process
  if (!child?.pid || child.exitCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  process.kill(-child.pid, 'SIGTERM')
  const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid!, 'SIGKILL'), 10_000)
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

/** Waits until UI5 has no pending requests or rendering, so that what the test sees is settled. */
export async function settled(page: Page) {
  await page.waitForFunction(
    () => {
      const w = window as unknown as { sap?: any }
      const core = w.sap?.ui?.require?.('sap/ui/test/autowaiter/_autoWaiter')
      if (core) return !core.hasToWait()
      return document.readyState === 'complete'
    },
    undefined,
    { timeout: STEP_TIMEOUT, polling: 250 }
  )
}

/** Opens an app's index.html and waits for its first page (list report) to render. */
export async function openApp(page: Page, url: string) {
  await page.goto(url, { timeout: APP_LOAD_TIMEOUT })
  await page.locator('.sapUiBody [id$="--fe::FilterBar::ServiceInstances"], .sapUiBody [id*="--fe::FilterBar::"]').first()
    .waitFor({ state: 'visible', timeout: APP_LOAD_TIMEOUT })
}

/** The list report's Go button. */
export function goButton(page: Page): Locator {
  return page.locator('button[id$="FilterBar::Go"], [id$="--fe::FilterBar::"] button:has-text("Go")').first()
}

/** A button of the page by its text (UI5 renders the text inside nested spans). */
export function button(page: Page, text: string): Locator {
  return page.locator(`button:visible`, { hasText: new RegExp(`^\\s*${text}\\s*$`) }).first()
}
