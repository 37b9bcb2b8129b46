/**
 * The Fiori elements apps in headless Chromium against a real CAP server (in-memory SQLite, sample data,
 * embedded Service Manager emulator). One server and one browser for the whole file; the tests build on
 * each other (the key is created on the instance created before). Each test saves a screenshot under
 * test-output/ui/.
 */
import { readFileSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { makeLeaf } from '../fixtures/pki'
import {
  APP_LOAD_TIMEOUT,
  SERVER_START_TIMEOUT,
  STEP_TIMEOUT,
  button,
  changedFrom,
  contextFor,
  dialog,
  ensureChromium,
  fillDialogField,
  headerFacet,
  launchBrowser,
  odata,
  openApp,
  plant,
  pressGo,
  refreshUntil,
  screenshot,
  Server,
  startServer,
  stopServer,
  text
} from './support'

/** Time for one test: an app load of ~1,500 UI5 modules plus a few round trips. */
const TEST_TIMEOUT = APP_LOAD_TIMEOUT + 3 * STEP_TIMEOUT

const stamp = Date.now().toString(36).slice(-5)
const INSTANCE = `ui-instance-${stamp}`
const KEY = `ui-key-${stamp}`
const CERTIFICATE = `ui-certificate-${stamp}`
const FOREIGN = `made-elsewhere-${stamp}`
/** BTP GUID of the sample subaccount "ACME Integration (eu10)" (its tenant in the emulator) */
const SUB1_GUID = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'

describe('Fiori apps in a browser', () => {
  let server: Server
  let browser: Browser
  let admin: BrowserContext
  let page: Page

  beforeAll(async () => {
    ensureChromium()
    server = await startServer()
    browser = await launchBrowser()
    admin = await contextFor(browser, 'admin')
    page = await admin.newPage()
  }, SERVER_START_TIMEOUT + STEP_TIMEOUT)

  afterAll(async () => {
    await browser?.close()
    await stopServer(server)
  }, STEP_TIMEOUT)

  test(
    'the launchpad lists the apps and opens the subaccounts with the sample data',
    async () => {
      await page.goto(`${server.url}/`)
      for (const tile of ['subaccounts', 'serviceinstances', 'servicekeys', 'certificates'])
        await page.locator(`#tile-${tile}`).waitFor()
      await screenshot(page, '01-launchpad')

      await page.locator('#tile-subaccounts').click()
      await page.locator('[id*="--fe::FilterBar::"]').first().waitFor({ timeout: APP_LOAD_TIMEOUT })
      await pressGo(page)
      await text(page, 'ACME Integration (eu10)').waitFor()
      await text(page, 'ACME Cloud ALM (eu20)').waitFor()
      await expect(page.getByText('Subaccounts (2)').count()).resolves.toBe(1)
      await screenshot(page, '02-subaccounts-list')

      await text(page, 'ACME Integration (eu10)').click()
      await button(page, 'Sync Catalog').waitFor()
      await text(page, 'Catalog (5)').waitFor()
      await button(page, 'Sync Catalog').click()
      await headerFacet(page, /\d{4}/).waitFor() // synced at
      await screenshot(page, '03-subaccount-catalog')
    },
    TEST_TIMEOUT
  )

  test(
    'creates a service instance and sees it become Ready',
    async () => {
      await openApp(page, `${server.url}/serviceinstances/index.html`)
      await button(page, 'Create').click()
      await fillDialogField(page, 'name', INSTANCE)
      await fillDialogField(page, 'subaccount', 'ACME Integration (eu10)')
      await fillDialogField(page, 'plan', 'standard') // Cloud ALM API, entitled in this subaccount
      await screenshot(page, '04-instance-create-dialog')
      await button(dialog(page), 'Create').click()

      await text(page, 'Operations History').waitFor({ timeout: STEP_TIMEOUT })
      await refreshUntil(page, 'Ready')
      await text(page, 'cloudalm-api').waitFor()
      await screenshot(page, '05-instance-ready')

      await page.goBack()
      await pressGo(page)
      await text(page, INSTANCE).waitFor()
      await screenshot(page, '06-instances-list')
    },
    TEST_TIMEOUT
  )

  test(
    'creates a key of the instance, verifies it and reveals its credentials',
    async () => {
      await text(page, INSTANCE).click()
      await button(page, 'Create Key').click()
      await fillDialogField(page, 'name', KEY)
      await button(dialog(page), 'Create').click()

      await text(page, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
      await refreshUntil(page, 'Ready')
      const verifiedAt = page.locator('[id$="DataField::verifiedAt::Field-display"]').first()
      const before = await verifiedAt.innerText()
      await button(page, 'Verify').click()
      await button(dialog(page), 'Verify').click() // no private key: a client-secret key
      await changedFrom(before, () => verifiedAt.innerText())
      await headerFacet(page, 'OK').waitFor()
      await text(page, /^sb-.*\|calm-api!b\d+$/).waitFor() // the client ID, never the secret
      await expect(page.getByText('clientsecret').count()).resolves.toBe(0)
      await screenshot(page, '07-key-verified')

      await button(page, 'Reveal Credentials').click()
      const credentials = page.locator('.btpCredentialsDialog textarea')
      await credentials.waitFor()
      const revealed = await credentials.inputValue()
      expect(revealed).toContain('"clientsecret"')
      await screenshot(page, '08-key-credentials')
      await button(dialog(page), 'Close').click()
      await page.locator('.btpCredentialsDialog').waitFor({ state: 'detached' })

      // the same credentials as the cockpit's service key file
      const download = page.waitForEvent('download', { timeout: STEP_TIMEOUT })
      await button(page, 'Download Credentials').click()
      const file = await download
      expect(file.suggestedFilename()).toBe(`${KEY}.json`)
      const saved = JSON.parse(readFileSync((await file.path())!, 'utf8'))
      expect(saved).toEqual(JSON.parse(revealed))
      await screenshot(page, '08b-key-downloaded')
    },
    TEST_TIMEOUT
  )

  test(
    'rotates the key: a successor like it becomes Ready',
    async () => {
      await button(page, 'Rotate').click()
      await text(page, 'Operations History').waitFor({ timeout: STEP_TIMEOUT })
      await openApp(page, `${server.url}/servicekeys/index.html`)
      await pressGo(page)
      // the successor is named after the key with a time stamp (srv/provisioning-service.ts rotatedName)
      const successor = text(page, new RegExp(`^${KEY}-\\d{12}$`))
      await successor.waitFor({ timeout: STEP_TIMEOUT })
      await successor.click()
      await text(page, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
      await refreshUntil(page, 'Ready')
      await text(page, KEY).waitFor() // Rotated From
      await screenshot(page, '08c-key-rotated')
    },
    TEST_TIMEOUT
  )

  test(
    'the service keys list report finds the key by its state',
    async () => {
      await openApp(page, `${server.url}/servicekeys/index.html`)
      await pressGo(page)
      await text(page, KEY).waitFor()
      await screenshot(page, '09-keys-list')
    },
    TEST_TIMEOUT
  )

  test(
    'a viewer sees the key but none of the actions the service would refuse',
    async () => {
      const viewer = await contextFor(browser, 'viewer')
      try {
        const viewerPage = await viewer.newPage()
        // the app asks the service what this user may do (the Me singleton, app/shared/Permissions.js)
        const me = viewerPage.waitForResponse(r => /\/Me(\?|$)/.test(r.url()), { timeout: APP_LOAD_TIMEOUT })
        await openApp(viewerPage, `${server.url}/servicekeys/index.html`)
        const answer = await me
        expect(answer.status()).toBe(200)
        expect(await answer.json()).toMatchObject({ canProvision: false, canReadCredentials: false, canAdminister: false })
        await pressGo(viewerPage)
        await text(viewerPage, KEY).waitFor()
        await expect(viewerPage.locator('button:visible', { hasText: /^\s*(Create|Delete)\s*$/ }).count()).resolves.toBe(0)
        await text(viewerPage, KEY).click()
        await text(viewerPage, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
        await headerFacet(viewerPage, 'Ready').waitFor()
        const refused = /^\s*(Verify|Rotate|Refresh|Delete|Reveal Credentials|Download Credentials)\s*$/
        await expect(viewerPage.locator('button:visible', { hasText: refused }).count()).resolves.toBe(0)
        await screenshot(viewerPage, '10-key-as-viewer')
      } finally {
        await viewer.close()
      }
    },
    TEST_TIMEOUT
  )

  test(
    'uploads a certificate and shows its facts',
    async () => {
      const leaf = await makeLeaf(null, { cn: 'UI Test Client', eku: ['clientAuth'], key: 'EC' })
      await openApp(page, `${server.url}/certificates/index.html`)
      await button(page, 'Upload').click()
      await fillDialogField(page, 'name', CERTIFICATE)
      await fillDialogField(page, 'pem', leaf.certPem)
      await button(dialog(page), 'Upload').click()

      await text(page, 'Certificate Facts').waitFor({ timeout: STEP_TIMEOUT })
      await text(page, 'CN=UI Test Client', false).waitFor()
      await headerFacet(page, 'Valid').waitFor()
      await screenshot(page, '11-certificate')
    },
    TEST_TIMEOUT
  )

  test(
    'a sweep finds an instance another tool created; Adopt takes it into our records',
    async () => {
      const [plan] = (await odata(server, 'admin', `ServicePlans?$filter=name eq 'standard' and offering/name eq 'cloudalm-api' and subaccount/subaccountId eq ${SUB1_GUID}`)).value
      await plant(server, 'instance', { name: FOREIGN, service_plan_id: plan.smId, subaccountId: SUB1_GUID })

      await openApp(page, `${server.url}/subaccounts/index.html`)
      await pressGo(page)
      await text(page, 'ACME Integration (eu10)').click()
      // the object page's action (the list report's, disabled without a selection, stays in the page)
      await page.locator('button:visible[id*="SubaccountsObjectPage"]', { hasText: /^\s*Sweep\s*$/ }).click({ timeout: STEP_TIMEOUT })
      const finding = page.locator('tr.sapMListTblRow', { hasText: FOREIGN })
      await text(page, 'Findings').click() // sections below the fold load when shown
      await finding.waitFor({ timeout: STEP_TIMEOUT })
      await expect(finding.innerText()).resolves.toMatch(/unmanaged[\s\S]*open/)
      await screenshot(page, '12-sweep-findings')

      await finding.locator('.sapMRb').click()
      await button(page, 'Adopt').click()
      await page.locator('tr.sapMListTblRow', { hasText: FOREIGN }).filter({ hasText: 'adopted' }).waitFor({ timeout: STEP_TIMEOUT })
      await screenshot(page, '13-finding-adopted')

      // now one of ours, and Ready (that nothing was created again is checked in test/sweep.test.ts)
      await openApp(page, `${server.url}/serviceinstances/index.html`)
      await pressGo(page)
      await text(page, FOREIGN).click()
      await text(page, 'Operations History').waitFor({ timeout: STEP_TIMEOUT })
      await headerFacet(page, 'Ready').waitFor()
      await screenshot(page, '14-adopted-instance')
    },
    TEST_TIMEOUT
  )
})
