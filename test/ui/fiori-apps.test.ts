/**
 * The Fiori elements apps in headless Chromium against a real CAP server (in-memory SQLite, sample data,
 * embedded Service Manager emulator). One server and one browser for the whole file; the tests build on
 * each other (the key is created on the instance created before). Each test saves a screenshot under
 * test-output/ui/. Every page of every user is watched: the last test fails on any uncaught error, 5xx
 * answer or unexplained console error of the whole file (support.ts, Problems). The first app load and a
 * later cold load are measured and written to test-output/ui/timings.json.
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
  chooseInDialog,
  contextFor,
  withPageAs,
  dialog,
  dialogInput,
  ensureChromium,
  fillDialogField,
  headerFacet,
  launchBrowser,
  objectPageButton,
  odata,
  openApp,
  plant,
  pressGo,
  Problems,
  refreshUntil,
  saveTimings,
  screenshot,
  Server,
  startServer,
  stopServer,
  text,
  toast
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
/** PLAN_NOT_ENTITLED (_i18n/messages.properties) for the sample's plan "extended" of aicore in ACME Cloud ALM (eu20) */
const NOT_ENTITLED = 'Plan "extended" of service "aicore" is not entitled in subaccount "ACME Cloud ALM (eu20)"; add the entitlement to the subaccount first.'

describe('Fiori apps in a browser', () => {
  let server: Server
  let browser: Browser
  let admin: BrowserContext
  let page: Page
  const problems = new Problems()
  const timings: Record<string, number> = {}

  beforeAll(async () => {
    ensureChromium()
    server = await startServer()
    browser = await launchBrowser()
    admin = await contextFor(browser, 'admin', problems)
    await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    page = await admin.newPage()
  }, SERVER_START_TIMEOUT + STEP_TIMEOUT)

  afterAll(async () => {
    saveTimings(timings)
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

      // the first app load of a fresh server: UI5's library bundles are built on their first request
      const started = Date.now()
      await page.locator('#tile-subaccounts').click()
      await page.locator('[id*="--fe::FilterBar::"]').first().waitFor({ timeout: APP_LOAD_TIMEOUT })
      timings.firstAppLoadMs = Date.now() - started
      console.log(`first app load: ${timings.firstAppLoadMs} ms`)
      await pressGo(page)
      await text(page, 'ACME Integration (eu10)').waitFor()
      await text(page, 'ACME Cloud ALM (eu20)').waitFor()
      await expect(page.getByText('Subaccounts (2)').count()).resolves.toBe(1)
      await screenshot(page, '02-subaccounts-list')

      await text(page, 'ACME Integration (eu10)').click()
      await objectPageButton(page, 'Sync Catalog').waitFor()
      await text(page, 'Catalog (5)').waitFor()
      await objectPageButton(page, 'Sync Catalog').click()
      await toast(page, /^Catalog synchronized: 5 plan\(s\), 5 entitled\.$/).waitFor({ timeout: STEP_TIMEOUT })
      await headerFacet(page, /\d{4}/).waitFor() // synced at
      await headerFacet(page, /Health\s*OK/).waitFor() // the health's text (its code is "ok"), with criticality
      await text(page, 'Entitled').waitFor() // the catalog's entitlement as text, with criticality
      await screenshot(page, '03-subaccount-catalog')
    },
    TEST_TIMEOUT
  )

  test(
    'creates a service instance and sees it become Ready',
    async () => {
      timings.coldAppLoadMs = await openApp(page, `${server.url}/serviceinstances/index.html`)
      console.log(`cold load of a second app: ${timings.coldAppLoadMs} ms`)
      // the guided flow is offered next to Create (test/ui/get-credentials.test.ts follows it)
      await button(page, 'Get Credentials').waitFor()
      await button(page, 'Create').click()
      await fillDialogField(page, 'name', INSTANCE)
      await chooseInDialog(page, 'subaccount', 'ACME Integration (eu10)')
      await chooseInDialog(page, 'plan', 'standard') // Cloud ALM API, entitled in this subaccount
      await screenshot(page, '04-instance-create-dialog')
      await button(dialog(page), 'Create').click()
      await toast(page, `Service instance "${INSTANCE}" created.`).waitFor({ timeout: STEP_TIMEOUT })

      await text(page, 'Operations History').waitFor({ timeout: STEP_TIMEOUT })
      await refreshUntil(page, 'Ready')
      await text(page, 'SAP Cloud ALM API').waitFor() // the service's display name from the catalog
      // the labels Service Manager holds, as a table of label and values
      await text(page, 'Labels').click()
      const labels = page.locator('.btpLabels')
      await labels.locator('tr', { hasText: 'managed_by' }).filter({ hasText: 'service-key-manager' }).waitFor()
      await expect(labels.innerText()).resolves.not.toContain('{')
      await screenshot(page, '05-instance-ready')

      // back in the list the new instance shows without pressing Go
      await page.goBack()
      await text(page, INSTANCE).waitFor({ timeout: STEP_TIMEOUT })
      await screenshot(page, '06-instances-list')
    },
    TEST_TIMEOUT
  )

  test(
    'a plan that is not entitled is marked in the value help; choosing it shows the service\'s message on the field',
    async () => {
      await button(page, 'Create').click()
      await fillDialogField(page, 'name', `ui-not-entitled-${stamp}`)
      // the plan's value help is filtered by the subaccount the field holds
      await chooseInDialog(page, 'subaccount', 'ACME Cloud ALM (eu20)')
      // the value help lists every plan of the subaccount's catalog, the ones SM no longer lists marked
      await page.locator('[id$="createDialog--plan::Field-edit-inner-vhi"]').click()
      const help = dialog(page)
      await help.locator('tr', { hasText: /^\s*extended/ }).filter({ hasText: 'Not entitled - add the entitlement' }).waitFor({ timeout: STEP_TIMEOUT })
      await help.locator('tr', { hasText: /^\s*standard/ }).filter({ hasText: /Entitled/ }).waitFor() // "Not entitled" differs in case
      await screenshot(page, '06b-plan-value-help')
      // its search looks at service and plan names, not at subaccount names
      const search = help.locator('input[type="search"]')
      await search.fill('ACME')
      await search.press('Enter')
      await help.getByText(/^No data available/).waitFor({ timeout: STEP_TIMEOUT })
      await search.fill('cloudalm')
      await search.press('Enter')
      await help.getByText('Items (1)').waitFor({ timeout: STEP_TIMEOUT })
      await button(help, 'Cancel').click()

      await fillDialogField(page, 'plan', 'extended')
      await button(dialog(page), 'Create').click()
      // the service's PLAN_NOT_ENTITLED, on the plan field (its target) and in the message box
      const box = page.locator('.sapMMessageBox:visible')
      await box.getByText(NOT_ENTITLED).waitFor({ timeout: STEP_TIMEOUT })
      await button(box, 'Close').click()
      const form = page.locator('.sapMDialog:visible', { hasText: 'New Service Instance' })
      const plan = dialogInput(page, 'plan')
      await expect(plan.getAttribute('aria-invalid')).resolves.toBe('true')
      await expect(page.locator('[id$="createDialog--plan::Field-edit-inner-message-sr"]').textContent()).resolves.toContain(NOT_ENTITLED)
      await plan.click() // the field's value state message opens with the focus
      await text(page, NOT_ENTITLED).waitFor()
      await screenshot(page, '06c-plan-not-entitled')
      // cancelling after the error discards the new instance without an uncaught "Request canceled"
      await button(form, 'Cancel').click()
      await form.waitFor({ state: 'detached' })
      await page.waitForTimeout(500)
    },
    TEST_TIMEOUT
  )

  test(
    'creates a key of the instance, verifies it and reveals its credentials',
    async () => {
      await text(page, INSTANCE).click()
      await button(page, 'Create Key').click()
      // certificate, key length and validity only for X.509 keys
      const x509Fields = ['certificate', 'keyLength', 'validity']
      for (const field of x509Fields) await expect(dialogInput(page, field).isVisible()).resolves.toBe(false)
      await fillDialogField(page, 'credentialType', 'X.509 certificate')
      for (const field of x509Fields) await dialogInput(page, field).waitFor({ state: 'visible' })
      await screenshot(page, '06d-key-dialog-x509')
      await fillDialogField(page, 'credentialType', 'Client secret')
      for (const field of x509Fields) await dialogInput(page, field).waitFor({ state: 'hidden' })
      await fillDialogField(page, 'name', KEY)
      await button(dialog(page), 'Create').click()
      await toast(page, `Service key "${KEY}" created.`).waitFor({ timeout: STEP_TIMEOUT })

      await text(page, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
      await refreshUntil(page, 'Ready')
      await text(page, 'Client secret').waitFor() // the credential type's text
      const verifiedAt = page.locator('[id$="DataField::verifiedAt::Field-display"]').first()
      const before = await verifiedAt.innerText()
      await button(page, 'Verify').click()
      // a client-secret key: the dialog asks for no private key
      await expect(dialog(page).locator('textarea').count()).resolves.toBe(0)
      await button(dialog(page), 'Verify').click()
      await toast(page, /^Verified: OK \(HTTP 200 in \d+ ms\)\.$/).waitFor({ timeout: STEP_TIMEOUT })
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
      await button(dialog(page), 'Copy').click()
      await toast(page, 'Credentials copied to the clipboard.').waitFor()
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(revealed)
      await screenshot(page, '08-key-credentials')
      await button(dialog(page), 'Close').click()
      await page.locator('.btpCredentialsDialog').waitFor({ state: 'detached' })

      // the same credentials as the cockpit's service key file
      const download = page.waitForEvent('download', { timeout: STEP_TIMEOUT })
      await button(page, 'Download Credentials').click()
      const file = await download
      expect(file.suggestedFilename()).toBe(`${KEY}.json`)
      const saved = JSON.parse(readFileSync((await file.path()), 'utf8'))
      expect(saved).toEqual(JSON.parse(revealed))
      await toast(page, `Credentials saved as ${KEY}.json.`).waitFor()
      await screenshot(page, '08b-key-downloaded')
    },
    TEST_TIMEOUT
  )

  test(
    'rotates the key: a successor like it becomes Ready',
    async () => {
      await button(page, 'Rotate').click()
      // an Administrator may force the rotation of a key SAP created; this one is ours
      const confirm = dialog(page)
      if (await confirm.isVisible()) await button(confirm, 'Rotate').click()
      await toast(page, 'Rotate: done.').waitFor({ timeout: STEP_TIMEOUT })
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
      await withPageAs(browser, 'viewer', problems, async viewerPage => {
        // the app asks the service what this user may do (the Me singleton, app/shared/Permissions.js)
        const me = viewerPage.waitForResponse(r => /\/Me(\?|$)/.test(r.url()), { timeout: APP_LOAD_TIMEOUT })
        await openApp(viewerPage, `${server.url}/servicekeys/index.html`)
        const answer = await me
        expect(answer.status()).toBe(200)
        expect(await answer.json()).toMatchObject({ canProvision: false, canReadCredentials: false, canAdminister: false })
        await pressGo(viewerPage)
        await text(viewerPage, KEY).waitFor()
        await expect(viewerPage.locator('button:visible', { hasText: /^\s*(Create|Delete|Get Credentials)\s*$/ }).count()).resolves.toBe(0)
        await text(viewerPage, KEY).click()
        await text(viewerPage, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
        await headerFacet(viewerPage, 'Ready').waitFor()
        const refused = /^\s*(Verify|Rotate|Refresh|Delete|Reveal Credentials|Download Credentials)\s*$/
        await expect(viewerPage.locator('button:visible', { hasText: refused }).count()).resolves.toBe(0)
        await screenshot(viewerPage, '10-key-as-viewer')
      })
    },
    TEST_TIMEOUT
  )

  test(
    'a credential reader may reveal and download a key but neither change nor verify it',
    async () => {
      await withPageAs(browser, 'reader', problems, async readerPage => {
        await openApp(readerPage, `${server.url}/servicekeys/index.html`)
        await text(readerPage, KEY).click()
        await text(readerPage, 'Credential Metadata').waitFor({ timeout: STEP_TIMEOUT })
        await headerFacet(readerPage, 'Ready').waitFor()
        await button(readerPage, 'Reveal Credentials').waitFor()
        await button(readerPage, 'Download Credentials').waitFor()
        const refused = /^\s*(Verify|Rotate|Refresh|Delete|Create)\s*$/
        await expect(readerPage.locator('button:visible', { hasText: refused }).count()).resolves.toBe(0)
        await screenshot(readerPage, '10b-key-as-reader')
      })
    },
    TEST_TIMEOUT
  )

  test(
    'uploads a certificate from a PEM file and shows its facts',
    async () => {
      const leaf = await makeLeaf(null, { cn: 'UI Test Client', eku: ['clientAuth'], key: 'EC' })
      await openApp(page, `${server.url}/certificates/index.html`)
      await button(page, 'Upload').click()
      await fillDialogField(page, 'name', CERTIFICATE)
      await page
        .locator('input[type="file"][id*="createDialog--pemFile"]')
        .setInputFiles({ name: 'ui-client.pem', mimeType: 'application/x-pem-file', buffer: Buffer.from(leaf.certPem) })
      await expect(changedFrom('', () => dialogInput(page, 'pem').inputValue())).resolves.toBe(leaf.certPem.trim())
      await screenshot(page, '10c-certificate-upload-dialog')
      await button(dialog(page), 'Upload').click()
      await toast(page, `Certificate "${CERTIFICATE}" created.`).waitFor({ timeout: STEP_TIMEOUT })

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
      await objectPageButton(page, 'Sweep').click({ timeout: STEP_TIMEOUT })
      await toast(page, /^Sweep finished: [1-9]\d* open finding\(s\)\. .*unmanaged [1-9]/).waitFor({ timeout: STEP_TIMEOUT })
      const finding = page.locator('tr.sapMListTblRow', { hasText: FOREIGN })
      await text(page, 'Findings').click() // sections below the fold load when shown
      await finding.waitFor({ timeout: STEP_TIMEOUT })
      await expect(finding.innerText()).resolves.toMatch(/unmanaged[\s\S]*open/)
      await screenshot(page, '12-sweep-findings')

      await finding.locator('.sapMRb').click()
      await button(page, 'Adopt').click()
      await toast(page, 'Adopt: done.').waitFor({ timeout: STEP_TIMEOUT })
      await page.locator('tr.sapMListTblRow', { hasText: FOREIGN }).filter({ hasText: 'adopted' }).waitFor({ timeout: STEP_TIMEOUT })
      await screenshot(page, '13-finding-adopted')

      // now one of ours, and Ready (that nothing was created again is checked in test/sweep.test.ts)
      await openApp(page, `${server.url}/serviceinstances/index.html`)
      await pressGo(page)
      await text(page, FOREIGN).click()
      await text(page, 'Operations History').waitFor({ timeout: STEP_TIMEOUT })
      await headerFacet(page, 'Ready').waitFor()
      await screenshot(page, '14-adopted-instance')

      // deleting it: a toast, and the list shows it on its way out without pressing Go
      await objectPageButton(page, 'Delete').click()
      await button(dialog(page), 'Delete').click()
      await toast(page, `"${FOREIGN}" deleted; an object in Service Manager is deleted there first.`).waitFor({ timeout: STEP_TIMEOUT })
      await page.locator('tr.sapMListTblRow', { hasText: FOREIGN }).filter({ hasText: /Deleting|Deleted/ }).waitFor({ timeout: STEP_TIMEOUT })
      await screenshot(page, '15-instance-deleted')
    },
    TEST_TIMEOUT
  )

  test('no uncaught error, 5xx answer or unexplained console error in any flow above', () => {
    console.log(`console errors explained as framework notes: ${problems.explained}`)
    expect(problems.found).toEqual([])
  })
})
