import cds from '@sap/cds'
import { clientFor, clientForSubaccount, config as smConfig, embeddedEmulator, ServiceManagerAccessError } from './service-manager/kinds'
import { throttleFor } from './service-manager/throttle'
import { ServiceManagerError } from './service-manager/errors'
import type { ServiceManagerClient } from './service-manager/client'
import { settings } from './lib/config'
import { credentialMetadataColumns } from './lib/key-columns'
import { parseJsonObject } from './lib/naming'
import { recordVerification } from './verification'
import { scanExpiry } from './key-health'

type Row = Record<string, any>

const LOG = cds.log('orchestrator')

export const MANAGED_BY = 'service-key-manager'
export const LABEL_MANAGED_BY = 'managed_by'
export const LABEL_RECORD = 'skm_id'

/**
 * What a step asks for next: nothing (finished, recorded) or another run after a delay. `nothingSent`: the
 * step sent nothing to Service Manager this time (it waits for its instance or its turn in the rate limits),
 * so its next run need not look for an object a lost answer may have created.
 */
type Outcome = { done: true } | { retryInMs: number; reason?: string; countsAsAttempt?: boolean; nothingSent?: boolean }
const DONE: Outcome = { done: true }

/**
 * A step does not wait longer than this for the rate limits while it holds a queue worker: it comes back
 * when its turn is expected (booked in the throttle), so other work, e.g. keys of instances already
 * created or other subaccounts' steps, goes on meanwhile.
 */
const DEFER_BEYOND_MS = 1500
/** A deferred step comes back this much before its turn: the queue picks due steps up with some delay. */
const DEFER_LEAD_MS = 1000

/** For an expected wait in the rate limits: when a step comes back instead (0: it goes now and waits). */
const comeBackInMs = (waitMs: number) => (waitMs > DEFER_BEYOND_MS ? waitMs - DEFER_LEAD_MS : 0)

/** A step ended for good with a message for the user. */
class StepFailed extends Error {
  constructor(message: string) {
    super(message)
  }
}

const db = () => cds.entities('btp.provisioning')
const MESSAGES = 'cds.outbox.Messages'

/** Runs `fn` in its own short transaction, so progress is persisted step by step (crash-resume). */
const inTx = <T>(fn: () => Promise<T>): Promise<T> => cds.tx(fn) as unknown as Promise<T>

const read = <T = Row>(entity: string, ID: string): Promise<T | undefined> =>
  inTx(async () => (await SELECT.one.from(db()[entity], ID)) as T | undefined)

function smMessage(e: ServiceManagerError): string {
  return e.description || e.message
}

/**
 * Runs the remote steps of the Operations rows. Each `run` event (delivered by CAP's persistent queue) does
 * a bounded piece of work and either finishes the operation or schedules itself again, so no request ever
 * waits for Service Manager, a crash loses nothing, and long Service Manager operations never hold the queue.
 */
export class Orchestrator extends cds.Service {
  private flushTimer?: NodeJS.Timeout
  private reclaimTimer?: NodeJS.Timeout
  private reclaimDue = 0

  async init() {
    this.on('run', async req => {
      const { operation } = req.data as { operation: string }
      await this.claim(operation)
      await this.execute(operation)
    })
    this.on('scanExpiry', async () => {
      await scanExpiry()
    })
    // resume whatever a previous process left behind, and pick up work of crashed peers now and then
    cds.once('served', async () => {
      if (smConfig().kind === 'emulator') await embeddedEmulator() // up before the first request needs it
      this.resume()
      await this.scheduleExpiryScan().catch(e => LOG.error('Scheduling the expiry scan failed', e))
    })
    this.flushTimer = setInterval(() => this.resume(), 60_000).unref()
    cds.once('shutdown', () => {
      clearInterval(this.flushTimer)
      clearTimeout(this.reclaimTimer)
    })
    return super.init()
  }

  /**
   * One recurring expiry scan per database, whichever app instance picks it up. (A named singleton task
   * would be the natural fit, but the queue drops the next occurrence of a named recurring task when it
   * deletes the processed one in the handler's transaction, so the scan is looked up by its event.)
   */
  private async scheduleExpiryScan() {
    await cds.tx(async () => {
      const pending = await SELECT.one.from('cds.outbox.Messages').columns('ID').where`msg like ${'%"event":"scanExpiry"%'}`
      if (pending) return
      await this.schedule('scanExpiry', {}).every(settings().expiryScanIntervalMs)
    })
  }

  private resume() {
    const queued = cds.queued(this as unknown as cds.Service) as unknown as { flush?: () => Promise<void> }
    this.reclaimAbandoned()
      .catch(e => LOG.error('Reclaiming abandoned steps failed', e))
      .then(() => queued.flush?.())
      .catch(e => LOG.error('Resuming queued steps failed', e))
  }

  /**
   * Marks this step's queue message as taken now. CAP's queue (legacyLocking: false) sets a message it takes
   * to 'processing' but leaves its lastAttemptTimestamp empty on a first attempt (and stale on a retry), and
   * retakes a 'processing' message only once lastAttemptTimestamp is older than `requires.queue.timeout`:
   * without this stamp, a step whose process died (SIGKILL, OOM) would never run again, and a retried one
   * could be taken by a second instance while the first still runs it.
   */
  private async claim(operation: string) {
    const now = new Date().toISOString()
    await inTx(async () => {
      await UPDATE(MESSAGES).set({ lastAttemptTimestamp: now }).where`status = ${'processing'} and msg like ${`%"operation":"${operation}"%`}`
    })
  }

  /**
   * Steps of processes that died: stamps messages left 'processing' without a claim time (the process died
   * between taking and stamping them, see claim()), hands those whose claim is older than the queue's
   * `timeout` back to the queue (status null), and comes back when the next one times out. The queue itself
   * plans no run for 'processing' messages, and on SQLite its query sorts them behind every message due in
   * the future (status NULL first), so it would never retake them while e.g. the expiry scan is scheduled.
   */
  private async reclaimAbandoned() {
    const queued = cds.queued(this as unknown as cds.Service) as unknown as { queued?: { timeout?: string | number } }
    const timeoutMs = (cds.utils as unknown as { ms4: (v: unknown) => number }).ms4(queued.queued?.timeout ?? '1h')
    const ours = `%"service":"${this.name}"%`
    const now = Date.now()
    const oldest = await inTx(async () => {
      await UPDATE(MESSAGES)
        .set({ lastAttemptTimestamp: new Date(now).toISOString() })
        .where`status = ${'processing'} and lastAttemptTimestamp is null and msg like ${ours}`
      const expired = new Date(now - timeoutMs).toISOString()
      const released = await UPDATE(MESSAGES).set({ status: null }).where`status = ${'processing'} and lastAttemptTimestamp < ${expired} and msg like ${ours}`
      if (released) LOG.warn(`Retaking ${released} step(s) abandoned by a process that stopped`)
      return (await SELECT.one.from(MESSAGES).columns`min(lastAttemptTimestamp) as at`.where`status = ${'processing'} and msg like ${ours}`) as
        | { at?: string | Date | null }
        | undefined
    })
    if (!oldest?.at) return
    const due = new Date(oldest.at).getTime() + timeoutMs + 250
    if (this.reclaimTimer && this.reclaimDue <= due) return
    clearTimeout(this.reclaimTimer)
    this.reclaimDue = due
    this.reclaimTimer = setTimeout(() => {
      this.reclaimTimer = undefined
      this.resume()
    }, Math.max(0, due - Date.now())).unref()
  }

  /** Puts a step into the persistent queue; part of the caller's transaction. */
  static async enqueue(operation: string, afterMs = 0) {
    const orchestrator = await cds.connect.to('orchestrator')
    const queued = cds.queued(orchestrator)
    if (afterMs > 0) await queued.schedule('run', { operation }).after(afterMs)
    else await queued.send('run', { operation })
  }

  /**
   * Queues the first run of an instance create. When SM's limits will hold it anyway, it is queued for
   * its expected turn (booked in the subaccount's throttle), so that a burst of requests does not run
   * every step once only to defer it.
   */
  static async enqueueInstanceCreate(operation: string, subaccountGuid: string) {
    const waitMs = throttleFor(subaccountGuid)?.book({ method: 'POST', path: '/v1/service_instances' }, operation) ?? 0
    await Orchestrator.enqueuePlanned(operation, comeBackInMs(waitMs))
  }

  /** Queues the first run of a key create: a key of an instance still being created waits for it. */
  static async enqueueKeyCreate(operation: string, inst: Row) {
    await Orchestrator.enqueuePlanned(operation, inst.state_code === 'Creating' ? await instanceWaitMs(inst) : 0)
  }

  private static async enqueuePlanned(operation: string, afterMs: number) {
    if (afterMs > 0) await UPDATE(db().Operations, operation).with({ nextAttempt: new Date(Date.now() + afterMs).toISOString() })
    await Orchestrator.enqueue(operation, afterMs)
  }

  static labelsFor(recordId: string): Record<string, string[]> {
    return { [LABEL_MANAGED_BY]: [MANAGED_BY], [LABEL_RECORD]: [recordId] }
  }

  static isOurs(obj: { labels?: Record<string, string[]> }, recordId?: string): boolean {
    const labels = obj.labels ?? {}
    if (!labels[LABEL_MANAGED_BY]?.includes(MANAGED_BY)) return false
    return recordId === undefined || !!labels[LABEL_RECORD]?.includes(recordId)
  }

  // ---- dispatch ------------------------------------------------------------------------------------

  async execute(operationId: string) {
    const op = await read('Operations', operationId)
    if (!op || op.state_code === 'succeeded' || op.state_code === 'failed') return
    if (op.deadline && Date.now() > Date.parse(op.deadline)) {
      const seconds = Math.round(settings().stepDeadlineMs / 1000)
      return this.failOperation(op, `The step did not finish within ${seconds} seconds.`)
    }
    let outcome: Outcome
    try {
      outcome = await this.step(op)
    } catch (e) {
      if (e instanceof StepFailed) return this.failOperation(op, e.message)
      if (e instanceof ServiceManagerAccessError) return this.failOperation(op, e.message)
      if (e instanceof ServiceManagerError) {
        if (!e.retryable) return this.failOperation(op, smMessage(e))
        outcome = { retryInMs: e.retryAfterMs ?? this.backoff(op.attempts), reason: smMessage(e), countsAsAttempt: true }
      } else throw e
    }
    if ('retryInMs' in outcome) await this.reschedule(op, outcome)
  }

  private step(op: Row): Promise<Outcome> {
    const key = `${op.type}/${op.targetType}`
    switch (key) {
      case 'create/instance':
        return this.createInstance(op)
      case 'delete/instance':
        return this.deleteInstance(op)
      case 'create/serviceKey':
        return this.createKey(op)
      case 'delete/serviceKey':
        return this.deleteKey(op)
      case 'retire/serviceKey':
        return this.retireKey(op)
      default:
        throw new StepFailed(`Unknown step ${key}`)
    }
  }

  private backoff(attempts: number): number {
    const s = settings()
    const base = Math.min(s.retryMaxMs, s.pollInitialMs * 2 ** Math.min(attempts ?? 0, 16))
    return Math.round(base * (0.8 + Math.random() * 0.4))
  }

  private pollDelay(op: Row): number {
    const s = settings()
    const started = op.startedAt ? Date.parse(op.startedAt) : Date.now()
    // poll quickly at first, then back off towards pollMax as the operation keeps running
    return Math.min(s.pollMaxMs, Math.max(s.pollInitialMs, Math.round((Date.now() - started) / 4)))
  }

  /**
   * The follow-up run goes into the queue in the step's own transaction, which also deletes the message
   * being processed: a step never has two messages, whatever happens between the two.
   */
  private async reschedule(op: Row, outcome: { retryInMs: number; reason?: string; countsAsAttempt?: boolean; nothingSent?: boolean }) {
    const { Operations } = db()
    const at = new Date(Date.now() + outcome.retryInMs).toISOString()
    const changes: Row = outcome.nothingSent ? { nextAttempt: at } : { nextAttempt: at, state_code: 'running' }
    if (outcome.countsAsAttempt) {
      changes.attempts = (op.attempts ?? 0) + 1
      if (outcome.reason) changes.error = outcome.reason.slice(0, 2000)
    }
    if (!op.startedAt && !outcome.nothingSent) changes.startedAt = new Date().toISOString()
    await UPDATE(Operations, op.ID).with(changes)
    await Orchestrator.enqueue(op.ID, Math.max(1, outcome.retryInMs))
  }

  private async finishOperation(op: Row, changes: { entity: string; ID: string; data: Row }[] = []) {
    const { Operations } = db()
    await inTx(async () => {
      for (const c of changes) await UPDATE(db()[c.entity], c.ID).with(c.data)
      await UPDATE(Operations, op.ID).with({ state_code: 'succeeded', finishedAt: new Date().toISOString(), error: null })
    })
  }

  private async failOperation(op: Row, message: string) {
    const { Operations, ServiceInstances, ServiceKeys } = db()
    const text = message.slice(0, 2000)
    LOG.warn(`${op.type} ${op.targetType} failed:`, text)
    await inTx(async () => {
      await UPDATE(Operations, op.ID).with({ state_code: 'failed', finishedAt: new Date().toISOString(), error: text })
      const target = op.targetType === 'instance' ? { entity: ServiceInstances, ID: op.instance_ID } : { entity: ServiceKeys, ID: op.serviceKey_ID }
      // only the step the record currently waits for may change its state
      await UPDATE(target.entity).set({ state_code: 'Failed', lastError: text }).where({ ID: target.ID, lastOperation_ID: op.ID })
    })
  }

  private async markRunning(op: Row, data: Row) {
    const { Operations } = db()
    await inTx(async () => {
      await UPDATE(Operations, op.ID).with({ state_code: 'running', startedAt: op.startedAt ?? new Date().toISOString(), ...data })
    })
    Object.assign(op, data)
  }

  /** Come back later instead of waiting long for the rate limits (see DEFER_BEYOND_MS). */
  private deferral(sm: ServiceManagerClient, op: Row, method: 'POST' | 'DELETE', path: string): Outcome | undefined {
    const later = comeBackInMs(sm.expectedWait(method, path, op.ID))
    return later > 0 ? { retryInMs: later, nothingSent: true } : undefined
  }

  private async clientOf(subaccountId: string): Promise<ServiceManagerClient> {
    const sub = await read('Subaccounts', subaccountId)
    if (!sub) throw new StepFailed(`Subaccount ${subaccountId} no longer exists`)
    return clientFor(sub as { subaccountId: string; displayName: string })
  }

  /**
   * Waits a bounded slice for an SM operation. Returns true when it succeeded, false when it is still running;
   * throws StepFailed with SM's message when it failed.
   */
  private async awaitOperation(sm: ServiceManagerClient, op: Row, location: string, deleting = false): Promise<boolean> {
    const s = settings()
    const deadline = Math.min(Date.parse(op.deadline), Date.now() + s.pollSliceMs)
    try {
      const result = await sm.waitForOperation(location, { deadline, expectDelete: deleting })
      if (result.state === 'failed') throw new StepFailed(describeLastOperation(result))
      return true
    } catch (e) {
      if (!(e instanceof ServiceManagerError)) throw e
      if (e.code === 'OperationTimeout') return false
      if (e.code === 'OperationFailed') throw new StepFailed(smMessage(e))
      if (e.status === 404 && deleting) return true
      throw e
    }
  }

  // ---- instances -----------------------------------------------------------------------------------

  private async createInstance(op: Row): Promise<Outcome> {
    const { ServiceInstances } = db()
    const inst = await read('ServiceInstances', op.instance_ID)
    if (!inst || inst.state_code !== 'Creating' || inst.lastOperation_ID !== op.ID) {
      await this.finishOperation(op) // superseded, e.g. by a delete
      return DONE
    }
    const sm = await this.clientOf(inst.subaccount_ID)

    if (!inst.smId) {
      // idempotency: once a POST may have been sent (the step ran before), look our object up first
      const found = op.state_code === 'running' ? await this.findOurs(sm, 'instance', inst.ID) : undefined
      let smId = found?.id as string | undefined
      let location: string | undefined
      if (!smId) {
        const later = this.deferral(sm, op, 'POST', '/v1/service_instances')
        if (later) return later
        await this.markRunning(op, {})
        const plan = await read('ServicePlans', inst.plan_ID)
        if (!plan?.smId) throw new StepFailed('The plan is no longer in the catalog of the subaccount')
        try {
          const res = await sm.createInstance(
            {
              name: inst.name,
              service_plan_id: plan.smId,
              parameters: parseJsonObject(inst.parameters),
              labels: Orchestrator.labelsFor(inst.ID)
            },
            { async: true, booking: op.ID }
          )
          if (res.kind === 'accepted') [smId, location] = [res.id, res.location]
          else smId = res.resource?.id ?? res.id
        } catch (e) {
          if (e instanceof ServiceManagerError && e.status === 409) {
            const byName = await sm.listInstances({ fieldQuery: [{ key: 'name', op: 'eq', value: inst.name }] })
            const mine = byName.find(i => Orchestrator.isOurs(i, inst.ID))
            if (!mine) throw new StepFailed(`Service Manager already holds an instance named "${inst.name}" that was not created by this service`)
            smId = mine.id
          } else throw e
        }
      }
      await inTx(async () => { await UPDATE(ServiceInstances, inst.ID).with({ smId }) })
      await this.markRunning(op, { smLocation: location ?? null })
      inst.smId = smId
      // SM works on it now: the first look comes in the next run, so no worker waits meanwhile
      if (location) return { retryInMs: this.pollDelay(op) }
    }

    if (op.smLocation) {
      const finished = await this.awaitOperation(sm, op, op.smLocation)
      if (!finished) return { retryInMs: this.pollDelay(op) }
      // the create operation succeeded: the instance is ready
      await this.finishOperation(op, [{ entity: 'ServiceInstances', ID: inst.ID, data: { state_code: 'Ready', lastError: null } }])
      await this.wakeKeysOf(inst.ID)
      return DONE
    }
    const remote = await sm.getInstance(inst.smId)
    if (!remote) throw new StepFailed('The instance vanished from Service Manager while it was being created')
    const state = remote.last_operation?.state
    if (state === 'failed') throw new StepFailed(describeLastOperation(remote.last_operation))
    if (!remote.ready) return { retryInMs: this.pollDelay(op) }
    await this.finishOperation(op, [{ entity: 'ServiceInstances', ID: inst.ID, data: { state_code: 'Ready', lastError: null } }])
    await this.wakeKeysOf(inst.ID)
    return DONE
  }

  /**
   * Keys requested together with their instance wait for it without polling: when the instance is Ready,
   * their already queued step is moved to now (the same queue message, so a step never runs twice).
   */
  private async wakeKeysOf(instanceId: string) {
    const { ServiceKeys } = db()
    const woken = await inTx(async () => {
      const waiting: Row[] = await SELECT.from(ServiceKeys).columns('lastOperation_ID').where({ instance_ID: instanceId, state_code: 'Creating' })
      let count = 0
      for (const { lastOperation_ID } of waiting) {
        if (!lastOperation_ID) continue
        count += (await UPDATE('cds.outbox.Messages')
          .set({ timestamp: new Date().toISOString() })
          .where`status is null and msg like ${`%"operation":"${lastOperation_ID}"%`}`) as unknown as number
      }
      return count
    })
    if (woken) this.resume()
  }

  private async deleteInstance(op: Row): Promise<Outcome> {
    const { ServiceKeys } = db()
    const inst = await read('ServiceInstances', op.instance_ID)
    if (!inst || inst.state_code !== 'Deleting' || inst.lastOperation_ID !== op.ID) {
      await this.finishOperation(op)
      return DONE
    }
    // keys first: the instance goes only when none of its keys is left
    const keys: Row[] = await inTx(async () => SELECT.from(ServiceKeys).where({ instance_ID: inst.ID, state_code: { '!=': 'Deleted' } }))
    if (keys.some(k => k.state_code === 'Deleting')) return { retryInMs: settings().pollInitialMs * 2 }
    if (keys.length) throw new StepFailed(`The instance cannot be deleted because its key "${keys[0].name}" could not be deleted`)

    const sm = await this.clientOf(inst.subaccount_ID)
    const pending = await this.removeFromSm(sm, op, 'instance', inst.smId ?? (await this.findOurs(sm, 'instance', inst.ID))?.id)
    if (pending) return pending
    await this.finishOperation(op, [{ entity: 'ServiceInstances', ID: inst.ID, data: { state_code: 'Deleted', lastError: null } }])
    return DONE
  }

  // ---- keys ----------------------------------------------------------------------------------------

  private async createKey(op: Row): Promise<Outcome> {
    const { ServiceKeys } = db()
    const key = await read('ServiceKeys', op.serviceKey_ID)
    if (!key || key.state_code !== 'Creating' || key.lastOperation_ID !== op.ID) {
      await this.finishOperation(op)
      return DONE
    }
    const inst = await read('ServiceInstances', key.instance_ID)
    if (!inst) throw new StepFailed('The service instance no longer exists')
    // one call does the chore: wait for the instance
    if (inst.state_code === 'Creating') return { retryInMs: await inTx(() => instanceWaitMs(inst)), nothingSent: true }
    if (inst.state_code !== 'Ready') throw new StepFailed(`The service instance "${inst.name}" is ${inst.state_code}: ${inst.lastError ?? ''}`.trim())
    const sm = await this.clientOf(inst.subaccount_ID)

    let credentials: Record<string, unknown> | undefined
    if (!key.smId) {
      const found = op.state_code === 'running' ? await this.findOurs(sm, 'binding', key.ID) : undefined
      let smId = found?.id as string | undefined
      let location: string | undefined
      if (!smId) {
        const later = this.deferral(sm, op, 'POST', '/v1/service_bindings')
        if (later) return later
        await this.markRunning(op, {})
        try {
          const res = await sm.createBinding(
            {
              name: key.name,
              service_instance_id: inst.smId,
              parameters: parseJsonObject(key.parameters),
              labels: Orchestrator.labelsFor(key.ID)
            },
            { async: false, booking: op.ID }
          )
          if (res.kind === 'accepted') [smId, location] = [res.id, res.location]
          else [smId, credentials] = [res.resource?.id ?? res.id, res.resource?.ready === false ? undefined : res.resource?.credentials]
        } catch (e) {
          if (e instanceof ServiceManagerError && e.status === 409) {
            const byName = await sm.listBindings({
              fieldQuery: [
                { key: 'service_instance_id', op: 'eq', value: inst.smId },
                { key: 'name', op: 'eq', value: key.name }
              ]
            })
            const mine = byName.find(b => Orchestrator.isOurs(b, key.ID))
            if (!mine) throw new StepFailed(`Service Manager already holds a key named "${key.name}" for this instance that was not created by this service`)
            smId = mine.id
          } else throw e
        }
      }
      await inTx(async () => { await UPDATE(ServiceKeys, key.ID).with({ smId }) })
      await this.markRunning(op, { smLocation: location ?? null })
      key.smId = smId
    }

    if (!credentials) {
      if (op.smLocation) {
        const finished = await this.awaitOperation(sm, op, op.smLocation)
        if (!finished) return { retryInMs: this.pollDelay(op) }
      }
      const remote = await sm.getBinding(key.smId)
      if (!remote) throw new StepFailed('The key vanished from Service Manager while it was being created')
      if (remote.last_operation?.state === 'failed') throw new StepFailed(describeLastOperation(remote.last_operation))
      if (remote.ready === false) return { retryInMs: this.pollDelay(op) }
      credentials = (remote.credentials ?? {}) as Record<string, unknown>
    }
    const ownCertificate = key.certificate_ID ? await read('Certificates', key.certificate_ID) : undefined
    await this.finishOperation(op, [
      {
        entity: 'ServiceKeys',
        ID: key.ID,
        data: {
          state_code: 'Ready',
          lastError: null,
          ...credentialMetadataColumns(credentials, ownCertificate?.pem)
        }
      }
    ])
    // check right away that the key works; an own certificate's private key stays with its owner, so
    // such keys are verified on demand with the key at hand
    let works: boolean | undefined
    if (settings().verifyAfterCreate && !ownCertificate) {
      try {
        works = (await recordVerification(key, credentials, {})).ok
      } catch (e) {
        LOG.error('Recording the verification failed', e)
      }
    }
    // a rotation goes on only with a successor that works (or one whose private key is not ours to test)
    if (key.rotatedFrom_ID && works !== false) await this.handOver(key)
    return DONE
  }

  /** Rotation: the successor takes over the registrations; the old key is retired after the overlap. */
  private async handOver(successor: Row) {
    // in the step's own transaction, like the verification before it (no second connection while it is open)
    const { Registrations, Operations, ServiceKeys, ServiceInstances } = db()
    const old = await SELECT.one.from(ServiceKeys, successor.rotatedFrom_ID)
    if (!old || old.state_code !== 'Ready') return
    const ID = cds.utils.uuid()
    const overlap = settings().rotationOverlapMs
    await INSERT.into(Operations).entries({
      ID,
      type: 'retire',
      targetType: 'serviceKey',
      serviceKey_ID: old.ID,
      instance_ID: old.instance_ID,
      subaccount_ID: (await SELECT.one.from(ServiceInstances, old.instance_ID))?.subaccount_ID,
      state_code: 'pending',
      nextAttempt: new Date(Date.now() + overlap).toISOString(),
      deadline: new Date(Date.now() + overlap + settings().stepDeadlineMs).toISOString()
    })
    await UPDATE(Registrations).set({ serviceKey_ID: successor.ID }).where({ serviceKey_ID: old.ID, status: 'Active' })
    await Orchestrator.enqueue(ID, overlap)
  }

  /** Deletes a key replaced by rotation, unless something else happened to it meanwhile. */
  private async retireKey(op: Row): Promise<Outcome> {
    const { ServiceKeys } = db()
    const key = await read('ServiceKeys', op.serviceKey_ID)
    if (key?.state_code === 'Ready') {
      await inTx(async () => {
        await UPDATE(ServiceKeys, key.ID).with({ state_code: 'Deleting', lastOperation_ID: op.ID, lastError: null })
      })
    }
    return this.deleteKey(op)
  }

  private async deleteKey(op: Row): Promise<Outcome> {
    const { Registrations } = db()
    const key = await read('ServiceKeys', op.serviceKey_ID)
    if (!key || key.state_code !== 'Deleting' || key.lastOperation_ID !== op.ID) {
      await this.finishOperation(op)
      return DONE
    }
    // consumers first: never leave a registration pointing at a credential that is gone
    await inTx(async () => { await UPDATE(Registrations).set({ status: 'Removed' }).where({ serviceKey_ID: key.ID }) })
    const inst = await read('ServiceInstances', key.instance_ID)
    const sm = await this.clientOf(op.subaccount_ID ?? inst?.subaccount_ID)
    const pending = await this.removeFromSm(sm, op, 'binding', key.smId ?? (await this.findOurs(sm, 'binding', key.ID))?.id)
    if (pending) return pending
    await this.finishOperation(op, [{ entity: 'ServiceKeys', ID: key.ID, data: { state_code: 'Deleted', lastError: null } }])
    return DONE
  }

  /**
   * The Service Manager side of a delete: sends it in its turn of the rate limits, then looks until the
   * object is gone (404 on delete = done). Undefined once nothing is left in SM (or nothing was there),
   * otherwise when to look again.
   */
  private async removeFromSm(sm: ServiceManagerClient, op: Row, kind: 'instance' | 'binding', smId: string | undefined): Promise<Outcome | undefined> {
    if (!smId) return undefined
    if (!op.smLocation) {
      const later = this.deferral(sm, op, 'DELETE', `/v1/service_${kind}s/${smId}`)
      if (later) return later
      const options = { async: true, booking: op.ID }
      const res = kind === 'instance' ? await sm.deleteInstance(smId, options) : await sm.deleteBinding(smId, options)
      if (res.kind !== 'accepted') return undefined
      await this.markRunning(op, { smLocation: res.location })
      return { retryInMs: this.pollDelay(op) }
    }
    const finished = await this.awaitOperation(sm, op, op.smLocation, true)
    if (!finished) return { retryInMs: this.pollDelay(op) }
    const still = kind === 'instance' ? await sm.getInstance(smId) : await sm.getBinding(smId)
    return still ? { retryInMs: this.pollDelay(op) } : undefined
  }

  /** Our object in SM for a record, found by label: how a retried create adopts what a lost answer created. */
  private async findOurs(sm: ServiceManagerClient, kind: 'instance' | 'binding', recordId: string) {
    const labelQuery = [{ key: LABEL_RECORD, op: 'eq' as const, value: recordId }]
    const found = kind === 'instance' ? await sm.listInstances({ labelQuery }) : await sm.listBindings({ labelQuery })
    return found.find(o => Orchestrator.isOurs(o, recordId))
  }

  // ---- refresh (synchronous reads on demand) ---------------------------------------------------------

  static async refreshInstance(inst: Row) {
    if (!inst.smId) return
    const { ServiceInstances } = db()
    const sm = await clientForSubaccount(inst.subaccount_ID)
    const remote = await sm.getInstance(inst.smId)
    if (!remote) {
      if (inst.state_code !== 'Deleted') await UPDATE(ServiceInstances, inst.ID).with({ state_code: 'Failed', lastError: 'The instance no longer exists in Service Manager' })
      return
    }
    if (remote.ready && inst.state_code === 'Failed') await UPDATE(ServiceInstances, inst.ID).with({ state_code: 'Ready', lastError: null })
  }

  static async refreshKey(key: Row) {
    if (!key.smId) return
    const { ServiceKeys } = db()
    const inst = await SELECT.one.from(db().ServiceInstances, key.instance_ID)
    const sm = await clientForSubaccount(inst.subaccount_ID)
    const remote = await sm.getBinding(key.smId)
    if (!remote) {
      if (key.state_code !== 'Deleted') await UPDATE(ServiceKeys, key.ID).with({ state_code: 'Failed', lastError: 'The key no longer exists in Service Manager' })
      return
    }
    const own = key.certificate_ID ? await SELECT.one.from(db().Certificates, key.certificate_ID) : undefined
    await UPDATE(ServiceKeys, key.ID).with({
      ...credentialMetadataColumns((remote.credentials ?? {}) as Record<string, unknown>, own?.pem),
      ...(remote.ready && key.state_code === 'Failed' ? { state_code: 'Ready', lastError: null } : {})
    })
  }
}

/**
 * How long a key waits for its instance that is still being created before it looks again. It is woken
 * when the instance is Ready (wakeKeysOf); until then it looks only after the instance's next step, which
 * may wait long for the rate limits.
 */
async function instanceWaitMs(inst: Row): Promise<number> {
  const step = inst.lastOperation_ID ? await SELECT.one.from(db().Operations, inst.lastOperation_ID).columns('nextAttempt') : undefined
  const next = step?.nextAttempt ? Math.max(0, Date.parse(step.nextAttempt) - Date.now()) : 0
  return next + settings().pollMaxMs
}

function describeLastOperation(lastOp: { errors?: unknown; description?: string } | undefined): string {
  const errors = lastOp?.errors
  const first = Array.isArray(errors) ? errors[0] : errors
  if (first && typeof first === 'object') {
    const e = first as Record<string, any>
    const broker = e.broker_error ?? e.brokerError
    return String(broker?.description ?? broker?.Description ?? e.description ?? e.error ?? 'failed')
  }
  return lastOp?.description ?? 'The operation failed in Service Manager'
}

export default Orchestrator
