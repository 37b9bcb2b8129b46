/**
 * The race workload of the reconciler suites: on one instance with one key, two user requests out of
 * (create instance, create key, delete key, delete instance, rotate) arrive at random offsets while Service
 * Manager operations take their time. Every request the service accepted is an intent; at the end the records
 * and Service Manager must hold exactly what the last intents ask for.
 *
 * Randomness is seeded (the suites print the seed): the same seed replays the same pairs and offsets.
 */
import { PLANS, SUB1 } from '../helpers'
import { eventually } from '../support/eventually'

export type Op = 'createInstance' | 'createKey' | 'deleteKey' | 'deleteInstance' | 'rotate'
export const OPS: Op[] = ['createInstance', 'createKey', 'deleteKey', 'deleteInstance', 'rotate']

/** Every ordered pair of operations, the same operation twice included. */
export const PAIRS: [Op, Op][] = OPS.flatMap(a => OPS.map(b => [a, b] as [Op, Op]))

export interface Answer {
  status: number
  data: any
}

/** OData calls relative to the service path (/odata/v4/provisioning), as the admin. */
export interface Api {
  get(path: string): Promise<Answer>
  post(path: string, body: unknown): Promise<Answer>
  delete(path: string): Promise<Answer>
}

/** mulberry32: a small seeded generator, good enough to pick pairs and offsets. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const seedFrom = (env: string | undefined) => (env ? Number(env) : Math.floor(Math.random() * 2 ** 31))

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

interface InstanceIntent {
  ID: string
  wanted: boolean
}

interface KeyIntent {
  ID: string
  instance: string
  wanted: boolean
  /** the key this one replaces (rotation) */
  rotatedFrom?: string
}

/**
 * One interleaving. `send` makes one request and returns the service's definite answer; a caller whose
 * requests may be lost (the kill suite) repeats them there until it has one.
 */
export class Interleaving {
  readonly instances: InstanceIntent[] = []
  readonly keys: KeyIntent[] = []
  readonly log: string[] = []
  private names = 0

  constructor(
    readonly name: string,
    readonly pair: [Op, Op],
    readonly offsets: [number, number],
    private readonly api: Api
  ) {}

  async run() {
    const base = await this.createInstance()
    if (!base) throw new Error(`${this.name}: the base instance was refused`)
    await this.createKey()
    await sleep(this.offsets[0])
    await this.apply(this.pair[0])
    await sleep(this.offsets[1])
    await this.apply(this.pair[1])
  }

  private apply(op: Op) {
    switch (op) {
      case 'createInstance':
        return this.createInstance()
      case 'createKey':
        return this.createKey()
      case 'deleteKey':
        return this.deleteKey()
      case 'deleteInstance':
        return this.deleteInstance()
      case 'rotate':
        return this.rotate()
    }
  }

  private note(what: string, res: Answer) {
    this.log.push(`${what} -> ${res.status}${res.data?.error?.code ? ` ${res.data.error.code}` : ''}`)
  }

  private latestInstance() {
    return this.instances.filter(i => i.wanted).at(-1)
  }

  private latestKey() {
    return this.keys.filter(k => k.wanted).at(-1)
  }

  private async createInstance() {
    const res = await this.api.post('/ServiceInstances', {
      subaccount_ID: SUB1,
      plan_ID: PLANS.sub1.xsuaaApplication,
      name: `${this.name}-i${this.names++}`
    })
    this.note('create instance', res)
    if (res.status !== 201) return undefined
    const intent = { ID: res.data.ID as string, wanted: true }
    this.instances.push(intent)
    return intent
  }

  private async createKey() {
    const inst = this.latestInstance()
    if (!inst) return
    const res = await this.api.post('/ServiceKeys', { instance_ID: inst.ID, name: `${this.name}-k${this.names++}` })
    this.note('create key', res)
    if (res.status === 201) this.keys.push({ ID: res.data.ID, instance: inst.ID, wanted: true })
  }

  private async deleteKey() {
    const key = this.latestKey()
    if (!key) return
    const res = await this.api.delete(`/ServiceKeys(${key.ID})`)
    this.note('delete key', res)
    if (res.status === 204) key.wanted = false
  }

  private async deleteInstance() {
    const inst = this.latestInstance()
    if (!inst) return
    const res = await this.api.delete(`/ServiceInstances(${inst.ID})`)
    this.note('delete instance', res)
    if (res.status !== 204) return
    inst.wanted = false
    for (const k of this.keys) if (k.instance === inst.ID) k.wanted = false
  }

  private async rotate() {
    const key = this.latestKey()
    if (!key) return
    const res = await this.api.post(`/ServiceKeys(${key.ID})/rotate`, {})
    this.note('rotate', res)
    // a key that is not Ready yet cannot be rotated (422): no intent
    if (res.status === 200) this.keys.push({ ID: res.data.ID, instance: key.instance, wanted: true, rotatedFrom: key.ID })
  }
}

export interface Expectation {
  /** records that must end Ready, and the Service Manager objects that must exist for them */
  present: { instances: Set<string>; keys: Set<string> }
  absent: { instances: Set<string>; keys: Set<string> }
}

/**
 * What the intents ask for. A rotation replaces its old key once the successor works: the old key goes
 * when the successor took over (the record says so in `retireAt`), and stays while it did not.
 */
export function expectedOf(runs: Interleaving[], retired: Set<string>): Expectation {
  const e: Expectation = { present: { instances: new Set(), keys: new Set() }, absent: { instances: new Set(), keys: new Set() } }
  for (const run of runs) {
    for (const i of run.instances) (i.wanted ? e.present : e.absent).instances.add(i.ID)
    for (const k of run.keys) (k.wanted && !retired.has(k.ID) ? e.present : e.absent).keys.add(k.ID)
  }
  return e
}

/** Picks `count` interleavings covering every pair round-robin, with offsets up to `maxOffsetMs`. */
export function plan(count: number, seed: number, maxOffsetMs: number) {
  const random = seeded(seed)
  return Array.from({ length: count }, (_, n) => ({
    pair: PAIRS[n % PAIRS.length],
    offsets: [Math.floor(random() * maxOffsetMs), Math.floor(random() * maxOffsetMs)] as [number, number]
  }))
}

interface RecordRow {
  ID: string
  state_code: string
  smId?: string | null
  retireAt?: string | null
  lastError?: string | null
}

async function readAll(api: Api, entity: string): Promise<RecordRow[]> {
  const rows: RecordRow[] = []
  for (let skip = 0; ; skip += 1000) {
    const res = await api.get(`/${entity}?$select=ID,state_code,smId,lastError${entity === 'ServiceKeys' ? ',retireAt' : ''}&$orderby=ID&$top=1000&$skip=${skip}`)
    if (res.status !== 200) throw new Error(`Reading ${entity}: ${res.status} ${JSON.stringify(res.data)}`)
    rows.push(...(res.data.value as RecordRow[]))
    if (res.data.value.length < 1000) return rows
  }
}

/** Waits until no record is transitional and none is due (retirements still to come count as due). */
export async function settled(api: Api, timeoutMs: number): Promise<number> {
  const started = Date.now()
  const open = `$filter=${encodeURIComponent("reconcileAt ne null or state_code eq 'Creating' or state_code eq 'Deleting'")}&$count=true&$top=0`
  const count = (e: string) => api.get(`/${e}?${open}`).then(r => (r.status === 200 ? (r.data['@odata.count'] as number) : `${r.status} ${JSON.stringify(r.data)}`))
  await eventually(() => Promise.all(['ServiceInstances', 'ServiceKeys'].map(count)), {
    what: 'no instance or key transitional or due',
    until: counts => counts.every(c => c === 0),
    timeout: timeoutMs,
    interval: 200
  })
  return Date.now() - started
}

/** An object in Service Manager as far as the check needs it: its id and the record it belongs to. */
export interface SmObject {
  id: string
  record?: string
}

/**
 * The invariant: every record ends in what its last intent asks for (Ready or Deleted, never Failed or
 * transitional), and Service Manager holds exactly one object for each Ready record and none for the others.
 * Returns the violations (empty when all holds).
 */
export async function violations(api: Api, runs: Interleaving[], sm: { instances: SmObject[]; bindings: SmObject[] }): Promise<string[]> {
  const [instances, keys] = await Promise.all([readAll(api, 'ServiceInstances'), readAll(api, 'ServiceKeys')])
  const retired = new Set(keys.filter(k => k.retireAt).map(k => k.ID))
  const expected = expectedOf(runs, retired)
  const problems: string[] = []
  const check = (what: string, rows: RecordRow[], present: Set<string>, absent: Set<string>, remote: SmObject[]) => {
    const byId = new Map(rows.map(r => [r.ID, r]))
    const held = new Map<string, number>()
    for (const o of remote) if (o.record) held.set(o.record, (held.get(o.record) ?? 0) + 1)
    for (const ID of present) {
      const row = byId.get(ID)
      if (row?.state_code !== 'Ready') problems.push(`${what} ${ID} should be Ready, is ${row?.state_code} ${row?.lastError ?? ''}`)
      if (held.get(ID) !== 1) problems.push(`${what} ${ID} should be in SM once, is there ${held.get(ID) ?? 0} times`)
    }
    for (const ID of absent) {
      const row = byId.get(ID)
      if (row?.state_code !== 'Deleted') problems.push(`${what} ${ID} should be Deleted, is ${row?.state_code} ${row?.lastError ?? ''}`)
      if (held.has(ID)) problems.push(`${what} ${ID} should be gone from SM, is there ${held.get(ID)} times`)
    }
    const known = new Set([...present, ...absent])
    for (const o of remote) if (o.record && !known.has(o.record) && byId.has(o.record)) problems.push(`${what} ${o.record} is in SM without an intent`)
  }
  check('instance', instances, expected.present.instances, expected.absent.instances, sm.instances)
  check('key', keys, expected.present.keys, expected.absent.keys, sm.bindings)
  return problems
}

/** Runs interleavings `parallel` at a time. */
export async function runAll(runs: Interleaving[], parallel: number) {
  const queue = [...runs]
  const failures: string[] = []
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let run = queue.shift(); run; run = queue.shift()) {
        try {
          await run.run()
        } catch (e) {
          failures.push(`${run.name}: ${(e as Error).message}`)
        }
      }
    })
  )
  return failures
}
