/**
 * The list benchmark measures the server as production runs it: built JavaScript under cds-serve, without a
 * TypeScript loader (bench/lib.ts buildServer). That build starts and serves a list request as a mocked user,
 * so `npm run bench` does not find out first that it lacks a file the handlers load at run time.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildServer, request, startApp, type AppProcess } from '../bench/lib'
import { deploy } from '../bench/list-query'

jest.setTimeout(180_000)

let dir: string
let app: AppProcess | undefined

afterAll(async () => {
  await app?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test("the benchmark's built server starts and answers the Service Keys list", async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skm-bench-build-'))
  // as the benchmark does: a database file deployed first, then the built server on it
  const file = path.join(dir, 'bench.sqlite')
  await deploy(file)
  const built = buildServer(path.join(dir, 'server'))
  app = await startApp({ requires: { db: { kind: 'sqlite', credentials: { url: file } }, messaging: { kind: 'local-messaging' } } }, 120_000, { built })
  const admin = { Authorization: 'Basic ' + Buffer.from('admin:admin').toString('base64') }
  const keys = await request<{ value: unknown[] }>('GET', `${app.url}/odata/v4/provisioning/ServiceKeys?$top=1&$count=true`, undefined, admin)
  expect(keys.status).toBe(200)
  expect(Array.isArray(keys.data.value)).toBe(true)
  // the handlers run: an unknown key answers our message code, not CAP's bare 404
  const unknown = await request<{ error: { code: string } }>('GET', `${app.url}/odata/v4/provisioning/ServiceKeys(${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)})`, undefined, admin)
  expect([unknown.status, unknown.data.error.code]).toEqual([404, 'KEY_UNKNOWN'])
})
