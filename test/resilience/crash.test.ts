/**
 * Crash-resume: the app runs as a child process on a SQLite file and talks to a standalone emulator (its
 * state survives the app). The app is killed with SIGKILL at the awkward points of a step and restarted on
 * the same database; the step must end right, with exactly one object in SM.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PLANS, SUB1 } from '../helpers'
import {
  AppProcess,
  EmulatorProcess,
  INSTANCES,
  deploy,
  recordOf,
  stateIs,
  stopAll,
  type AppConfig
} from './support'

jest.setTimeout(120_000)

let emu: EmulatorProcess
let app: AppProcess | undefined
let cfg: AppConfig
let dir: string
let generation = 0

/** Short timings so a killed process's work is reclaimed within seconds (the queue's `timeout`). */
const PROVISIONING = { pollInitial: '100ms', pollMax: '500ms', pollSlice: '1s', retryMax: '1s', stepDeadline: '2m' }
const QUEUE = { timeout: '3s' }

async function restart() {
  app = await AppProcess.start(`crash-app-${++generation}`, cfg)
  return app
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skm-crash-'))
  emu = await EmulatorProcess.start('crash-emulator')
  cfg = { db: { kind: 'sqlite', credentials: { url: path.join(dir, 'db.sqlite') } }, emulator: emu, provisioning: PROVISIONING, queue: QUEUE }
  await deploy(cfg)
  await restart()
}, 120_000)

afterAll(async () => {
  await stopAll()
  if (dir && !process.env.KEEP_TEST_DB) rmSync(dir, { recursive: true, force: true })
})

async function create(name: string) {
  const res = await app!.post('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
  expect(res.status).toBe(201)
  expect(res.data.state_code).toBe('Creating')
  return res.data as { ID: string }
}

async function smInstancesNamed(name: string) {
  return (await emu.state({ calls: false })).instances.filter(i => i.name === name)
}

async function postsNamed(name: string) {
  return (await emu.state()).calls.filter(c => c.method === 'POST' && c.path === INSTANCES && c.body?.name === name)
}

/** After the restart: the record ends in `state`, SM holds exactly one object for it (or none when deleted). */
async function expectOneInSm(name: string, ID: string) {
  const row = await app!.waitFor(`/ServiceInstances(${ID})`, stateIs('Ready', 'Failed'), 15_000)
  expect(row).toMatchObject({ state_code: 'Ready', lastError: null })
  const inSm = await smInstancesNamed(name)
  expect(inSm).toHaveLength(1)
  expect(inSm[0].id).toBe(row.smId)
  expect(recordOf(inSm[0])).toBe(ID)
  expect(inSm[0].ready).toBe(true)
  return row
}

describe('a process killed in the middle of a step resumes after a restart on the same database', () => {
  test('killed after the record, before the SM call (token request in flight): one instance, Ready', async () => {
    // a fresh process has no token yet: its first SM call waits for the (slow) token endpoint
    await emu.addFault({ method: 'POST', path: '/oauth/token', delayResponseMs: 60_000 })
    const { ID } = await create('crash-before-call')
    await emu.waitForCall(c => c.path === '/oauth/token', 'the token request')
    await app!.kill()
    expect(await smInstancesNamed('crash-before-call')).toHaveLength(0)
    expect(await postsNamed('crash-before-call')).toHaveLength(0)

    await restart()
    await expectOneInSm('crash-before-call', ID)
    expect(await postsNamed('crash-before-call')).toHaveLength(1)
  })
})
