/**
 * Helpers for the browser tests of the Fiori apps: Debian's Chromium, a CAP server of our own with
 * cds-plugin-ui5 (a child process: the plugin does not run inside jest), and small UI5 page helpers.
 */
import { execFileSync } from 'child_process'
import { existsSync, mkdirSync, writeFileSync } from 'fs'
import path from 'path'
import { Browser, BrowserContext, chromium, Locator, Page } from 'playwright-core'
import { CDS_LISTENING, childEnv, freePort, onLoopback, start, type Proc } from '../support/process'
import { eventually } from '../support/eventually'

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
  reader: { username: 'reader', password: 'reader' },
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
  proc: Proc
  log: () => string
}

/**
 * Starts `cds-tsx serve` on a free port; srv/server.ts makes it listen on 127.0.0.1 only. The child must
 * not see JEST_WORKER_ID, or cds-plugin-ui5 switches itself off. serve-guarded.js ends the server when
 * this process ends, however it ends.
 */
export async function startServer(): Promise<Server> {
  const emulatorPort = await freePort()
  const env = childEnv(
    {
      CDS_PLUGIN_UI5_NO_CUSTOM_LOGGER: '1',
      // the embedded emulator on a known port, with its admin API, so that tests can put objects into SM
      // that we did not create
      CDS_CONFIG: JSON.stringify({ requires: { 'service-manager': { emulator: { admin: true, port: emulatorPort } } } }),
      JEST_WORKER_ID: undefined,
      PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`
    },
    () => false
  )
  const cdsTsx = path.join(ROOT, 'node_modules', '.bin', 'cds-tsx')
  const { proc, match } = await start({
    name: 'the server',
    command: process.execPath,
    args: [path.join(__dirname, 'serve-guarded.js'), cdsTsx, 'serve', '--port', '0'],
    cwd: ROOT,
    env,
    ready: CDS_LISTENING,
    timeoutMs: SERVER_START_TIMEOUT
  })
  return { url: onLoopback(match[1]), emulatorUrl: `http://127.0.0.1:${emulatorPort}`, proc, log: proc.output }
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
  await server?.proc.stop()
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

/** A browser context logged on as one of the mocked users (basic authentication), watched by `problems`. */
export async function contextFor(browser: Browser, user: User, problems?: Problems): Promise<BrowserContext> {
  const context = await browser.newContext({
    httpCredentials: users[user],
    viewport: { width: 1440, height: 900 },
    locale: 'en-US'
  })
  problems?.watch(context)
  return context
}

/** Runs `fn` on a page of a browser context of its own for `user`, and closes the context after it. */
export async function withPageAs(browser: Browser, user: User, problems: Problems, fn: (page: Page) => Promise<void>): Promise<void> {
  const context = await contextFor(browser, user, problems)
  try {
    await fn(await context.newPage())
  } finally {
    await context.close()
  }
}

/**
 * Resources the UI5 runtime asks for that need not exist, and that it does without: a component's preload
 * bundle (the apps are served unbundled), a language variant of a library's texts, and sap.insights (Fiori
 * elements checks whether that library is there).
 */
const OPTIONAL = [/\/Component-preload\.js$/, /\/messagebundle_[a-zA-Z_]+\.properties$/, /\/resources\/sap\/insights\//]
const optional = (url: string) => OPTIONAL.some(r => r.test(new URL(url).pathname))

/**
 * Console errors of the UI5 runtime that are no failure of a flow: the loader's notes on the optional
 * resources above, the MDC table's note on Fiori elements' own property infos, Fiori elements' note on its
 * own context-menu command, and the OData model's note on a create the service refused (the dialog shows why).
 */
const FRAMEWORK_NOTES = [
  /failed to load (JavaScript resource: )?'?[^']*(Component-preload\.js|sap\/insights\/)/,
  /\[FUTURE FATAL\] PropertyInfo validation is disabled for control btp\.provisioning\./,
  /Command 'DeleteEntry::ContextMenu' is not defined in component manifest/,
  /POST on '[A-Za-z]+' failed; will be repeated automatically/
]

/** What the suite fails on: uncaught errors, 5xx answers, failed framework requests and unexplained console errors. */
export class Problems {
  readonly found: string[] = []
  /** console errors that were explained (framework notes, optional resources, refused input), for the report */
  explained = 0

  watch(context: BrowserContext) {
    context.on('weberror', error => this.found.push(`uncaught: ${error.error().message}`))
    context.on('response', response => {
      const url = response.url()
      const status = response.status()
      if (status >= 500) this.found.push(`${status} ${url}`)
      else if (status >= 400 && !url.includes('/odata/') && !optional(url)) this.found.push(`${status} ${url}`)
    })
    context.on('console', message => {
      if (message.type() !== 'error') return
      const text = message.text()
      // a failed request is judged by its answer above; a script refused for its type is one of them
      const refused = /^Refused to execute script from '([^']+)'/.exec(text)
      const resourceFailed = /^Failed to load resource: the server responded with a status of 4\d\d/.test(text) || (refused && optional(refused[1]))
      if (resourceFailed || FRAMEWORK_NOTES.some(r => r.test(text))) {
        this.explained++
        return
      }
      this.found.push(`console: ${text.slice(0, 500)}`)
    })
  }
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Opens an app's index.html and waits for its list report (filter bar) to render; returns the time it took (ms). */
export async function openApp(page: Page, url: string): Promise<number> {
  const started = Date.now()
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: APP_LOAD_TIMEOUT })
  await page.locator('[id*="--fe::FilterBar::"]').first().waitFor({ state: 'visible', timeout: APP_LOAD_TIMEOUT })
  return Date.now() - started
}

/** Load times of the apps measured by the suite, written to test-output/ui/timings.json. */
export function saveTimings(timings: Record<string, number>) {
  mkdirSync(SCREENSHOTS, { recursive: true })
  writeFileSync(path.join(SCREENSHOTS, 'timings.json'), JSON.stringify(timings, null, 2) + '\n')
}

/** The message toast showing `value` (sap.m.MessageToast). */
export function toast(page: Page, value: string | RegExp): Locator {
  return page.locator('.sapMMessageToast', { hasText: value }).first()
}

/** The object page's own action (a list report's action of the same name stays in the page, disabled). */
export function objectPageButton(page: Page, text: string): Locator {
  return page.locator('button:visible[id*="ObjectPage"]', { hasText: new RegExp(`^\\s*${text}\\s*$`) }).first()
}

/** A visible button by its exact text (UI5 renders the text inside nested spans). */
export function button(scope: Page | Locator, text: string): Locator {
  return scope.locator('button:visible', { hasText: new RegExp(`^\\s*${text}\\s*$`) }).first()
}

/** Visible text on the page (UI5 keeps hidden copies of titles and labels, e.g. for the header). */
export function text(page: Page, value: string | RegExp, exact = true): Locator {
  return page.getByText(value, { exact }).filter({ visible: true }).first()
}

/**
 * Counts pointer activations (clicks) of a flow: every click of the flow goes through `click`; typing is
 * counted apart (`type`), as keystrokes are no clicks.
 */
export class Clicks {
  count = 0
  typed = 0

  async click(target: Locator, options?: { timeout?: number }) {
    await target.click(options)
    this.count++
  }

  /** Types `value` into a field (focused by keyboard, no click) and presses `key` after it, e.g. Enter. */
  async type(target: Locator, value: string, key?: string) {
    await target.focus()
    await target.pressSequentially(value)
    if (key) await target.press(key)
    this.typed++
  }
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

/**
 * The value the create dialog's field (its sap.ui.mdc.Field) holds: for a field with a value help, the key of
 * the entry its text was resolved to; undefined while the typed text is still being looked up.
 */
export function dialogFieldValue(page: Page, id: string): Promise<unknown> {
  return page.evaluate(suffix => {
    interface Control {
      getId(): string
      getValue?(): unknown
    }
    const ui = (window as unknown as { sap: { ui: { require(name: string): unknown } } }).sap.ui
    const Element = ui.require('sap/ui/core/Element') as { registry: { filter(f: (c: Control) => boolean): Control[] } }
    const [field] = Element.registry.filter(c => c.getId().endsWith(suffix))
    return field?.getValue?.()
  }, `createDialog--${id}::Field-edit`)
}

/**
 * Types an entry's text into a field of the create dialog with a value help, and waits until the field holds
 * the entry's key: what depends on the field (another field's value help filtered by it, the POST) sees it.
 */
export async function chooseInDialog(page: Page, id: string, text: string) {
  await fillDialogField(page, id, text)
  await eventually(() => dialogFieldValue(page, id), { what: `the key of "${text}" in field ${id}`, until: v => typeof v === 'string' && v !== '' && v !== text, timeout: STEP_TIMEOUT })
}

/** A data point or field group in the object page header showing `value` (e.g. the state Ready). */
export function headerFacet(page: Page, value: string | RegExp): Locator {
  return page.locator('[id*="fe::HeaderFacet"]:visible', { hasText: value }).first()
}

/** Polls `read` until it returns something other than `previous`; returns the new value. */
export function changedFrom<T>(previous: T, read: () => Promise<T>, timeoutMs = STEP_TIMEOUT): Promise<T> {
  return eventually(read, { what: `a change from ${JSON.stringify(previous)}`, until: value => value !== previous, timeout: timeoutMs, interval: 250 })
}

/** Presses the object page's Refresh action until the header shows `text` (e.g. the state Ready). */
export async function refreshUntil(page: Page, value: string, timeoutMs = STEP_TIMEOUT) {
  const shown = headerFacet(page, value)
  await eventually(
    async () => {
      if (await shown.isVisible()) return true
      await button(page, 'Refresh').click()
      return false
    },
    { what: `the object page header showing "${value}"`, timeout: timeoutMs, interval: 1000 }
  )
}
