import cds from '@sap/cds'
import os from 'node:os'
import { clientFor, clientForSubaccount, config as smConfig, embeddedEmulator, ServiceManagerAccessError } from './service-manager/kinds'
import { ServiceManagerError, retryDelay } from './service-manager/errors'
import type { ServiceManagerClient } from './service-manager/client'
import { settings } from './lib/config'
import { credentialMetadataColumns } from './lib/key-columns'
import { parseJsonObject } from './lib/naming'
import { fetchToken, saveVerification, type TokenCheck } from './verification'
import { scanExpiry } from './key-health'

const LOG = cds.log('orchestrator')

export const MANAGED_BY = 'service-key-manager'
export const LABEL_MANAGED_BY = 'managed_by'
export const LABEL_RECORD = 'skm_id'

/** The two kinds of managed objects, by entity. */
export type Kind = 'ServiceInstances' | 'ServiceKeys'
const KINDS: Kind[] = ['ServiceInstances', 'ServiceKeys']
const TARGET: Record<Kind, { targetType: string; ref: string }> = {
  ServiceInstances: { targetType: 'instance', ref: 'instance_ID' },
  ServiceKeys: { targetType: 'serviceKey', ref: 'serviceKey_ID' }
}

/** A managed object as the reconciler reads it (instance or key). */
interface Managed {
  ID: string
  name: string
  state_code: string
  desired: 'present' | 'absent'
  generation: number
  observedGeneration: number
  smId?: string | null
  smOperation?: string | null
  lastOperation_ID?: string | null
  lastError?: string | null
  attempts?: number | null
  parameters?: unknown
  // instances
  subaccount_ID?: string
  plan_ID?: string
  // keys
  instance_ID?: string
  certificate_ID?: string | null
  rotatedFrom_ID?: string | null
  retireAt?: string | null
  reconcileAt?: string | null
  leaseOwner?: string | null
}

interface OperationRow {
  ID: string
  type: string
  state_code: string
  startedAt?: string | null
  deadline?: string | null
  attempts?: number | null
}

type Json = Record<string, unknown>

/**
 * What one pass over an object ends with: its state is final for the generation it worked on (`settle`), or it
 * comes back later (`later`: the SM operation is still running, the rate limits say wait, a retry).
 */
type Outcome =
  | { settle: { state: string; lastError?: string | null; data?: Json }; after?: (tx: cds.Transaction) => Promise<void> }
  | { later: number; error?: string; attempt?: boolean }

/** A step ended for good with a message for the user. */
class StepFailed extends Error {}
/** Another process took the object over (our lease lapsed): stop without writing anything. */
class LeaseLost extends Error {}
/** The user changed the object while we worked on it: read it again and go on from there. */
class Superseded extends Error {}

/**
 * A step does not wait longer than this for the rate limits while it holds a lease: it comes back when its
 * turn is expected (booked in the rate budget).
 */
const DEFER_BEYOND_MS = 1500
/** A deferred step comes back this much before its turn. */
const DEFER_LEAD_MS = 250

const db = () => cds.entities('btp.provisioning')
const now = () => new Date().toISOString()
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()

/** This process, as it signs its leases. */
const OWNER = `${os.hostname().slice(0, 30)}:${process.pid}:${cds.utils.uuid().slice(0, 8)}`

/**
 * The reconciler. Users change the desired state of instances and keys (present/absent, a generation bumped by
 * every change, an Operations row saying who asked); this service brings each object one idempotent step closer
 * to it and concludes a generation only while that generation is still current (compare-and-set on
 * `generation`), so the last intent always wins: a create that finishes after a delete was asked for goes on to
 * delete.
 *
 * Work distribution: an object is due when `reconcileAt` has come. A process takes a due object with a lease
 * (a conditional update of `leaseOwner`/`leaseUntil`, atomic on SQLite, PostgreSQL and HANA alike), renews it
 * while it works, and releases it with its result. When a process dies, its leases lapse within
 * `cds.provisioning.lease` and any process takes the objects over. Every step is safe to repeat: before a POST
 * is repeated, our object is looked up by its labels; 404 on delete means done.
 *
 * Invariant: an object whose state is not final for its generation has `reconcileAt` set (a scheduled attempt)
 * or a live lease. Errors that retrying cannot fix, a passed deadline, or repeated unexpected errors end in
 * Failed with a message.
 */
export class Orchestrator extends cds.Service {
  private timer?: NodeJS.Timeout
  private timerAt = Infinity
  private ticking = false
  private tickAgain = false
  private stopped = false
  private readonly active = new Set<string>()
  private readonly running = new Set<Promise<void>>()
  private lastTickError = 0

  async init() {
    this.on('scanExpiry', () => scanExpiry())
    cds.once('served', async () => {
      if (smConfig().kind === 'emulator') await embeddedEmulator() // up before the first step needs it
      await this.takeOverFromPredecessor().catch(e => LOG.error('Taking over leases failed', e))
      this.wake()
    })
    cds.once('shutdown', () => this.stop())
    return super.init()
  }

  /**
   * SQLite serves one process only: leases left in its database belong to a process that ended (a crash, a
   * kill), so a restarted process takes their objects over at once instead of waiting for the leases to lapse.
   */
  private async takeOverFromPredecessor() {
    if ((cds.env.requires as unknown as { db?: { kind?: string } }).db?.kind !== 'sqlite') return
    await cds.tx(async () => {
      for (const kind of KINDS) await UPDATE(db()[kind]).set({ leaseOwner: null, leaseUntil: null }).where`leaseOwner is not null`
      await UPDATE(db().Duties).set({ leaseOwner: null, leaseUntil: null }).where`leaseOwner is not null`
    })
  }

  /** Look for due work now (after a user's change in this process). */
  wake() {
    this.wakeIn(0)
  }

  /** Stops taking new work; resolves when the objects being worked on are done. */
  async stop() {
    this.stopped = true
    clearTimeout(this.timer)
    await Promise.allSettled([...this.running])
  }

  private wakeIn(ms: number) {
    if (this.stopped) return
    const at = Date.now() + Math.max(0, ms)
    if (this.timer && this.timerAt <= at) return
    clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      void this.tick()
    }, Math.max(0, ms)).unref()
  }

  private async tick() {
    if (this.ticking) {
      this.tickAgain = true
      return
    }
    this.ticking = true
    try {
      do {
        this.tickAgain = false
        await this.takeDueWork()
        await this.runDueDuties()
      } while (this.tickAgain && !this.stopped)
      // the next object due (e.g. a create deferred to its turn in the rate limits) is looked at on time
      const next = await this.nextDue()
      if (next !== undefined) this.wakeIn(next - Date.now())
    } catch (e) {
      // e.g. the database is not there yet (deploy order): tried again at the next poll
      if (Date.now() - this.lastTickError > 60_000) LOG.error('Looking for due work failed; trying again', e)
      this.lastTickError = Date.now()
    } finally {
      this.ticking = false
      this.wakeIn(settings().reconcilePollMs)
    }
  }

  /** When the next object not yet due becomes due (any process may have scheduled it). */
  private async nextDue(): Promise<number | undefined> {
    const t = now()
    const times = await cds.tx(async () => {
      const found: number[] = []
      for (const kind of KINDS) {
        const row = (await SELECT.one.from(db()[kind]).columns('reconcileAt').where`reconcileAt > ${t}`.orderBy('reconcileAt')) as
          | { reconcileAt?: string }
          | undefined
        if (row?.reconcileAt) found.push(Date.parse(row.reconcileAt))
      }
      return found
    })
    return times.length ? Math.min(...times) : undefined
  }

  /** Takes due objects under a lease, as many as this process has room for, and works on each. */
  private async takeDueWork() {
    const { reconcileConcurrency, leaseMs } = settings()
    const room = reconcileConcurrency - this.active.size
    if (room <= 0 || this.stopped) return
    const t = now()
    // the longest due first, whatever their kind (a key woken by its instance does not wait behind instances)
    const due = (
      await cds.tx(async () => {
        const found: { kind: Kind; ID: string; reconcileAt: string }[] = []
        for (const kind of KINDS) {
          const rows = (await SELECT.from(db()[kind])
            .columns('ID', 'reconcileAt')
            .where`reconcileAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`
            .orderBy('reconcileAt')
            .limit(room)) as { ID: string; reconcileAt: string }[]
          found.push(...rows.map(r => ({ kind, ID: r.ID, reconcileAt: new Date(r.reconcileAt).toISOString() })))
        }
        return found
      })
    )
      .sort((a, b) => (a.reconcileAt < b.reconcileAt ? -1 : a.reconcileAt > b.reconcileAt ? 1 : 0))
      .slice(0, room)
    for (const { kind, ID } of due) {
      if (this.active.size >= reconcileConcurrency || this.stopped) return
      const id = `${kind}/${ID}`
      if (this.active.has(id)) continue
      const taken = await cds.tx(() =>
        UPDATE(db()[kind])
          .set({ leaseOwner: OWNER, leaseUntil: inMs(leaseMs) })
          .where`ID = ${ID} and reconcileAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`
      )
      if (!taken) continue // another process was quicker
      this.active.add(id)
      const work = this.work(kind, ID).finally(() => {
        this.active.delete(id)
        this.running.delete(work)
        this.wake()
      })
      this.running.add(work)
    }
  }

  /** Works on one object under our lease until it is settled or comes back later. */
  private async work(kind: Kind, ID: string) {
    const { leaseMs } = settings()
    const renew = setInterval(() => {
      cds
        .tx(() => UPDATE(db()[kind]).set({ leaseUntil: inMs(leaseMs) }).where({ ID, leaseOwner: OWNER }))
        .catch(e => LOG.warn('Renewing a lease failed', e))
    }, Math.max(200, Math.floor(leaseMs / 3))).unref()
    try {
      for (let pass = 0; pass < 20; pass++) {
        try {
          await this.pass(kind, ID)
          return
        } catch (e) {
          if (e instanceof Superseded) continue // the user changed it meanwhile: look again at once
          throw e
        }
      }
      await this.release(kind, ID, { reconcileAt: now() })
    } catch (e) {
      if (e instanceof LeaseLost) return LOG.warn(`Lost the lease on ${kind} ${ID}; another process goes on with it`)
      LOG.error(`Reconciling ${kind} ${ID} failed:`, trace(e))
      // e.g. the result could not be written: counted like any unexpected error, so the object cannot go round for ever
      await this.recordBreakdown(kind, ID, e).catch(() => undefined) // if even that fails, the lease lapses
    } finally {
      clearInterval(renew)
    }
  }

  /** An error outside a step (writing its result failed): another try later, Failed after a few. */
  private async recordBreakdown(kind: Kind, ID: string, e: unknown) {
    const obj = (await cds.tx(() => SELECT.one.from(db()[kind], ID))) as Managed | undefined
    if (!obj || obj.leaseOwner !== OWNER) return
    const attempts = (obj.attempts ?? 0) + 1
    const lastError = `The step failed unexpectedly: ${(e as Error)?.message ?? String(e)}`.slice(0, 2000)
    const final = attempts >= settings().maxUnexpectedErrors
    await this.release(kind, ID, final
      ? { state_code: 'Failed', lastError, observedGeneration: obj.generation, attempts: 0, reconcileAt: null }
      : { lastError, attempts, reconcileAt: inMs(this.backoff(attempts)) })
    if (final && obj.lastOperation_ID) {
      await cds.tx(() =>
        UPDATE(db().Operations)
          .set({ state_code: 'failed', finishedAt: now(), error: lastError })
          .where({ ID: obj.lastOperation_ID, state_code: { in: ['pending', 'running'] } })
      )
    }
  }

  /** One pass: read the object, make one step, write the result if the generation is still current. */
  private async pass(kind: Kind, ID: string) {
    const read = await cds.tx(async () => {
      const obj = (await SELECT.one.from(db()[kind], ID)) as Managed | undefined
      if (!obj || obj.leaseOwner !== OWNER) return { obj }
      if (obj.generation > 1) await this.closeOlderOperations(kind, obj)
      const op = obj.lastOperation_ID ? ((await SELECT.one.from(db().Operations, obj.lastOperation_ID)) as OperationRow | undefined) : undefined
      return { obj, op }
    })
    const { obj, op } = read as { obj?: Managed; op?: OperationRow }
    if (!obj) return
    if (obj.leaseOwner !== OWNER) throw new LeaseLost()

    let outcome: Outcome
    try {
      if (this.isSettled(obj) && !this.retirementDue(kind, obj)) outcome = { settle: { state: obj.state_code, lastError: obj.lastError } }
      else if (op?.deadline && Date.now() > Date.parse(op.deadline) && obj.state_code !== 'Deleted') {
        throw new StepFailed(`The step did not finish within ${Math.round(settings().stepDeadlineMs / 1000)} seconds.`)
      } else outcome = await this.step(kind, obj, op)
    } catch (e) {
      if (e instanceof Superseded || e instanceof LeaseLost) throw e
      outcome = this.outcomeOfError(obj, e)
    }
    await this.conclude(kind, obj, op, outcome)
  }

  /** Whether the object's state is final for its current generation. */
  private isSettled(obj: Managed) {
    if (obj.observedGeneration !== obj.generation) return false
    return obj.desired === 'absent' ? obj.state_code === 'Deleted' || obj.state_code === 'Failed' : obj.state_code === 'Ready' || obj.state_code === 'Failed'
  }

  /** A rotation's old key whose overlap has passed. */
  private retirementDue(kind: Kind, obj: Managed) {
    return kind === 'ServiceKeys' && obj.desired === 'present' && !!obj.retireAt && Date.parse(obj.retireAt) <= Date.now()
  }

  private outcomeOfError(obj: Managed, e: unknown): Outcome {
    if (e instanceof StepFailed) return { settle: { state: 'Failed', lastError: e.message } }
    if (e instanceof ServiceManagerAccessError) return { settle: { state: 'Failed', lastError: e.message } }
    const attempts = (obj.attempts ?? 0) + 1
    if (e instanceof ServiceManagerError) {
      const message = e.description || e.message
      if (!e.retryable) return { settle: { state: 'Failed', lastError: message } }
      return { later: this.backoff(attempts, e), error: message, attempt: true }
    }
    // not Service Manager's doing (a defect, the database): a few tries, then Failed rather than stuck
    const message = `The step failed unexpectedly: ${(e as Error)?.message ?? String(e)}`
    LOG.error(`Step of ${obj.name} failed unexpectedly (attempt ${attempts}):`, trace(e))
    if (attempts >= settings().maxUnexpectedErrors) return { settle: { state: 'Failed', lastError: message } }
    return { later: this.backoff(attempts), error: message, attempt: true }
  }

  /** SM's Retry-After where it gave one; otherwise exponential, with some jitter so that retries spread. */
  private backoff(attempts: number, e?: unknown): number {
    const s = settings()
    const delay = retryDelay(e, Math.min(attempts, 16), { baseMs: s.pollInitialMs, maxMs: s.retryMaxMs })
    return e instanceof ServiceManagerError && e.retryAfterMs !== undefined ? delay : Math.round(delay * (0.8 + Math.random() * 0.4))
  }

  private pollDelay(op: OperationRow | undefined): number {
    const s = settings()
    const started = op?.startedAt ? Date.parse(op.startedAt) : Date.now()
    // look quickly at first, then back off towards pollMax as the operation keeps running
    return Math.min(s.pollMaxMs, Math.max(s.pollInitialMs, Math.round((Date.now() - started) / 4)))
  }

  // ---- writing results -----------------------------------------------------------------------------

  /**
   * Writes the pass's result. Settling is a compare-and-set on the generation: if the user changed the object
   * meanwhile, nothing is concluded and the object is looked at again (Superseded).
   */
  private async conclude(kind: Kind, obj: Managed, op: OperationRow | undefined, outcome: Outcome) {
    const { Operations } = db()
    const t = now()
    if ('settle' in outcome) {
      const { state, lastError = null, data = {} } = outcome.settle
      // a Ready key of a rotation comes back when it is to be retired (read from the row: a hand-over may set it meanwhile)
      const keepsRetirement = kind === 'ServiceKeys' && obj.desired === 'present' && state === 'Ready'
      await cds.tx(async tx => {
        const changed = await UPDATE(db()[kind])
          .set({
            ...data,
            state_code: state,
            lastError: lastError?.slice(0, 2000) ?? null,
            observedGeneration: obj.generation,
            attempts: 0,
            reconcileAt: keepsRetirement ? { ref: ['retireAt'] } : null,
            leaseOwner: null,
            leaseUntil: null
          })
          .where({ ID: obj.ID, generation: obj.generation, leaseOwner: OWNER })
        if (!changed) throw await this.whyNotWritten(kind, obj.ID)
        if (op && (op.state_code === 'pending' || op.state_code === 'running')) {
          await UPDATE(Operations)
            .set({ state_code: state === 'Failed' ? 'failed' : 'succeeded', finishedAt: t, error: state === 'Failed' ? lastError?.slice(0, 2000) : null })
            .where({ ID: op.ID, state_code: { in: ['pending', 'running'] } })
        }
        if (outcome.after) await outcome.after(tx)
      })
      if (state === 'Failed') LOG.warn(`${kind === 'ServiceKeys' ? 'Key' : 'Instance'} ${obj.name} failed:`, lastError)
      if (keepsRetirement && obj.retireAt) this.wakeIn(Date.parse(obj.retireAt) - Date.now())
      return
    }
    let at = inMs(Math.max(1, outcome.later))
    const attempts = outcome.attempt ? (obj.attempts ?? 0) + 1 : obj.attempts ?? 0
    await cds.tx(async () => {
      // someone asked for an earlier look while we worked (e.g. a key's instance became Ready): keep it
      const row = (await SELECT.one.from(db()[kind], obj.ID).columns('reconcileAt')) as { reconcileAt?: string | null } | undefined
      const asked = row?.reconcileAt ? new Date(row.reconcileAt).toISOString() : undefined
      if (asked && asked !== (obj.reconcileAt ? new Date(obj.reconcileAt).toISOString() : undefined) && asked < at) at = asked
      const changed = await UPDATE(db()[kind])
        .set({ reconcileAt: at, attempts, ...(outcome.error ? { lastError: outcome.error.slice(0, 2000) } : {}), leaseOwner: null, leaseUntil: null })
        .where({ ID: obj.ID, generation: obj.generation, leaseOwner: OWNER })
      if (!changed) throw await this.whyNotWritten(kind, obj.ID)
      if (op && (op.state_code === 'pending' || op.state_code === 'running')) {
        const changes: Json = { nextAttempt: at }
        if (outcome.attempt) Object.assign(changes, { attempts: (op.attempts ?? 0) + 1, error: outcome.error?.slice(0, 2000) ?? null })
        await UPDATE(Operations).set(changes).where({ ID: op.ID })
      }
    })
    this.wakeIn(Date.parse(at) - Date.now())
  }

  /** After a compare-and-set wrote nothing: the user changed the object, or we no longer hold it. */
  private async whyNotWritten(kind: Kind, ID: string): Promise<Error> {
    const row = (await SELECT.one.from(db()[kind], ID).columns('leaseOwner')) as { leaseOwner?: string } | undefined
    return row?.leaseOwner === OWNER ? new Superseded() : new LeaseLost()
  }

  /** Records facts observed in SM (its id, the operation in flight, the phase) while we hold the object. */
  private async observe(kind: Kind, obj: Managed, data: Partial<Managed>) {
    const changed = await cds.tx(() => UPDATE(db()[kind]).set(data).where({ ID: obj.ID, leaseOwner: OWNER }))
    if (!changed) throw new LeaseLost()
    Object.assign(obj, data)
  }

  private async release(kind: Kind, ID: string, data: Json) {
    await cds.tx(() => UPDATE(db()[kind]).set({ ...data, leaseOwner: null, leaseUntil: null }).where({ ID, leaseOwner: OWNER }))
  }

  /** Steps of earlier generations that never finished were superseded by the user's later request. */
  private async closeOlderOperations(kind: Kind, obj: Managed) {
    const { targetType, ref } = TARGET[kind]
    await UPDATE(db().Operations)
      .set({ state_code: 'cancelled', finishedAt: now(), error: 'Superseded by a later request' })
      .where({ targetType, [ref]: obj.ID, generation: { '<': obj.generation }, state_code: { in: ['pending', 'running'] } })
  }

  private async markRunning(op: OperationRow | undefined) {
    if (!op || op.state_code === 'running') return
    const startedAt = op.startedAt ?? now()
    await cds.tx(() => UPDATE(db().Operations).set({ state_code: 'running', startedAt }).where({ ID: op.ID, state_code: 'pending' }))
    Object.assign(op, { state_code: 'running', startedAt })
  }

  // ---- steps ---------------------------------------------------------------------------------------

  private step(kind: Kind, obj: Managed, op: OperationRow | undefined): Promise<Outcome> {
    if (kind === 'ServiceInstances') return obj.desired === 'present' ? this.createInstance(obj, op) : this.deleteInstance(obj, op)
    if (obj.desired === 'present') return this.retirementDue(kind, obj) ? this.retireKey(obj) : this.createKey(obj, op)
    return this.deleteKey(obj, op)
  }

  /** Come back later instead of waiting long for the rate limits. */
  private async deferral(sm: ServiceManagerClient, obj: Managed, method: 'POST' | 'DELETE', path: string): Promise<Outcome | undefined> {
    const wait = await sm.expectedWait(method, path, `${obj.ID}/${obj.generation}`)
    return wait > DEFER_BEYOND_MS ? { later: wait - DEFER_LEAD_MS } : undefined
  }

  private async clientOf(subaccountId: string | undefined): Promise<ServiceManagerClient> {
    const sub = subaccountId ? await cds.tx(() => SELECT.one.from(db().Subaccounts, subaccountId)) : undefined
    if (!sub) throw new StepFailed(`Subaccount ${subaccountId} no longer exists`)
    return clientFor(sub as { subaccountId: string; displayName: string })
  }

  /**
   * Looks once, for a bounded slice, at the SM operation in flight. True once it is over (succeeded, or gone
   * while deleting), false while it runs; a failed operation throws StepFailed with SM's message unless
   * `tolerateFailure` (a create that failed before a delete: the delete goes on).
   */
  private async operationOver(sm: ServiceManagerClient, location: string, deleting: boolean, tolerateFailure = false): Promise<boolean> {
    const deadline = Date.now() + settings().pollSliceMs
    try {
      await sm.waitForOperation(location, { deadline, expectDelete: deleting })
      return true
    } catch (e) {
      if (!(e instanceof ServiceManagerError)) throw e
      if (e.code === 'OperationTimeout') return false
      if (e.code === 'OperationFailed') {
        const description = e.description || e.message
        if (tolerateFailure && !/delete/i.test(String((e as { operation?: { type?: string } }).operation?.type ?? ''))) return true
        throw new StepFailed(description)
      }
      if ((e.status === 404 || e.status === 410) && (deleting || tolerateFailure)) return true
      throw e
    }
  }

  /** Our object in SM for a record, found by label: how a retried create adopts what a lost answer created. */
  private async findOurs(sm: ServiceManagerClient, kind: 'instance' | 'binding', recordId: string) {
    const labelQuery = [{ key: LABEL_RECORD, op: 'eq' as const, value: recordId }]
    const found = kind === 'instance' ? await sm.listInstances({ labelQuery }) : await sm.listBindings({ labelQuery })
    return found.find(o => Orchestrator.isOurs(o, recordId))
  }

  // ---- instances -----------------------------------------------------------------------------------

  private async createInstance(inst: Managed, op: OperationRow | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceInstances'
    if (inst.state_code !== 'Creating') await this.observe(kind, inst, { state_code: 'Creating' })
    const sm = await this.clientOf(inst.subaccount_ID)
    if (inst.smOperation) {
      if (!(await this.operationOver(sm, inst.smOperation, false))) return { later: this.pollDelay(op) }
      await this.observe(kind, inst, { smOperation: null })
      return { settle: { state: 'Ready' }, after: () => this.wakeKeysOf(inst.ID) }
    }
    if (!inst.smId) {
      // a POST may have been sent before (its answer lost, or the process died): look our object up first
      const found = op?.state_code === 'running' || inst.attempts ? await this.findOurs(sm, 'instance', inst.ID) : undefined
      let smId = found?.id as string | undefined
      let location: string | undefined
      if (!smId) {
        const later = await this.deferral(sm, inst, 'POST', '/v1/service_instances')
        if (later) return later
        const plan = (await cds.tx(() => SELECT.one.from(db().ServicePlans, inst.plan_ID))) as { smId?: string } | undefined
        if (!plan?.smId) throw new StepFailed('The plan is no longer in the catalog of the subaccount')
        await this.markRunning(op)
        try {
          const res = await sm.createInstance(
            { name: inst.name, service_plan_id: plan.smId, parameters: parseJsonObject(inst.parameters), labels: Orchestrator.labelsFor(inst.ID) },
            { async: true, booking: `${inst.ID}/${inst.generation}` }
          )
          if (res.kind === 'accepted') [smId, location] = [res.id, res.location]
          else smId = res.resource?.id ?? res.id
        } catch (e) {
          if (!(e instanceof ServiceManagerError && e.status === 409)) throw e
          const byName = await sm.listInstances({ fieldQuery: [{ key: 'name', op: 'eq', value: inst.name }] })
          const mine = byName.find(i => Orchestrator.isOurs(i, inst.ID))
          if (!mine) throw new StepFailed(`Service Manager already holds an instance named "${inst.name}" that was not created by this service`)
          smId = mine.id
        }
      }
      await this.observe(kind, inst, { smId, smOperation: location ?? null })
      // SM works on it now: the first look comes in the next pass, so nobody waits meanwhile
      if (location) return { later: this.pollDelay(op) }
    }
    const remote = await sm.getInstance(inst.smId!)
    if (!remote) throw new StepFailed('The instance vanished from Service Manager while it was being created')
    if (remote.last_operation?.state === 'failed') throw new StepFailed(describeLastOperation(remote.last_operation))
    if (!remote.ready) {
      // an operation of SM's still runs on it (e.g. adopted after a lost answer): follow it
      return { later: this.pollDelay(op) }
    }
    return { settle: { state: 'Ready' }, after: () => this.wakeKeysOf(inst.ID) }
  }

  /** Keys waiting for their instance go on now that it is Ready. */
  private async wakeKeysOf(instanceId: string) {
    await UPDATE(db().ServiceKeys)
      .set({ reconcileAt: now() })
      .where({ instance_ID: instanceId, desired: 'present', state_code: 'Creating' })
    this.wake()
  }

  private async deleteInstance(inst: Managed, op: OperationRow | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceInstances'
    const { ServiceKeys } = db()
    if (inst.state_code !== 'Deleting') await this.observe(kind, inst, { state_code: 'Deleting' })
    // keys first: the instance goes only when none of its keys is left
    const keys = (await cds.tx(async () => {
      // a key created while the instance's delete was being asked for goes too
      const keep = (await SELECT.from(ServiceKeys).columns('ID', 'generation').where({ instance_ID: inst.ID, desired: 'present' })) as Managed[]
      for (const k of keep) await requestKeyDeletion(k.ID, 'delete')
      return SELECT.from(ServiceKeys).columns('ID', 'name', 'state_code', 'generation', 'observedGeneration').where({ instance_ID: inst.ID, state_code: { '!=': 'Deleted' } })
    })) as Managed[]
    if (keys.length) {
      const stuck = keys.find(k => k.state_code === 'Failed' && k.observedGeneration === k.generation)
      if (stuck) throw new StepFailed(`The instance cannot be deleted because its key "${stuck.name}" could not be deleted`)
      return { later: settings().pollInitialMs * 2 }
    }
    const sm = await this.clientOf(inst.subaccount_ID)
    if (inst.smOperation) {
      // a create still running in SM when the delete was asked for: let it end first (SM refuses a delete meanwhile)
      if (!(await this.operationOver(sm, inst.smOperation, false, true))) return { later: this.pollDelay(op) }
      await this.observe(kind, inst, { smOperation: null })
    }
    const pending = await this.removeFromSm(sm, kind, inst, op, 'instance')
    return pending ?? { settle: { state: 'Deleted' } }
  }

  // ---- keys ----------------------------------------------------------------------------------------

  private async createKey(key: Managed, op: OperationRow | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceKeys'
    const inst = (await cds.tx(() => SELECT.one.from(db().ServiceInstances, key.instance_ID))) as Managed | undefined
    if (!inst) throw new StepFailed('The service instance no longer exists')
    // one call does the chore: a key asked for with its instance waits for it (woken when it is Ready)
    if (inst.desired === 'absent') throw new StepFailed(`The service instance "${inst.name}" is being deleted`)
    if (inst.state_code === 'Creating') {
      // until the instance's next look, and a while after it (woken at once when it is Ready)
      const next = inst.reconcileAt ? Math.max(0, Date.parse(inst.reconcileAt) - Date.now()) : 0
      return { later: next + settings().pollMaxMs }
    }
    if (inst.state_code !== 'Ready') throw new StepFailed(`The service instance "${inst.name}" is ${inst.state_code}: ${inst.lastError ?? ''}`.trim())
    if (key.state_code !== 'Creating') await this.observe(kind, key, { state_code: 'Creating' })
    const sm = await this.clientOf(inst.subaccount_ID)

    let credentials: Json | undefined
    if (key.smOperation) {
      if (!(await this.operationOver(sm, key.smOperation, false))) return { later: this.pollDelay(op) }
      await this.observe(kind, key, { smOperation: null })
    } else if (!key.smId) {
      const found = op?.state_code === 'running' || key.attempts ? await this.findOurs(sm, 'binding', key.ID) : undefined
      let smId = found?.id as string | undefined
      let location: string | undefined
      if (!smId) {
        const later = await this.deferral(sm, key, 'POST', '/v1/service_bindings')
        if (later) return later
        await this.markRunning(op)
        try {
          const res = await sm.createBinding(
            { name: key.name, service_instance_id: inst.smId!, parameters: parseJsonObject(key.parameters), labels: Orchestrator.labelsFor(key.ID) },
            { async: false, booking: `${key.ID}/${key.generation}` }
          )
          if (res.kind === 'accepted') [smId, location] = [res.id, res.location]
          else [smId, credentials] = [res.resource?.id ?? res.id, res.resource?.ready === false ? undefined : (res.resource?.credentials as Json | undefined)]
        } catch (e) {
          if (!(e instanceof ServiceManagerError && e.status === 409)) throw e
          const byName = await sm.listBindings({
            fieldQuery: [
              { key: 'service_instance_id', op: 'eq', value: inst.smId! },
              { key: 'name', op: 'eq', value: key.name }
            ]
          })
          const mine = byName.find(b => Orchestrator.isOurs(b, key.ID))
          if (!mine) throw new StepFailed(`Service Manager already holds a key named "${key.name}" for this instance that was not created by this service`)
          smId = mine.id
        }
      }
      await this.observe(kind, key, { smId, smOperation: location ?? null })
      if (location) return { later: this.pollDelay(op) }
    }
    if (!credentials) {
      const remote = await sm.getBinding(key.smId!)
      if (!remote) throw new StepFailed('The key vanished from Service Manager while it was being created')
      if (remote.last_operation?.state === 'failed') throw new StepFailed(describeLastOperation(remote.last_operation))
      if (remote.ready === false) return { later: this.pollDelay(op) }
      credentials = (remote.credentials ?? {}) as Json
    }
    return this.keyReady(key, credentials)
  }

  /**
   * The key exists and works (or cannot be tested by us): Ready, with its credential metadata and the
   * verification, and for a rotation's successor that works, the hand-over, all in one transaction.
   */
  private async keyReady(key: Managed, credentials: Json): Promise<Outcome> {
    const own = key.certificate_ID ? ((await cds.tx(() => SELECT.one.from(db().Certificates, key.certificate_ID as string))) as { pem?: string } | undefined) : undefined
    // an own certificate's private key stays with its owner: such keys are verified on demand with the key at hand
    const check: TokenCheck | undefined = settings().verifyAfterCreate && !key.certificate_ID ? await fetchToken(credentials, {}) : undefined
    const handOver = !!key.rotatedFrom_ID && (key.certificate_ID ? true : check?.ok === true)
    const rotationStopped = !!key.rotatedFrom_ID && !handOver
    return {
      settle: {
        state: 'Ready',
        lastError: rotationStopped ? `The rotation stopped: the new key does not work (${check?.message ?? 'not verified'}); the old key keeps its registrations.` : null,
        data: credentialMetadataColumns(credentials, own?.pem)
      },
      after: async () => {
        if (check) await saveVerification(key, check)
        if (handOver) await this.handOver(key)
      }
    }
  }

  /** Rotation: the successor takes over the registrations; the old key is retired after the overlap. */
  private async handOver(successor: Managed) {
    const { Registrations, ServiceKeys } = db()
    const old = (await SELECT.one.from(ServiceKeys, successor.rotatedFrom_ID as string)) as Managed | undefined
    if (!old || old.desired !== 'present') return
    const retireAt = inMs(settings().rotationOverlapMs)
    await UPDATE(Registrations).set({ serviceKey_ID: successor.ID }).where({ serviceKey_ID: old.ID, status: 'Active' })
    await UPDATE(ServiceKeys).set({ retireAt, reconcileAt: retireAt }).where({ ID: old.ID, retireAt: null })
  }

  /** The old key of a rotation, once its overlap has passed: the rotation asks for its deletion. */
  private async retireKey(key: Managed): Promise<Outcome> {
    await cds.tx(async () => {
      const changed = await requestKeyDeletion(key.ID, 'retire', key.generation)
      if (!changed) throw new Superseded()
    })
    throw new Superseded() // go on with the delete at once
  }

  private async deleteKey(key: Managed, op: OperationRow | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceKeys'
    if (key.state_code !== 'Deleting') await this.observe(kind, key, { state_code: 'Deleting' })
    // consumers first: never leave a registration pointing at a credential that is gone
    await cds.tx(() => UPDATE(db().Registrations).set({ status: 'Removed' }).where({ serviceKey_ID: key.ID, status: 'Active' }))
    const inst = (await cds.tx(() => SELECT.one.from(db().ServiceInstances, key.instance_ID))) as Managed | undefined
    const sm = await this.clientOf(inst?.subaccount_ID)
    if (key.smOperation) {
      if (!(await this.operationOver(sm, key.smOperation, false, true))) return { later: this.pollDelay(op) }
      await this.observe(kind, key, { smOperation: null })
    }
    const pending = await this.removeFromSm(sm, kind, key, op, 'binding')
    return pending ?? { settle: { state: 'Deleted' } }
  }

  /**
   * The Service Manager side of a delete: sends it in its turn of the rate limits, then looks until the object
   * is gone (404 on delete = done). Undefined once nothing is left in SM, otherwise when to look again.
   */
  private async removeFromSm(sm: ServiceManagerClient, kind: Kind, obj: Managed, op: OperationRow | undefined, what: 'instance' | 'binding'): Promise<Outcome | undefined> {
    // without an id, a lost answer may still have created our object: look it up by its label
    const smId = obj.smId ?? ((await this.findOurs(sm, what, obj.ID))?.id as string | undefined)
    if (!smId) return undefined
    if (op?.state_code === 'running') {
      // a delete may have been sent before in this generation (its answer lost, the process died): still there?
      const still = what === 'instance' ? await sm.getInstance(smId) : await sm.getBinding(smId)
      if (!still) return undefined
      if (still.last_operation?.type === 'delete' && still.last_operation.state === 'in progress') return { later: this.pollDelay(op) }
    }
    const later = await this.deferral(sm, obj, 'DELETE', `/v1/service_${what}s/${smId}`)
    if (later) return later
    await this.markRunning(op)
    const options = { async: true, booking: `${obj.ID}/${obj.generation}` }
    const res = what === 'instance' ? await sm.deleteInstance(smId, options) : await sm.deleteBinding(smId, options)
    if (res.kind !== 'accepted') return undefined
    await this.observe(kind, obj, { smOperation: res.location })
    return { later: this.pollDelay(op) }
  }

  // ---- duties --------------------------------------------------------------------------------------

  /** Periodic duties: whichever process takes a due duty's lease runs it and sets its next run. */
  private async runDueDuties() {
    const { Duties } = db()
    const interval = settings().expiryScanIntervalMs
    const t = now()
    const taken = await cds.tx(async () => {
      const duty = await SELECT.one.from(Duties, 'expiryScan')
      if (!duty) {
        await UPSERT.into(Duties).entries({ name: 'expiryScan', runAt: inMs(interval) })
        return false
      }
      return (await UPDATE(Duties)
        .set({ leaseOwner: OWNER, leaseUntil: inMs(settings().leaseMs * 10) })
        .where`name = ${'expiryScan'} and runAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`) > 0
    })
    if (!taken) return
    try {
      await cds.tx(() => this.send('scanExpiry', {}))
    } catch (e) {
      LOG.error('The expiry scan failed', e)
    } finally {
      await cds.tx(() => UPDATE(Duties).set({ runAt: inMs(interval), leaseOwner: null, leaseUntil: null }).where({ name: 'expiryScan', leaseOwner: OWNER }))
    }
  }

  // ---- labels --------------------------------------------------------------------------------------

  static labelsFor(recordId: string): Record<string, string[]> {
    return { [LABEL_MANAGED_BY]: [MANAGED_BY], [LABEL_RECORD]: [recordId] }
  }

  static isOurs(obj: { labels?: Record<string, string[]> }, recordId?: string): boolean {
    const labels = obj.labels ?? {}
    if (!labels[LABEL_MANAGED_BY]?.includes(MANAGED_BY)) return false
    return recordId === undefined || !!labels[LABEL_RECORD]?.includes(recordId)
  }

  /** Wakes the reconciler of this process once the current transaction has committed. */
  static wakeAfterCommit() {
    const ctx = cds.context as unknown as { on?: (event: string, fn: () => void) => void } | undefined
    const wake = () => void cds.connect.to('orchestrator').then(o => (o as Orchestrator).wake())
    if (ctx?.on) ctx.on('succeeded', wake)
    else wake()
  }

  // ---- refresh (synchronous reads on demand) ---------------------------------------------------------

  static async refreshInstance(inst: Managed) {
    if (!inst.smId) return
    const { ServiceInstances } = db()
    const sm = await clientForSubaccount(inst.subaccount_ID!)
    const remote = await sm.getInstance(inst.smId)
    if (!remote) {
      if (inst.state_code !== 'Deleted') await UPDATE(ServiceInstances, inst.ID).with({ state_code: 'Failed', lastError: 'The instance no longer exists in Service Manager' })
      return
    }
    if (remote.ready && inst.state_code === 'Failed' && inst.desired === 'present') await UPDATE(ServiceInstances, inst.ID).with({ state_code: 'Ready', lastError: null })
  }

  static async refreshKey(key: Managed) {
    if (!key.smId) return
    const { ServiceKeys } = db()
    const inst = (await SELECT.one.from(db().ServiceInstances, key.instance_ID)) as Managed
    const sm = await clientForSubaccount(inst.subaccount_ID!)
    const remote = await sm.getBinding(key.smId)
    if (!remote) {
      if (key.state_code !== 'Deleted') await UPDATE(ServiceKeys, key.ID).with({ state_code: 'Failed', lastError: 'The key no longer exists in Service Manager' })
      return
    }
    const own = key.certificate_ID ? ((await SELECT.one.from(db().Certificates, key.certificate_ID)) as { pem?: string }) : undefined
    await UPDATE(ServiceKeys, key.ID).with({
      ...credentialMetadataColumns((remote.credentials ?? {}) as Json, own?.pem),
      ...(remote.ready && key.state_code === 'Failed' && key.desired === 'present' ? { state_code: 'Ready', lastError: null } : {})
    })
  }
}

/**
 * A user's (or a rotation's) request to delete a key, in the caller's transaction: desired absent, the next
 * generation, a delete (or retire) step, due now. With `fromGeneration`, only if the key is still at it.
 * Returns whether the key changed (false: already absent, or changed meanwhile).
 */
export async function requestKeyDeletion(ID: string, type: 'delete' | 'retire' = 'delete', fromGeneration?: number): Promise<boolean> {
  const { ServiceKeys, ServiceInstances } = db()
  const key = (await SELECT.one.from(ServiceKeys, ID)) as Managed | undefined
  if (!key || key.desired === 'absent') return false
  if (fromGeneration !== undefined && key.generation !== fromGeneration) return false
  const inst = (await SELECT.one.from(ServiceInstances, key.instance_ID).columns('subaccount_ID')) as { subaccount_ID?: string } | undefined
  return requestChange('ServiceKeys', key, { desired: 'absent' }, type, { serviceKey_ID: ID, instance_ID: key.instance_ID, subaccount_ID: inst?.subaccount_ID })
}

/**
 * Writes a change of desired state in the caller's transaction: the spec, the next generation (compare-and-set
 * on the generation read), a pending Operations row for it, and due now. False when the object changed meanwhile.
 */
export async function requestChange(
  kind: Kind,
  obj: { ID: string; generation: number },
  desired: Json,
  type: string,
  refs: Json
): Promise<boolean> {
  const generation = obj.generation + 1
  const op = cds.utils.uuid()
  const changed = await UPDATE(db()[kind])
    .set({ ...desired, generation, lastOperation_ID: op, reconcileAt: now(), attempts: 0 })
    .where({ ID: obj.ID, generation: obj.generation })
  if (!changed) return false
  await recordStep(op, kind, generation, type, refs)
  return true
}

/**
 * A new object's first generation, in the caller's transaction: its create step, due now. The row itself
 * was inserted with the request (generation 1 by default).
 */
export async function requestCreate(kind: Kind, ID: string, refs: Json) {
  const op = cds.utils.uuid()
  await UPDATE(db()[kind], ID).with({ lastOperation_ID: op, generation: 1, reconcileAt: now() })
  await recordStep(op, kind, 1, 'create', refs)
}

/** The pending Operations row of a generation's step (who asked, when, its deadline); wakes the reconciler. */
async function recordStep(ID: string, kind: Kind, generation: number, type: string, refs: Json) {
  await INSERT.into(db().Operations).entries({
    ID,
    type,
    targetType: TARGET[kind].targetType,
    generation,
    state_code: 'pending',
    deadline: inMs(settings().stepDeadlineMs),
    ...refs
  })
  Orchestrator.wakeAfterCommit()
}

/**
 * An unexpected error as the log shows it: its stack (or message), never the object itself, whose properties
 * (e.g. an HTTP library's request configuration) could carry a token or a secret.
 */
function trace(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e)
}

function describeLastOperation(lastOp: { errors?: unknown; description?: string } | undefined): string {
  const errors = lastOp?.errors
  const first = Array.isArray(errors) ? errors[0] : errors
  if (first && typeof first === 'object') {
    const e = first as Record<string, { description?: string; Description?: string } | string | undefined>
    const broker = (e.broker_error ?? e.brokerError) as { description?: string; Description?: string } | undefined
    return String(broker?.description ?? broker?.Description ?? e.description ?? e.error ?? 'failed')
  }
  return lastOp?.description ?? 'The operation failed in Service Manager'
}

export default Orchestrator
