/**
 * The app processes of the resilience suites as hooks of a suite: started before its first test, stopped after
 * its last, held in consts that always reach the current process.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { RecordedCall } from '../../emulator/types'
import { postgresDatabase } from '../fixtures/postgres'
import { AppProcess, EmulatorProcess, LOG_DIR, deploy, stopAll, type AppConfig } from './support'

/** A stand-in for what `current()` answers when it is used: a const a suite holds before it exists and after it was replaced. */
function standIn<T extends object>(current: () => T | undefined, what: string): T {
  const target = () => {
    const value = current()
    if (!value) throw new Error(`${what} has not started: it starts before the first test`)
    return value
  }
  return new Proxy({} as T, {
    get: (_, name) => {
      const value: unknown = Reflect.get(target(), name)
      return typeof value === 'function' ? value.bind(target()) : value
    }
  })
}

/**
 * An app process on a SQLite file against a standalone emulator, for a suite that kills it and starts it again on
 * the same database while the emulator keeps its state. The first process runs with `provisioning`
 * (cds.provisioning); `restart` starts the next one, which `app` then reaches. The database is removed at the
 * end (kept with KEEP_TEST_DB).
 */
export function useRestartableApp(name: string, provisioning: Record<string, unknown>) {
  let emu: EmulatorProcess | undefined
  let app: AppProcess | undefined
  let cfg: AppConfig
  let dir: string | undefined
  let generation = 0

  /** Starts the next app process on the same database and emulator, with `settings` as cds.provisioning. */
  const restart = async (settings = provisioning) => {
    app = await AppProcess.start(`${name}-app-${++generation}`, { ...cfg, provisioning: settings })
    return app
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), `skm-${name}-`))
    emu = await EmulatorProcess.start(`${name}-emulator`)
    cfg = { db: { kind: 'sqlite', credentials: { url: path.join(dir, 'db.sqlite') } }, emulator: emu, provisioning }
    await deploy(cfg)
    await restart()
  }, 120_000)

  afterAll(async () => {
    await stopAll()
    if (dir && !process.env.KEEP_TEST_DB) rmSync(dir, { recursive: true, force: true })
  })

  return { app: standIn(() => app, 'the app'), emu: standIn(() => emu, 'the emulator'), restart }
}

export interface TwoAppsOptions {
  /** the standalone emulator's options */
  emulator?: Parameters<typeof EmulatorProcess.start>[1]
  /** more of cds.requires['service-manager'] (its `limits`) */
  serviceManager?: Record<string, unknown>
}

/**
 * Two app processes on one PostgreSQL database of the suite's own (`skm_<name>_apps_<pid>`, dropped at the end)
 * and one standalone emulator: the app instances of one deployment. `apps` holds both once they run.
 */
export function useTwoApps(name: string, options: TwoAppsOptions = {}) {
  const pg = postgresDatabase(`skm_${name}_apps_${process.pid}`)
  let emu: EmulatorProcess | undefined
  const apps: AppProcess[] = []

  beforeAll(async () => {
    await pg.create()
    emu = await EmulatorProcess.start(`${name}-emulator`, options.emulator)
    const cfg: AppConfig = {
      db: {
        kind: 'postgres',
        credentials: pg.credentials,
        // each process takes part of the concurrent requests plus its reconciler's work: wait for a connection
        // rather than fail after @cap-js/postgres's default acquire timeout of 1 s
        pool: { max: 20, acquireTimeoutMillis: 30_000 }
      },
      emulator: emu,
      serviceManager: options.serviceManager,
      // a pass looks at most pollSlice at an SM operation, then comes back later: the next pass may well run in
      // the other process
      provisioning: { pollInitial: '100ms', pollMax: '500ms', pollSlice: '200ms', retryMax: '2s' }
    }
    await deploy(cfg)
    apps.push(...(await Promise.all([AppProcess.start(`${name}-app-1`, cfg), AppProcess.start(`${name}-app-2`, cfg)])))
  }, 15 * 60_000)

  afterAll(async () => {
    await stopAll()
    await pg.drop()
  }, 60_000)

  return {
    apps,
    emu: standIn(() => emu, 'the emulator'),
    database: pg.database,
    /** Keeps the emulator's calls, their times from `since`, in test-output/resilience/<name>-calls.json. */
    keepCalls: (calls: RecordedCall[], since: number) => {
      mkdirSync(LOG_DIR, { recursive: true })
      writeFileSync(path.join(LOG_DIR, `${name}-calls.json`), JSON.stringify(calls.map(c => ({ ...c, at: c.at - since }))))
    }
  }
}
