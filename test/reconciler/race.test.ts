/**
 * Race suite: user requests against objects whose Service Manager operations are still running (100-1000 ms
 * each), for every ordered pair of (create instance, create key, delete key, delete instance, rotate) at
 * random offsets. The last intent always wins, and Service Manager holds exactly the objects that should exist.
 *
 * RACE_SEED replays a run (the seed is printed); RACE_INTERLEAVINGS makes a larger run (default 200).
 */
import { API, quietFor } from '../helpers'
import { useApp } from '../support/app'
import { Interleaving, PAIRS, plan, runAll, seedFrom, settled, violations, type Api } from './workload'

// set before anything loads the app's modules (srv/ is imported dynamically below), so cds.env sees it
process.env.CDS_CONFIG = JSON.stringify({
  requires: { 'service-manager': { emulator: { operationMs: 100, operationMaxMs: 1000 }, limits: false } },
  provisioning: { pollInitial: '100ms', pollMax: '500ms', retryMax: '1s', rotationOverlap: '300ms' }
})
const { admin, emu } = useApp()
afterAll(() => delete process.env.CDS_CONFIG)

const SEED = seedFrom(process.env.RACE_SEED)
const COUNT = Number(process.env.RACE_INTERLEAVINGS ?? 200)

jest.setTimeout(240_000)

test(`${COUNT} random interleavings of every pair of user requests end as the last intent says (seed ${SEED})`, async () => {
  console.log(`race suite: seed ${SEED}, ${COUNT} interleavings (replay with RACE_SEED=${SEED})`)
  const api: Api = { get: p => admin.get(`${API}${p}`), post: (p, b) => admin.post(`${API}${p}`, b), delete: p => admin.delete(`${API}${p}`) }
  const runs = plan(COUNT, SEED, 1200).map((p, n) => new Interleaving(`race${n}`, p.pair, p.offsets, api))
  expect(new Set(runs.map(r => r.pair.join('/'))).size).toBe(Math.min(COUNT, PAIRS.length))

  // while it runs: no object is transitional without a live lease or a scheduled attempt
  const strandedSeen: string[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const now = new Date().toISOString()
      for (const entity of ['btp.provisioning.ServiceInstances', 'btp.provisioning.ServiceKeys']) {
        const rows = await SELECT.from(entity)
          .columns('ID', 'state_code', 'generation', 'observedGeneration')
          .where`(state_code in ('Creating', 'Deleting') or generation <> observedGeneration) and reconcileAt is null and (leaseUntil is null or leaseUntil < ${now})`
        strandedSeen.push(...rows.map((r: { ID: string; state_code: string }) => `${entity} ${r.ID} ${r.state_code}`))
      }
      await quietFor(250)
    }
  })()
  expect(await runAll(runs, 25)).toEqual([])
  const settleMs = await settled(api, 180_000)
  sampling = false
  await sampler
  expect(strandedSeen).toEqual([])

  const record = (o: { id: string; labels?: Record<string, string[]> }) => ({ id: o.id, record: o.labels?.skm_id?.[0] })
  const problems = await violations(api, runs, { instances: emu.instances().map(record), bindings: emu.bindings().map(record) })
  if (problems.length) console.log(`seed ${SEED}:\n${problems.join('\n')}\n${runs.map(r => `${r.name} ${r.pair.join('/')} ${r.offsets.join('/')}: ${r.log.join('; ')}`).join('\n')}`)
  expect(problems).toEqual([])

  // the workload did race: deletes met creates still running, and some rotations were accepted
  const log = runs.flatMap(r => r.log)
  expect(log.filter(l => l.startsWith('delete instance -> 204')).length).toBeGreaterThan(COUNT / 10)
  expect(log.filter(l => l.startsWith('rotate -> 200')).length).toBeGreaterThan(0)
  console.log(`race suite: ${COUNT} interleavings, ${log.length} requests, settled ${settleMs} ms after the last`)
})
