/**
 * Time to settle after a crash, with the reconciler's default settings (lease, poll interval, back-off):
 *  (a) one app on SQLite, killed (SIGKILL) while instances and keys are being created and deleted, restarted on
 *      the same database: from the restarted process listening to every object settled;
 *  (b) two apps on one PostgreSQL database, one killed in the same way and not restarted: from the kill to
 *      every object settled by the survivor (it takes the dead process's objects over when their leases lapse).
 * SM operations take 300-1000 ms in the emulator. Prints the figures; the goal is at most 15 s.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PLANS, SUB1 } from '../test/helpers'
import { postgresDatabase } from '../test/fixtures/postgres'
import { AppProcess, EmulatorProcess, deploy, stopAll, type AppConfig } from '../test/resilience/support'
import { settled, type Api } from '../test/reconciler/workload'
import { fmt, pool, sleep } from './lib'

export interface SettleResult {
  sqliteMs: number[]
  postgresMs: number[]
  objects: number
}

const api = (app: () => AppProcess): Api => ({
  get: p => app().get(p),
  post: (p, b) => app().post(p, b),
  delete: p => app().delete(p)
})

/** Creates `pairs` instances with a key each, and deletes every third instance right away. */
async function workload(app: AppProcess, round: string, pairs: number) {
  await pool(pairs, 8, async i => {
    const inst = await app.post<{ ID: string }>('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: `settle-${round}-${i}` })
    if (inst.status !== 201) throw new Error(`create: ${inst.status} ${JSON.stringify(inst.data)}`)
    await app.post('/ServiceKeys', { instance_ID: inst.data.ID, name: `settle-${round}-${i}-key` })
    if (i % 3 === 0) await app.delete(`/ServiceInstances(${inst.data.ID})`)
  })
}

export async function settleBench(opts: { pairs: number; rounds: number }): Promise<SettleResult> {
  const emu = await EmulatorProcess.start('bench-settle-emulator', { operationMs: 300, operationMaxMs: 1000 })
  const result: SettleResult = { sqliteMs: [], postgresMs: [], objects: opts.pairs * 2 }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skm-settle-'))
  try {
    // (a) SQLite: kill and restart on the same database
    const cfg: AppConfig = { db: { kind: 'sqlite', credentials: { url: path.join(dir, 'db.sqlite') } }, emulator: emu, serviceManager: { limits: false } }
    await deploy(cfg)
    let app = await AppProcess.start('bench-settle-sqlite', cfg)
    for (let r = 0; r < opts.rounds; r++) {
      await workload(app, `s${r}`, opts.pairs)
      await sleep(500) // SM is busy with most of them now
      await app.kill()
      app = await AppProcess.start('bench-settle-sqlite', cfg)
      const current = app
      result.sqliteMs.push(await settled(api(() => current), 120_000))
    }
    await app.stop()

    // (b) PostgreSQL: two processes, one killed for good
    const database = postgresDatabase(`skm_settle_${process.pid}`)
    await database.create()
    const pg: AppConfig = {
      db: { kind: 'postgres', credentials: database.credentials, pool: { max: 20, acquireTimeoutMillis: 30_000 } },
      emulator: emu,
      serviceManager: { limits: false }
    }
    try {
      await deploy(pg)
      for (let r = 0; r < opts.rounds; r++) {
        const [victim, survivor] = await Promise.all([AppProcess.start('bench-settle-pg-a', pg), AppProcess.start('bench-settle-pg-b', pg)])
        await Promise.all([workload(victim, `p${r}a`, opts.pairs / 2), workload(survivor, `p${r}b`, opts.pairs / 2)])
        await sleep(500)
        await victim.kill()
        const killed = Date.now()
        await settled(api(() => survivor), 120_000)
        result.postgresMs.push(Date.now() - killed)
        await survivor.stop()
      }
    } finally {
      await database.drop().catch(() => undefined)
    }
  } finally {
    await stopAll()
    rmSync(dir, { recursive: true, force: true })
  }
  const line = (ms: number[]) => ms.map(m => `${fmt(m / 1000, 1)} s`).join(', ')
  console.log(`settle after a crash (${result.objects} objects per round): SQLite restart ${line(result.sqliteMs)}; PostgreSQL takeover ${line(result.postgresMs)}`)
  return result
}
