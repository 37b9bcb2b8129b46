import cds from '@sap/cds'
import os from 'node:os'
import {
  Certificates,
  DesiredState,
  Duties,
  LifecycleStateCode,
  Operation,
  Operations,
  OperationStateCode,
  Registration,
  Registrations,
  ServiceInstance,
  ServiceInstances,
  ServiceKeys,
  ServicePlans,
  Subaccounts
} from '#cds-models/btp/provisioning'
import type { Provisioning, ServiceKey } from '#cds-models/btp/provisioning'
import { config as smConfig, embeddedEmulator, ServiceManagerAccessError } from './service-manager/kinds'
import { ServiceManagerError } from './service-manager/errors'
import { retryDelay } from './lib/retry'
import { catalogPlanId, platformFor, type PlatformClient } from './cloud-foundry/platform'
import { settings, requiresEntry } from './lib/config'
import { credentialMetadataColumns } from './lib/key-columns'
import { backfillKeyScope } from './lib/key-scope'
import { parseJsonObject } from './lib/naming'
import { fetchToken, saveVerification, type TokenCheck } from './verification'
import { scanExpiry } from './key-health'
import { advanceProvisioning } from './provision'
import { concluded } from './lifecycle-events'
import { rotationFailure, successorSettled } from './rotation'
import * as clock from './lib/clock'
import { onShutdown } from './lib/app-events'
import { enterAppContext } from './lib/system-context'

const LOG = cds.log('orchestrator')

export const MANAGED_BY = 'service-key-manager'
export const LABEL_MANAGED_BY = 'managed_by'
export const LABEL_RECORD = 'skm_id'

/** The kinds of managed objects, by entity (Provisionings: the flows of `provision`, srv/provision.ts). */
export type Kind = 'ServiceInstances' | 'ServiceKeys' | 'Provisionings'
const KINDS: Kind[] = ['ServiceInstances', 'ServiceKeys', 'Provisionings']
type OperationType = NonNullable<Operation['type']>
type Refs = Pick<Operation, 'instance_ID' | 'serviceKey_ID' | 'subaccount_ID' | 'provisioning_ID'>
const TARGET: Record<Kind, { targetType: NonNullable<Operation['targetType']>; ref: keyof Refs }> = {
  ServiceInstances: { targetType: Operation.targetType.instance, ref: 'instance_ID' },
  ServiceKeys: { targetType: Operation.targetType.serviceKey, ref: 'serviceKey_ID' },
  Provisionings: { targetType: Operation.targetType.provisioning, ref: 'provisioning_ID' }
}

/**
 * A managed object as the reconciler reads it (an instance, a key or a provisioning flow): the columns of the
 * generated types, those that every stored row has not null. Flows have no name (they are not logged by it).
 */
export type Managed = Partial<ServiceInstance & ServiceKey> & {
  ID: string
  name: string
  state_code: LifecycleStateCode
  desired: DesiredState
  generation: number
  observedGeneration: number
}

/** The columns a pass writes: any kind's (a flow's status and consumer view, a key's metadata, an instance's plan). */
type Changes = Partial<ServiceInstance & ServiceKey & Provisioning>

type OperationRow = Operation & { ID: string }

type Json = Record<string, unknown>

/** An object's instance (a key's; an instance's is itself); none when the key has none. */
async function instanceOf(obj: Pick<Managed, 'instance_ID'>): Promise<Managed | undefined> {
  const ID = obj.instance_ID
  const inst = ID ? await cds.tx(() => SELECT.one.from(ServiceInstances, ID)) : undefined
  return (inst ?? undefined) as Managed | undefined // a stored row: its Lifecycle columns are set
}

/** An instance's plan in the catalog; none when the instance has none. */
async function planOf(inst: Pick<Managed, 'plan_ID'>) {
  const ID = inst.plan_ID
  return ID ? ((await cds.tx(() => SELECT.one.from(ServicePlans, ID))) ?? undefined) : undefined
}

/** The number of rows an UPDATE changed (CAP answers it as a number). */
async function affected(query: PromiseLike<unknown>): Promise<number> {
  return Number(await query)
}

/**
 * What one pass over an object ends with: its state is final for the generation it worked on (`settle`), or it
 * comes back later (`later`: the SM operation is still running, the rate limits say wait, a retry).
 */
export type Outcome =
  | { settle: { state: LifecycleStateCode; lastError?: string | null; data?: Changes; stepFailed?: boolean }; after?: (tx: cds.Transaction) => Promise<void> }
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

/** The entity of a kind: the queries on a kind chosen at run time (their rows are read as Managed). */
const entityOf = (kind: Kind) => cds.entities('btp.provisioning')[kind]
/**
 * Two clocks, never compared with each other. The reconciler's schedule (`reconcileAt`, leases on objects) goes by
 * the app's time (srv/lib/clock.ts): a test that moves it makes retries due without waiting for them (the loop's
 * poll, `reconcilePoll`, notices). Operations' times (start, end, the step's deadline), the periodic duties and
 * the SM client go by the wall clock. Only tests move the app's time, in their own process; leases taken by other
 * processes carry their clocks' times, which agree with ours only as long as nobody moved it.
 */
const dueNow = () => clock.nowIso()
const dueIn = (ms: number) => new Date(clock.now() + ms).toISOString()
const wallNow = () => new Date().toISOString()
const wallIn = (ms: number) => new Date(Date.now() + ms).toISOString()

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
    cds.once('served', () => void this.start())
    onShutdown(() => this.stop())
    return super.init()
  }

  /** Once the services are served: the embedded emulator, leases of a predecessor, key scopes, then the first look. */
  private async start() {
    if (smConfig().kind === 'emulator') await embeddedEmulator() // up before the first step needs it
    await this.takeOverFromPredecessor().catch(e => LOG.error('Taking over leases failed', e))
    await backfillKeyScope().catch(e => LOG.error('Filling in the subaccount of service keys failed:', trace(e)))
    this.wake()
  }

  /**
   * SQLite serves one process only: leases left in its database belong to a process that ended (a crash, a
   * kill), so a restarted process takes their objects over at once instead of waiting for the leases to lapse.
   */
  private async takeOverFromPredecessor() {
    if (requiresEntry<{ kind?: string }>('db')?.kind !== 'sqlite') return
    await cds.tx(async () => {
      for (const kind of KINDS) await UPDATE(entityOf(kind)).set({ leaseOwner: null, leaseUntil: null }).where`leaseOwner is not null`
      await UPDATE(Duties).set({ leaseOwner: null, leaseUntil: null }).where`leaseOwner is not null`
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
      enterAppContext()
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
      if (next !== undefined) this.wakeIn(next - clock.now())
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
    const t = dueNow()
    const times = await cds.tx(async () => {
      const found: number[] = []
      for (const kind of KINDS) {
        const row = (await SELECT.one.from(entityOf(kind)).columns('reconcileAt').where`reconcileAt > ${t}`.orderBy('reconcileAt')) as
          | Pick<Managed, 'reconcileAt'>
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
    const t = dueNow()
    // the longest due first, whatever their kind (a key woken by its instance does not wait behind instances)
    const due = (
      await cds.tx(async () => {
        const found: { kind: Kind; ID: string; reconcileAt: string }[] = []
        for (const kind of KINDS) {
          const rows = (await SELECT.from(entityOf(kind))
            .columns('ID', 'reconcileAt')
            .where`reconcileAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`
            .orderBy('reconcileAt')
            .limit(room)) as (Pick<Managed, 'ID'> & { reconcileAt: string })[]
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
        affected(UPDATE(entityOf(kind))
          .set({ leaseOwner: OWNER, leaseUntil: dueIn(leaseMs) })
          .where`ID = ${ID} and reconcileAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`)
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
        .tx(() => UPDATE(entityOf(kind)).set({ leaseUntil: dueIn(leaseMs) }).where({ ID, leaseOwner: OWNER }))
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
      await this.release(kind, ID, { reconcileAt: dueNow() })
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
    const obj = (await cds.tx(() => SELECT.one.from(entityOf(kind), ID))) as Managed | undefined
    if (!obj || obj.leaseOwner !== OWNER) return
    const attempts = (obj.attempts ?? 0) + 1
    const lastError = `The step failed unexpectedly: ${(e as Error)?.message ?? String(e)}`.slice(0, 2000)
    const final = attempts >= settings().maxUnexpectedErrors
    await this.release(kind, ID, final
      ? { state_code: LifecycleStateCode.Failed, lastError, observedGeneration: obj.generation, attempts: 0, reconcileAt: null }
      : { lastError, attempts, reconcileAt: dueIn(this.backoff(attempts)) })
    if (final && obj.lastOperation_ID) {
      await cds.tx(() =>
        UPDATE(Operations)
          .set({ state_code: OperationStateCode.failed, finishedAt: wallNow(), error: lastError })
          .where({ ID: obj.lastOperation_ID, state_code: { in: [OperationStateCode.pending, OperationStateCode.running] } })
      )
    }
  }

  /** One pass: read the object, make one step, write the result if the generation is still current. */
  private async pass(kind: Kind, ID: string) {
    const read = await cds.tx(async () => {
      const obj = (await SELECT.one.from(entityOf(kind), ID)) as Managed | undefined
      if (!obj || obj.leaseOwner !== OWNER) return { obj }
      if (obj.generation > 1) await this.closeOlderOperations(kind, obj)
      const op = obj.lastOperation_ID ? ((await SELECT.one.from(Operations, obj.lastOperation_ID)) as OperationRow | null) : undefined
      return { obj, op }
    })
    const { obj, op } = read as { obj?: Managed; op?: OperationRow | null }
    if (!obj) return
    if (obj.leaseOwner !== OWNER) throw new LeaseLost()

    let outcome: Outcome
    try {
      if (this.isSettled(obj) && !this.retirementDue(kind, obj)) outcome = { settle: { state: obj.state_code, lastError: obj.lastError } }
      else if (op?.deadline && Date.now() > Date.parse(op.deadline) && obj.state_code !== LifecycleStateCode.Deleted) {
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
    return obj.desired === DesiredState.absent ? obj.state_code === LifecycleStateCode.Deleted || obj.state_code === LifecycleStateCode.Failed : obj.state_code === LifecycleStateCode.Ready || obj.state_code === LifecycleStateCode.Failed
  }

  /** A rotation's old key whose overlap has passed (by the app's clock, srv/lib/clock.ts). */
  private retirementDue(kind: Kind, obj: Managed) {
    return kind === 'ServiceKeys' && obj.desired === DesiredState.present && !!obj.retireAt && Date.parse(obj.retireAt) <= clock.now()
  }

  private outcomeOfError(obj: Managed, e: unknown): Outcome {
    if (e instanceof StepFailed) return { settle: { state: LifecycleStateCode.Failed, lastError: e.message } }
    if (e instanceof ServiceManagerAccessError) return { settle: { state: LifecycleStateCode.Failed, lastError: e.message } }
    const attempts = (obj.attempts ?? 0) + 1
    if (e instanceof ServiceManagerError) {
      const message = e.description || e.message
      if (!e.retryable) return { settle: { state: LifecycleStateCode.Failed, lastError: message } }
      return { later: this.backoff(attempts, e), error: message, attempt: true }
    }
    // not Service Manager's doing (a defect, the database): a few tries, then Failed rather than stuck
    const message = `The step failed unexpectedly: ${(e as Error)?.message ?? String(e)}`
    LOG.error(`Step of ${obj.name} failed unexpectedly (attempt ${attempts}):`, trace(e))
    if (attempts >= settings().maxUnexpectedErrors) return { settle: { state: LifecycleStateCode.Failed, lastError: message } }
    return { later: this.backoff(attempts), error: message, attempt: true }
  }

  /** SM's Retry-After where it gave one; otherwise exponential, with some jitter so that retries spread. */
  private backoff(attempts: number, e?: unknown): number {
    const s = settings()
    const delay = retryDelay(e, Math.min(attempts, 16), { baseMs: s.pollInitialMs, maxMs: s.retryMaxMs })
    return e instanceof ServiceManagerError && e.retryAfterMs !== undefined ? delay : Math.round(delay * (0.8 + Math.random() * 0.4))
  }

  private pollDelay(op: OperationRow | null | undefined): number {
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
  private async conclude(kind: Kind, obj: Managed, op: OperationRow | null | undefined, outcome: Outcome) {
    const t = wallNow()
    if ('settle' in outcome) {
      // stepFailed: the step failed but the object stays as it was (e.g. SM refused an update of a Ready instance)
      const { state, lastError = null, data = {}, stepFailed = state === LifecycleStateCode.Failed } = outcome.settle
      // a Ready key of a rotation comes back when it is to be retired (read from the row: a hand-over may set it meanwhile)
      const keepsRetirement = kind === 'ServiceKeys' && obj.desired === DesiredState.present && state === LifecycleStateCode.Ready
      await cds.tx(async tx => {
        const changed = await affected(
          UPDATE(entityOf(kind))
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
        )
        if (!changed) throw await this.whyNotWritten(kind, obj.ID)
        if (op && (op.state_code === OperationStateCode.pending || op.state_code === OperationStateCode.running)) {
          await UPDATE(Operations)
            .set({ state_code: stepFailed ? OperationStateCode.failed : OperationStateCode.succeeded, finishedAt: t, error: stepFailed ? lastError?.slice(0, 2000) : null })
            .where({ ID: op.ID, state_code: { in: [OperationStateCode.pending, OperationStateCode.running] } })
        }
        if (outcome.after) await outcome.after(tx)
        await concluded(tx, kind, obj, state, lastError)
      })
      if (state === LifecycleStateCode.Failed) LOG.warn(`${kind === 'ServiceKeys' ? 'Key' : 'Instance'} ${obj.name} failed:`, lastError)
      if (keepsRetirement && obj.retireAt) this.wakeIn(Date.parse(obj.retireAt) - clock.now())
      return
    }
    let at = dueIn(Math.max(1, outcome.later))
    const attempts = outcome.attempt ? (obj.attempts ?? 0) + 1 : obj.attempts ?? 0
    await cds.tx(async () => {
      // someone asked for an earlier look while we worked (e.g. a key's instance became Ready): keep it
      const row = (await SELECT.one.from(entityOf(kind), obj.ID).columns('reconcileAt')) as Pick<Managed, 'reconcileAt'> | undefined
      const asked = row?.reconcileAt ? new Date(row.reconcileAt).toISOString() : undefined
      if (asked && asked !== (obj.reconcileAt ? new Date(obj.reconcileAt).toISOString() : undefined) && asked < at) at = asked
      const changed = await affected(
        UPDATE(entityOf(kind))
          .set({ reconcileAt: at, attempts, ...(outcome.error ? { lastError: outcome.error.slice(0, 2000) } : {}), leaseOwner: null, leaseUntil: null })
          .where({ ID: obj.ID, generation: obj.generation, leaseOwner: OWNER })
      )
      if (!changed) throw await this.whyNotWritten(kind, obj.ID)
      if (op && (op.state_code === OperationStateCode.pending || op.state_code === OperationStateCode.running)) {
        const changes: Partial<Operation> = { nextAttempt: at }
        if (outcome.attempt) Object.assign(changes, { attempts: (op.attempts ?? 0) + 1, error: outcome.error?.slice(0, 2000) ?? null })
        await UPDATE(Operations).set(changes).where({ ID: op.ID })
      }
    })
    this.wakeIn(Date.parse(at) - clock.now())
  }

  /** After a compare-and-set wrote nothing: the user changed the object, or we no longer hold it. */
  private async whyNotWritten(kind: Kind, ID: string): Promise<Error> {
    const row = (await SELECT.one.from(entityOf(kind), ID).columns('leaseOwner')) as Pick<Managed, 'leaseOwner'> | undefined
    return row?.leaseOwner === OWNER ? new Superseded() : new LeaseLost()
  }

  /** Records facts observed in SM (its id, the operation in flight, the phase) while we hold the object. */
  private async observe(kind: Kind, obj: Managed, data: Changes) {
    const changed = await cds.tx(() => affected(UPDATE(entityOf(kind)).set(data).where({ ID: obj.ID, leaseOwner: OWNER })))
    if (!changed) throw new LeaseLost()
    Object.assign(obj, data)
  }

  private async release(kind: Kind, ID: string, data: Changes) {
    await cds.tx(() => UPDATE(entityOf(kind)).set({ ...data, leaseOwner: null, leaseUntil: null }).where({ ID, leaseOwner: OWNER }))
  }

  /** Steps of earlier generations that never finished were superseded by the user's later request. */
  private async closeOlderOperations(kind: Kind, obj: Managed) {
    const { targetType, ref } = TARGET[kind]
    await UPDATE(Operations)
      .set({ state_code: OperationStateCode.cancelled, finishedAt: wallNow(), error: 'Superseded by a later request' })
      .where({ targetType, [ref]: obj.ID, generation: { '<': obj.generation }, state_code: { in: [OperationStateCode.pending, OperationStateCode.running] } })
  }

  private async markRunning(op: OperationRow | null | undefined) {
    if (!op || op.state_code === OperationStateCode.running) return
    const startedAt = op.startedAt ?? wallNow()
    await cds.tx(() => UPDATE(Operations).set({ state_code: OperationStateCode.running, startedAt }).where({ ID: op.ID, state_code: OperationStateCode.pending }))
    Object.assign(op, { state_code: OperationStateCode.running, startedAt })
  }

  // ---- steps ---------------------------------------------------------------------------------------

  private step(kind: Kind, obj: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    if (kind === 'Provisionings') return advanceProvisioning(obj)
    const looksAgain = op?.type === Operation.type.refresh || op?.type === Operation.type.adopt
    if (kind === 'ServiceInstances') {
      if (obj.desired === DesiredState.absent) return this.deleteInstance(obj, op)
      if (looksAgain) return this.lookAgain(kind, obj, op)
      return op?.type === Operation.type.update && obj.smId ? this.updateInstance(obj, op) : this.createInstance(obj, op)
    }
    if (obj.desired === DesiredState.absent) return this.deleteKey(obj, op)
    if (this.retirementDue(kind, obj)) return this.retireKey(obj)
    return looksAgain ? this.lookAgain(kind, obj, op) : this.createKey(obj, op)
  }

  /** Come back later instead of waiting long for the rate limits. */
  private async deferral(sm: PlatformClient, obj: Managed, method: 'POST' | 'PATCH' | 'DELETE', path: string): Promise<Outcome | undefined> {
    const wait = await sm.expectedWait(method, path, `${obj.ID}/${obj.generation}`)
    return wait > DEFER_BEYOND_MS ? { later: wait - DEFER_LEAD_MS } : undefined
  }

  /**
   * A refresh or an adoption: reads the object from the platform and records what it says (Ready, or Failed when
   * it is gone or its last operation failed; a key's credential metadata). Adopting also labels the object as
   * ours and takes its plan and name (instances) from its platform (Service Manager, or Cloud Foundry's API).
   */
  private async lookAgain(kind: 'ServiceInstances' | 'ServiceKeys', obj: Managed, op: OperationRow): Promise<Outcome> {
    const what = kind === 'ServiceInstances' ? 'instance' : 'binding'
    const noun = kind === 'ServiceInstances' ? 'instance' : 'key'
    const adopting = op.type === Operation.type.adopt
    const inst = kind === 'ServiceInstances' ? obj : await instanceOf(obj)
    const sm = await this.clientOf(inst)
    const smId = obj.smId ?? (await this.findOurs(sm, what, obj.ID))?.id
    const platform = inst?.environment === ServiceInstance.environment.cloudfoundry ? 'Cloud Foundry' : 'Service Manager'
    if (!smId) throw new StepFailed(`The ${noun} does not exist in ${platform}`)
    await this.markRunning(op)
    const remote = kind === 'ServiceInstances' ? await sm.getInstance(smId) : await sm.getBinding(smId)
    if (!remote) throw new StepFailed(`The ${noun} no longer exists in ${platform}`)
    if (remote.last_operation?.state === 'failed' && remote.last_operation.type !== 'update') throw new StepFailed(describeLastOperation(remote.last_operation))
    if (remote.ready === false) return { later: this.pollDelay(op) }
    const data: Changes = { smId }
    if (kind === 'ServiceKeys') Object.assign(data, await this.keyMetadata(obj, ('credentials' in remote ? remote.credentials : undefined) ?? {}))
    if (adopting) {
      if (kind === 'ServiceInstances') {
        const planId = await catalogPlanId(sm, remote as { service_plan_id?: string }) // an instance: it has a plan
        const plan = planId ? await cds.tx(() => SELECT.one.from(ServicePlans).where({ subaccount_ID: obj.subaccount_ID, smId: planId })) : undefined
        if (!plan) throw new StepFailed(`The plan of "${remote.name}" is not in the subaccount's catalog; sync the catalog and adopt it again`)
        Object.assign(data, { plan_ID: plan.ID, offering_ID: plan.offering_ID, name: remote.name, labels: JSON.stringify(Orchestrator.labelsFor(obj.ID)) })
      } else Object.assign(data, { name: remote.name })
      const ops = Orchestrator.labelOps(remote.labels, obj.ID)
      if (ops.length) {
        if (kind === 'ServiceInstances') await sm.updateInstanceLabels(smId, ops)
        else await sm.updateBindingLabels(smId, ops)
      }
    }
    return { settle: { state: LifecycleStateCode.Ready, data } }
  }

  /** The platform an instance and its keys live in: its subaccount's Service Manager, or its Cloud Foundry space. */
  private async clientOf(inst: Managed | undefined): Promise<PlatformClient> {
    const subaccount = inst?.subaccount_ID
    const sub = subaccount ? await cds.tx(() => SELECT.one.from(Subaccounts, subaccount)) : undefined
    if (!inst || !sub) throw new StepFailed(`Subaccount ${inst?.subaccount_ID} no longer exists`)
    return platformFor(inst)
  }

  /**
   * Looks once, for a bounded slice, at the SM operation in flight. True once it is over (succeeded, or gone
   * while deleting), false while it runs; a failed operation throws StepFailed with SM's message unless
   * `tolerateFailure` (a create that failed before a delete: the delete goes on).
   */
  private async operationOver(sm: PlatformClient, location: string, deleting: boolean, tolerateFailure = false): Promise<boolean> {
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
  private async findOurs(sm: PlatformClient, kind: 'instance' | 'binding', recordId: string) {
    const labelQuery = [{ key: LABEL_RECORD, op: 'eq' as const, value: recordId }]
    const found = kind === 'instance' ? await sm.listInstances({ labelQuery }) : await sm.listBindings({ labelQuery })
    return found.find(o => Orchestrator.isOurs(o, recordId))
  }

  // ---- instances -----------------------------------------------------------------------------------

  private async createInstance(inst: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceInstances'
    if (inst.state_code !== LifecycleStateCode.Creating) await this.observe(kind, inst, { state_code: LifecycleStateCode.Creating })
    const sm = await this.clientOf(inst)
    if (inst.smOperation) {
      if (!(await this.operationOver(sm, inst.smOperation, false))) return { later: this.pollDelay(op) }
      await this.observe(kind, inst, { smOperation: null })
      return { settle: { state: LifecycleStateCode.Ready }, after: () => this.wakeKeysOf(inst.ID) }
    }
    if (!inst.smId) {
      // a POST may have been sent before (its answer lost, or the process died): look our object up first
      const found = op?.state_code === OperationStateCode.running || inst.attempts ? await this.findOurs(sm, 'instance', inst.ID) : undefined
      let smId = found?.id
      let location: string | undefined
      if (!smId) {
        const later = await this.deferral(sm, inst, 'POST', '/v1/service_instances')
        if (later) return later
        const plan = await planOf(inst)
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
    return { settle: { state: LifecycleStateCode.Ready }, after: () => this.wakeKeysOf(inst.ID) }
  }

  /**
   * An update of a Ready instance (its parameters and/or plan, as the row now says): SM's PATCH, followed like a
   * create. The instance stays usable throughout; when SM refuses the change, the step fails with SM's message and
   * the instance stays Ready with what SM still holds (its record keeps the refused request for the user to see).
   */
  private async updateInstance(inst: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceInstances'
    const refused = (message: string): Outcome => ({
      settle: { state: LifecycleStateCode.Ready, stepFailed: true, lastError: `Service Manager refused the update: ${message}; the instance keeps its previous parameters and plan.` }
    })
    const sm = await this.clientOf(inst)
    try {
      if (inst.smOperation) {
        if (!(await this.operationOver(sm, inst.smOperation, false))) return { later: this.pollDelay(op) }
        await this.observe(kind, inst, { smOperation: null })
        return { settle: { state: LifecycleStateCode.Ready } }
      }
      // sending the same change again (after a lost answer or a crash) leaves SM where one PATCH would
      const path = `/v1/service_instances/${inst.smId}`
      const later = await this.deferral(sm, inst, 'PATCH', path)
      if (later) return later
      const plan = await planOf(inst)
      if (!plan?.smId) throw new StepFailed('The plan is no longer in the catalog of the subaccount')
      await this.markRunning(op)
      const res = await sm.updateInstance(
        inst.smId!,
        { parameters: parseJsonObject(inst.parameters) ?? {}, service_plan_id: plan.smId },
        { async: true, booking: `${inst.ID}/${inst.generation}` }
      )
      if (res.kind === 'accepted') {
        await this.observe(kind, inst, { smOperation: res.location })
        return { later: this.pollDelay(op) }
      }
      return { settle: { state: LifecycleStateCode.Ready } }
    } catch (e) {
      if (e instanceof StepFailed) return refused(e.message)
      if (e instanceof ServiceManagerError && !e.retryable) return refused(e.description || e.message)
      throw e
    }
  }

  /** Keys waiting for their instance go on now that it is Ready. */
  private async wakeKeysOf(instanceId: string) {
    await UPDATE(ServiceKeys)
      .set({ reconcileAt: dueNow() })
      .where({ instance_ID: instanceId, desired: DesiredState.present, state_code: LifecycleStateCode.Creating })
    this.wake()
  }

  private async deleteInstance(inst: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceInstances'
    if (inst.state_code !== LifecycleStateCode.Deleting) await this.observe(kind, inst, { state_code: LifecycleStateCode.Deleting })
    // keys first: the instance goes only when none of its keys is left
    const keys = (await cds.tx(async () => {
      // a key created while the instance's delete was being asked for goes too
      const keep = (await SELECT.from(ServiceKeys).columns('ID').where({ instance_ID: inst.ID, desired: DesiredState.present })) as Pick<Managed, 'ID'>[]
      for (const k of keep) await requestKeyDeletion(k.ID, Operation.type.delete)
      return (await SELECT.from(ServiceKeys)
        .columns('ID', 'name', 'state_code', 'generation', 'observedGeneration')
        .where({ instance_ID: inst.ID, state_code: { '!=': LifecycleStateCode.Deleted } })) as Managed[]
    }))
    if (keys.length) {
      const stuck = keys.find(k => k.state_code === LifecycleStateCode.Failed && k.observedGeneration === k.generation)
      if (stuck) throw new StepFailed(`The instance cannot be deleted because its key "${stuck.name}" could not be deleted`)
      return { later: settings().pollInitialMs * 2 }
    }
    const sm = await this.clientOf(inst)
    if (inst.smOperation) {
      // a create still running in SM when the delete was asked for: let it end first (SM refuses a delete meanwhile)
      if (!(await this.operationOver(sm, inst.smOperation, false, true))) return { later: this.pollDelay(op) }
      await this.observe(kind, inst, { smOperation: null })
    }
    const pending = await this.removeFromSm(sm, kind, inst, op, 'instance')
    return pending ?? { settle: { state: LifecycleStateCode.Deleted } }
  }

  // ---- keys ----------------------------------------------------------------------------------------

  private async createKey(key: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceKeys'
    const inst = await instanceOf(key)
    if (!inst) throw new StepFailed('The service instance no longer exists')
    // one call does the chore: a key asked for with its instance waits for it (woken when it is Ready)
    if (inst.desired === DesiredState.absent) throw new StepFailed(`The service instance "${inst.name}" is being deleted`)
    if (inst.state_code === LifecycleStateCode.Creating) {
      // until the instance's next look, and a while after it (woken at once when it is Ready)
      const next = inst.reconcileAt ? Math.max(0, Date.parse(inst.reconcileAt) - clock.now()) : 0
      return { later: next + settings().pollMaxMs }
    }
    if (inst.state_code !== LifecycleStateCode.Ready) throw new StepFailed(`The service instance "${inst.name}" is ${inst.state_code}: ${inst.lastError ?? ''}`.trim())
    if (key.state_code !== LifecycleStateCode.Creating) await this.observe(kind, key, { state_code: LifecycleStateCode.Creating })
    const sm = await this.clientOf(inst)

    let credentials: Json | undefined
    if (key.smOperation) {
      if (!(await this.operationOver(sm, key.smOperation, false))) return { later: this.pollDelay(op) }
      await this.observe(kind, key, { smOperation: null })
    } else if (!key.smId) {
      const found = op?.state_code === OperationStateCode.running || key.attempts ? await this.findOurs(sm, 'binding', key.ID) : undefined
      let smId = found?.id
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
          else [smId, credentials] = [res.resource?.id ?? res.id, res.resource?.ready === false ? undefined : res.resource?.credentials]
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
      credentials = remote.credentials ?? {}
    }
    return this.keyReady(key, credentials)
  }

  /** A key's credential metadata columns (never a secret); an own certificate's facts come from its PEM. */
  private async keyMetadata(key: Managed, credentials: Json): Promise<Changes> {
    const certificate = key.certificate_ID
    const own = certificate ? await cds.tx(() => SELECT.one.from(Certificates, certificate, c => c.pem)) : undefined
    return credentialMetadataColumns(credentials, own?.pem ?? undefined)
  }

  /**
   * The key exists and works (or cannot be tested by us): Ready, with its credential metadata and the
   * verification, all in one transaction. A rotation's successor is always verified: one that works takes
   * over (srv/rotation.ts handOver), one that does not ends Failed and the rotation stops (rotationFailed).
   */
  private async keyReady(key: Managed, credentials: Json): Promise<Outcome> {
    const metadata = await this.keyMetadata(key, credentials)
    // an own certificate's private key stays with its owner: such keys are verified on demand with the key at hand
    const check: TokenCheck | undefined = (settings().verifyAfterCreate || !!key.rotatedFrom_ID) && !key.certificate_ID ? await fetchToken(credentials, {}) : undefined
    const failure = rotationFailure(key, check)
    return {
      settle: { state: failure ? LifecycleStateCode.Failed : LifecycleStateCode.Ready, lastError: failure ?? null, data: metadata },
      after: async tx => {
        if (check) await saveVerification(key, check)
        await successorSettled(key, failure, tx)
      }
    }
  }

  /** The old key of a rotation, once its overlap has passed: the rotation asks for its deletion. */
  private async retireKey(key: Managed): Promise<Outcome> {
    await cds.tx(async () => {
      const changed = await requestKeyDeletion(key.ID, Operation.type.retire, key.generation)
      if (!changed) throw new Superseded()
    })
    throw new Superseded() // go on with the delete at once
  }

  private async deleteKey(key: Managed, op: OperationRow | null | undefined): Promise<Outcome> {
    const kind: Kind = 'ServiceKeys'
    if (key.state_code !== LifecycleStateCode.Deleting) await this.observe(kind, key, { state_code: LifecycleStateCode.Deleting })
    // consumers first: never leave a registration pointing at a credential that is gone
    await cds.tx(() => UPDATE(Registrations).set({ status: Registration.status.Removed }).where({ serviceKey_ID: key.ID, status: Registration.status.Active }))
    const inst = await instanceOf(key)
    // a key found in Service Manager whose instance is not ours, removed from a sweep's finding: its subaccount's SM
    const sm = await this.clientOf(inst ?? (key.instance_ID ? undefined : { ...key, environment: ServiceInstance.environment.other }))
    if (key.smOperation) {
      if (!(await this.operationOver(sm, key.smOperation, false, true))) return { later: this.pollDelay(op) }
      await this.observe(kind, key, { smOperation: null })
    }
    const pending = await this.removeFromSm(sm, kind, key, op, 'binding')
    return pending ?? { settle: { state: LifecycleStateCode.Deleted } }
  }

  /**
   * The Service Manager side of a delete: sends it in its turn of the rate limits, then looks until the object
   * is gone (404 on delete = done). Undefined once nothing is left in SM, otherwise when to look again.
   */
  private async removeFromSm(sm: PlatformClient, kind: Kind, obj: Managed, op: OperationRow | null | undefined, what: 'instance' | 'binding'): Promise<Outcome | undefined> {
    // without an id, a lost answer may still have created our object: look it up by its label
    const smId = obj.smId ?? (await this.findOurs(sm, what, obj.ID))?.id
    if (!smId) return undefined
    if (op?.state_code === OperationStateCode.running) {
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

  /**
   * Periodic duties: whichever process takes a due duty's lease runs it and sets its next run. By the wall clock:
   * tests that move the app's time run the expiry scan themselves, and a move must not start another one.
   */
  private async runDueDuties() {
    const interval = settings().expiryScanIntervalMs
    const t = wallNow()
    const taken = await cds.tx(async () => {
      const duty = await SELECT.one.from(Duties, 'expiryScan')
      if (!duty) {
        await UPSERT.into(Duties).entries({ name: 'expiryScan', runAt: wallIn(interval) })
        return false
      }
      return (await affected(UPDATE(Duties)
        .set({ leaseOwner: OWNER, leaseUntil: wallIn(settings().leaseMs * 10) })
        .where`name = ${'expiryScan'} and runAt <= ${t} and (leaseUntil is null or leaseUntil < ${t})`)) > 0
    })
    if (!taken) return
    try {
      await cds.tx(() => this.send('scanExpiry', {}))
    } catch (e) {
      LOG.error('The expiry scan failed', e)
    } finally {
      await cds.tx(() => UPDATE(Duties).set({ runAt: wallIn(interval), leaseOwner: null, leaseUntil: null }).where({ name: 'expiryScan', leaseOwner: OWNER }))
    }
  }

  // ---- labels --------------------------------------------------------------------------------------

  static labelsFor(recordId: string): Record<string, string[]> {
    return { [LABEL_MANAGED_BY]: [MANAGED_BY], [LABEL_RECORD]: [recordId] }
  }

  /** Label operations that make an object ours (its record ID replaced if it carried another one). */
  static labelOps(labels: Record<string, string[]> | undefined, recordId: string) {
    const ops: { op: 'add' | 'remove'; key: string; values?: string[] }[] = []
    const current = labels?.[LABEL_RECORD]
    if (current && !current.includes(recordId)) ops.push({ op: 'remove', key: LABEL_RECORD })
    if (!labels?.[LABEL_MANAGED_BY]?.includes(MANAGED_BY)) ops.push({ op: 'add', key: LABEL_MANAGED_BY, values: [MANAGED_BY] })
    if (!current?.includes(recordId)) ops.push({ op: 'add', key: LABEL_RECORD, values: [recordId] })
    return ops
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
}

/**
 * A user's (or a rotation's) request to delete a key, in the caller's transaction: desired absent, the next
 * generation, a delete (or retire) step, due now. With `fromGeneration`, only if the key is still at it.
 * Returns whether the key changed (false: already absent, or changed meanwhile).
 */
export async function requestKeyDeletion(
  ID: string,
  type: typeof Operation.type.delete | typeof Operation.type.retire = Operation.type.delete,
  fromGeneration?: number
): Promise<boolean> {
  const key = await SELECT.one.from(ServiceKeys, ID)
  if (!key || key.desired === DesiredState.absent) return false
  if (fromGeneration !== undefined && key.generation !== fromGeneration) return false
  const instance = key.instance_ID
  const inst = instance ? await SELECT.one.from(ServiceInstances, instance, i => i.subaccount_ID) : undefined
  return requestChange('ServiceKeys', key, { desired: DesiredState.absent }, type, { serviceKey_ID: ID, instance_ID: instance, subaccount_ID: inst?.subaccount_ID })
}

/**
 * Writes a change of desired state in the caller's transaction: the spec, the next generation (compare-and-set
 * on the generation read), a pending Operations row for it, and due now. False when the object changed meanwhile.
 */
export async function requestChange(kind: Kind, obj: Pick<Managed, 'ID' | 'generation'> | Pick<Changes, 'ID' | 'generation'>, desired: Changes, type: OperationType, refs: Refs): Promise<boolean> {
  const { ID, generation: from } = obj
  if (!ID || typeof from !== 'number') throw new Error(`A change of ${kind} needs a stored row (its ID and generation)`)
  const generation = from + 1
  const op = cds.utils.uuid()
  const changed = await affected(
    UPDATE(entityOf(kind))
      .set({ ...desired, generation, lastOperation_ID: op, reconcileAt: dueNow(), attempts: 0 })
      .where({ ID, generation: from })
  )
  if (!changed) return false
  await recordStep(op, kind, generation, type, refs)
  return true
}

/**
 * A new object's first generation, in the caller's transaction: its create step (or, for an object found in
 * Service Manager, its adoption), due now. The row itself was inserted with the request (generation 1 by default).
 */
export async function requestCreate(kind: Kind, ID: string, refs: Refs, type: typeof Operation.type.create | typeof Operation.type.adopt = Operation.type.create) {
  const op = cds.utils.uuid()
  await UPDATE(entityOf(kind), ID).with({ lastOperation_ID: op, generation: 1, reconcileAt: dueNow() })
  await recordStep(op, kind, 1, type, refs)
}

/**
 * A user's request to read an object from its platform again, in the caller's transaction: for a settled object
 * a new generation with a refresh step; one the reconciler is still working on is only looked at now.
 * Objects that are (to be) deleted are left alone.
 */
export async function requestRefresh(kind: 'ServiceInstances' | 'ServiceKeys', obj: Pick<Changes, 'ID' | 'desired' | 'generation' | 'observedGeneration'>, refs: Refs): Promise<void> {
  if (obj.desired === DesiredState.absent || !obj.ID) return
  if (obj.generation === obj.observedGeneration && (await requestChange(kind, obj, {}, Operation.type.refresh, refs))) return
  await UPDATE(entityOf(kind), obj.ID).set({ reconcileAt: dueNow() }).where({ ID: obj.ID, leaseOwner: null })
  Orchestrator.wakeAfterCommit()
}

/** The pending Operations row of a generation's step (who asked, when, its deadline); wakes the reconciler. */
async function recordStep(ID: string, kind: Kind, generation: number, type: OperationType, refs: Refs) {
  await INSERT.into(Operations).entries({
    ID,
    type,
    targetType: TARGET[kind].targetType,
    generation,
    state_code: OperationStateCode.pending,
    deadline: wallIn(settings().stepDeadlineMs),
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

/** An error of SM's last operation, as brokers write it (snake or camel case, description in either case). */
interface LastOperationError {
  broker_error?: { description?: string; Description?: string }
  brokerError?: { description?: string; Description?: string }
  description?: string
  error?: string
}

function describeLastOperation(lastOp: { errors?: unknown; description?: string } | undefined): string {
  const errors = lastOp?.errors
  const first: unknown = Array.isArray(errors) ? errors[0] : errors
  if (first && typeof first === 'object') {
    const e = first as LastOperationError // SM's JSON, read field by field below
    const broker = e.broker_error ?? e.brokerError
    return String(broker?.description ?? broker?.Description ?? e.description ?? e.error ?? 'failed')
  }
  return lastOp?.description ?? 'The operation failed in Service Manager'
}

export default Orchestrator
