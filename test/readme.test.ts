import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { ROOT, serveApp, type Served } from './hostile/serve'
import { eventually } from './support/eventually'

/**
 * Every curl line of the README works when pasted: the lines of its ```sh blocks run as written through
 * bash and curl against the app as `npm start` runs it, with the placeholders the README asks the reader
 * to fill (<instance ID>, <key ID>) taken from the earlier answers.
 */

const run = promisify(execFile)
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

/** The shell lines of the README's ```sh blocks, continuation lines joined. */
const shellLines = [...README.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap(m => m[1].replace(/\\\n\s*/g, ' ').split('\n'))
  .map(l => l.trim())
const serviceLine = shellLines.find(l => l.startsWith('S='))
const curlLines = shellLines.filter(l => l.startsWith('curl '))

let app: Served
beforeAll(async () => {
  app = await serveApp()
}, 60000)
afterAll(() => app?.stop())

/** Runs a README line as a reader would paste it; answers curl's exit code, the HTTP status and the body. */
async function paste(line: string, S: string) {
  try {
    const { stdout } = await run('bash', ['-c', `${line} -w '\\n%{http_code}'`], { env: { ...process.env, S }, timeout: 20000 })
    const at = stdout.lastIndexOf('\n')
    return { exit: 0, status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { exit: err.code ?? -1, status: 0, body: `${err.stdout ?? ''}${err.stderr ?? ''}` }
  }
}

test('the README has a service URL and curl lines to try', () => {
  expect(serviceLine).toMatch(/^S=http:\/\/localhost:4004\/odata\/v4\/provisioning$/)
  expect(curlLines.length).toBeGreaterThanOrEqual(7)
})

test('every curl line of the README answers 2xx when pasted', async () => {
  const S = serviceLine!.slice(2).replace('http://localhost:4004', app.url)
  const ids: Record<string, string> = {}
  const state = async (set: string, id: string) => {
    const res = await paste(`curl -s -u admin:admin "$S/${set}(${id})?\\$select=state_code"`, S)
    return res.status === 200 ? (JSON.parse(res.body).state_code as string) : undefined
  }
  /** waits until the row is in `wanted` (a reader refreshing the page) */
  const reaches = (set: string, id: string, wanted: string) =>
    eventually(() => state(set, id), { what: `${set}(${id}) ${wanted}`, until: s => s === wanted, interval: 200 })
  const answers: { line: string; exit: number; status: number }[] = []
  for (const written of curlLines) {
    // the reader waits for what the README says becomes Ready before using it
    if (written.includes('<instance ID>')) await reaches('ServiceInstances', ids.instance, 'Ready')
    if (written.includes('<key ID>')) await reaches('ServiceKeys', ids.key, 'Ready')
    const line = written.replaceAll('<instance ID>', ids.instance ?? '<instance ID>').replaceAll('<key ID>', ids.key ?? '<key ID>')
    const res = await paste(line, S)
    answers.push({ line: written, exit: res.exit, status: res.status })
    if (res.status === 201 && /"\$S\/ServiceInstances"/.test(line)) ids.instance = JSON.parse(res.body).ID
    if (res.status === 201 && /"\$S\/ServiceKeys"/.test(line)) ids.key = JSON.parse(res.body).ID
  }
  expect(answers.filter(a => a.exit !== 0 || a.status < 200 || a.status > 299)).toEqual([])
  expect(ids.instance).toBeDefined()
  expect(ids.key).toBeDefined()
  // the last line deletes the instance, its key first
  await reaches('ServiceInstances', ids.instance, 'Deleted')
}, 90000)
