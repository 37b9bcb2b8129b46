/**
 * Kill suite: the race workload runs against the app as a child process on a SQLite file while the app is
 * killed (SIGKILL) at random moments and restarted, at least 20 times. Requests whose answer a kill swallowed are
 * repeated once the app is back (they are idempotent, or their repetition is recognised). At the end every
 * object has converged: the last intent holds, nothing is transitional, SM holds exactly what should exist.
 *
 * KILL_SEED replays the moments (the seed is printed); KILL_COUNT and KILL_INTERLEAVINGS make a larger run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AppProcess, EmulatorProcess, deploy, sleep, stopAll, type AppConfig } from '../resilience/support'
import { Interleaving, plan, runAll, seedFrom, seeded, settled, violations, type Answer, type Api } from './workload'
import { eventually } from '../support/eventually'

const SEED = seedFrom(process.env.KILL_SEED)
const KILLS = Number(process.env.KILL_COUNT ?? 20)
const COUNT = Number(process.env.KILL_INTERLEAVINGS ?? 75)

jest.setTimeout(300_000)

let emu: EmulatorProcess
let app: AppProcess | undefined
let cfg: AppConfig
let dir: string
let starts = 0

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skm-kill-'))
  emu = await EmulatorProcess.start('kill-emulator', { operationMs: 100, operationMaxMs: 1000 })
  cfg = {
    db: { kind: 'sqlite', credentials: { url: path.join(dir, 'db.sqlite') } },
    emulator: emu,
    provisioning: { pollInitial: '100ms', pollMax: '500ms', retryMax: '1s', rotationOverlap: '300ms' },
    serviceManager: { limits: false }
  }
  await deploy(cfg)
  app = await AppProcess.start(`kill-app-${++starts}`, cfg)
}, 120_000)

afterAll(async () => {
  await stopAll()
  if (dir && !process.env.KEEP_TEST_DB) rmSync(dir, { recursive: true, force: true })
})

/** The app as the workload sees it: a request a kill swallowed is sent again once the app is back. */
function resilientApi(): Api {
  const send = (method: string, p: string, body?: unknown): Promise<Answer> => {
    let sent = false
    return eventually(
      async () => {
        const current = app
        if (!current) throw new Error('the app is restarting')
        // a request sent before may have been carried out by the killed process
        const again = sent
        sent = true
        const res = await current.request(method, p, body)
        return again ? recognised(method, p, body, res) : res
      },
      { what: `${method} ${p} answered by a running app`, until: () => true, timeout: 120_000, interval: 100 }
    )
  }
  return { get: p => send('GET', p), post: (p, b) => send('POST', p, b), delete: p => send('DELETE', p) }
}

/** A repeated request that the first, lost one already carried out answers as the first would have. */
async function recognised(method: string, p: string, body: unknown, res: Answer): Promise<Answer> {
  if (method !== 'POST' || res.status !== 409 || !app) return res
  if (p === '/ServiceKeys' && res.data?.error?.code === 'KEY_NAME_TAKEN') {
    const { name, instance_ID } = body as { name: string; instance_ID: string }
    const q = encodeURIComponent(`name eq '${name}' and instance_ID eq ${instance_ID}`)
    const found = await app.get(`/ServiceKeys?$filter=${q}`)
    if (found.data?.value?.length === 1) return { status: 201, data: found.data.value[0] }
  }
  const rotated = /^\/ServiceKeys\(([^)]+)\)\/rotate$/.exec(p)
  if (rotated && res.data?.error?.code === 'KEY_ALREADY_ROTATED') {
    const found = await app.get(`/ServiceKeys?$filter=${encodeURIComponent(`rotatedFrom_ID eq ${rotated[1]}`)}`)
    if (found.data?.value?.length === 1) return { status: 200, data: found.data.value[0] }
  }
  return res
}

test(`${KILLS} SIGKILLs at random moments of the race workload: every object converges to the last intent (seed ${SEED})`, async () => {
  console.log(`kill suite: seed ${SEED}, ${KILLS} kills, ${COUNT} interleavings (replay with KILL_SEED=${SEED})`)
  const random = seeded(SEED)
  const api = resilientApi()
  const runs = plan(COUNT, SEED, 1200).map((p, n) => new Interleaving(`kill${n}`, p.pair, p.offsets, api))
  const workload = runAll(runs, 8)

  const restartsMs: number[] = []
  for (let k = 0; k < KILLS; k++) {
    await sleep(300 + Math.floor(random() * 1500))
    await app!.kill()
    app = undefined
    const started = Date.now()
    app = await AppProcess.start(`kill-app-${++starts}`, cfg)
    restartsMs.push(Date.now() - started)
  }
  expect(await workload).toEqual([])
  const settleMs = await settled(api, 120_000)

  const state = await emu.state({ calls: false })
  const record = (o: { id: string; labels?: Record<string, string[]> }) => ({ id: o.id, record: o.labels?.skm_id?.[0] })
  const problems = await violations(api, runs, { instances: state.instances.map(record), bindings: state.bindings.map(record) })
  if (problems.length) console.log(`seed ${SEED}:\n${problems.join('\n')}\n${runs.map(r => `${r.name} ${r.pair.join('/')}: ${r.log.join('; ')}`).join('\n')}`)
  expect(problems).toEqual([])
  console.log(
    `kill suite: ${KILLS} kills, ${COUNT} interleavings, restarts ${Math.min(...restartsMs)}-${Math.max(...restartsMs)} ms, settled ${settleMs} ms after the workload`
  )
})
