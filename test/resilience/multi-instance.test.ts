/**
 * Several app instances on one database: two app processes on one PostgreSQL database (the reconciler's leases
 * on each object keep them from running the same step twice) and one shared standalone emulator.
 * 200 concurrent creates spread over both; every record must end Ready with exactly one SM instance, no
 * POST may be sent twice for one record, and both processes must have done part of the work.
 *
 * PostgreSQL comes from scripts/ensure-postgres.sh (starts or installs it when nothing listens on
 * 127.0.0.1:5432). When it cannot be made available, this suite fails; it never skips.
 */
import { PLANS, SUB1, eventually } from '../helpers'
import { PG } from '../fixtures/postgres'
import { INSTANCES, recordOf, run, type AppProcess, type Answer } from './support'
import { useTwoApps } from './apps'

const COUNT = 200

jest.setTimeout(180_000)

// SM's limits stay on (50 instance creates per minute and process), with a 2-second "minute"
const { apps, emu, database, keepCalls } = useTwoApps('multi', { emulator: { operationMs: 300 }, serviceManager: { limits: { minuteMs: 2_000 } } })

async function countIn(app: AppProcess, filter: string): Promise<number> {
  const res = await app.get(`/ServiceInstances?$filter=${encodeURIComponent(filter)}&$count=true&$top=0`)
  if (res.status !== 200) throw new Error(`count failed: ${res.status} ${JSON.stringify(res.data)}`)
  return res.data['@odata.count']
}

describe('two app processes on one PostgreSQL database', () => {
  test(`${COUNT} concurrent creates over both: all Ready, one SM instance each, no POST twice, both did work`, async () => {
    const names = Array.from({ length: COUNT }, (_, i) => `multi-${String(i).padStart(3, '0')}`)
    const started = Date.now()
    const answers: Answer[] = await Promise.all(
      names.map((name, i) => apps[i % 2].post('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name }))
    )
    const acceptedMs = Date.now() - started
    const rejected = answers.filter(a => a.status !== 201)
    expect(rejected.map(a => `${a.status} ${JSON.stringify(a.data)}`)).toEqual([])
    const ids = new Set(answers.map(a => a.data.ID as string))
    expect(ids.size).toBe(COUNT)

    // both processes see the same database: wait until every record has left Creating
    await eventually(() => countIn(apps[Date.now() % 2], `state_code eq 'Creating'`), { what: 'no record Creating', until: n => n === 0, timeout: 150_000, interval: 500 })
    const tookMs = Date.now() - started
    expect(await countIn(apps[0], `state_code eq 'Failed'`)).toBe(0)
    expect(await countIn(apps[1], `state_code eq 'Ready'`)).toBe(COUNT)

    const state = await emu.state()
    keepCalls(state.calls, started)
    // SM: exactly one instance per record, no name twice
    const ours = state.instances.filter(i => ids.has(recordOf(i) ?? ''))
    expect(ours).toHaveLength(COUNT)
    expect(new Set(ours.map(i => i.name)).size).toBe(COUNT)
    expect(new Set(ours.map(i => recordOf(i))).size).toBe(COUNT)
    expect(state.instances.filter(i => i.name.startsWith('multi-'))).toHaveLength(COUNT)
    expect(ours.every(i => i.ready)).toBe(true)

    // the records point at them
    const rows: { ID: string; smId: string }[] = (await apps[0].get(`/ServiceInstances?$select=ID,smId&$filter=startswith(name,'multi-')&$top=1000`)).data.value
    const smIdOf = new Map(ours.map(i => [recordOf(i), i.id]))
    expect(rows.filter(r => smIdOf.get(r.ID) !== r.smId)).toEqual([])

    // no POST twice for one record (label skm_id), and no other retry either: every POST answered 202
    const posts = state.calls.filter(c => c.method === 'POST' && c.path === INSTANCES)
    const postsPerRecord = new Map<string, number>()
    for (const c of posts) {
      const rec = c.body?.labels?.skm_id?.[0] as string
      postsPerRecord.set(rec, (postsPerRecord.get(rec) ?? 0) + 1)
    }
    expect([...postsPerRecord.entries()].filter(([, n]) => n > 1)).toEqual([])
    expect(postsPerRecord.size).toBe(COUNT)
    expect(posts.filter(c => c.status !== 202)).toEqual([])

    // both processes did work: each has its own SM client (X-CorrelationID) for the subaccount
    const perProcess = new Map<string, number>()
    for (const c of posts) perProcess.set(String(c.correlationId), (perProcess.get(String(c.correlationId)) ?? 0) + 1)
    const shares = [...perProcess.values()].sort((a, b) => a - b)
    expect(shares).toHaveLength(2)
    expect(shares[0]).toBeGreaterThan(0)
    // the polls too, and steps changed hands: some operations were polled by both processes
    const polls = state.calls.filter(c => c.method === 'GET' && /^\/v1\/service_instances\/[^/]+\/operations\//.test(c.path))
    const pollersPerOp = new Map<string, Set<string>>()
    for (const c of polls) {
      const set = pollersPerOp.get(c.path) ?? new Set<string>()
      set.add(String(c.correlationId))
      pollersPerOp.set(c.path, set)
    }
    expect(new Set(polls.map(c => c.correlationId)).size).toBe(2)

    // every operation succeeded at its first attempt
    const ops = await apps[0].get(`/Operations?$filter=${encodeURIComponent(`type eq 'create' and targetType eq 'instance'`)}&$select=state_code,attempts&$top=1000`)
    expect(ops.data.value).toHaveLength(COUNT)
    expect(ops.data.value.filter((o: any) => o.state_code !== 'succeeded' || o.attempts !== 0)).toEqual([])

    // at rest: nothing due, no lease held, every generation concluded
    const left = await run('psql', ['-h', PG.host, '-p', String(PG.port), '-U', PG.user, '-d', database, '-qAt', '-c',
      `select count(*) from btp_provisioning_ServiceInstances where reconcileAt is not null or leaseOwner is not null or generation <> observedGeneration`])
    expect(left.trim()).toBe('0')

    const handedOver = [...pollersPerOp.values()].filter(s => s.size > 1).length
    console.log(
      `${COUNT} creates accepted in ${acceptedMs} ms, all Ready after ${tookMs} ms; POSTs per process: ${shares.join(' / ')}; ` +
        `${polls.length} polls, ${handedOver} operations polled by both processes`
    )
  })
})
