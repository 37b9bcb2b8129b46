import cds from '@sap/cds'
import { DesiredState, LifecycleStateCode, Provisionings, Registration, Registrations, ServiceInstances, ServiceKeys } from '#cds-models/btp/provisioning'
import type { ServiceKey } from '#cds-models/btp/provisioning'
import { announce, type EventName } from './events'
import { successorFailed } from './rotation'
import type { Kind, Managed } from './orchestrator'

/**
 * Events of the lifecycle of instances, keys and provisioning flows, for other CAP services: emitted once the
 * reconciler's result is committed (never for a state that was rolled back), once per change of state. No
 * payload carries a secret: IDs, names, purposes and messages only.
 */

const LOG = cds.log('lifecycle-events')

/** What an event context offers to run code once its transaction has committed. */
type Hooks = { on?: (event: string, fn: () => void) => void }

/** Runs `fn` after the transaction commits (right away when there is none). */
export function afterCommit(tx: unknown, fn: () => Promise<void> | void) {
  // a transaction's context, or the current one: either may take a 'succeeded' handler
  const ctx: Hooks | undefined = (tx as { context?: Hooks } | undefined)?.context ?? (cds.context as Hooks | undefined)
  const run = () => {
    Promise.resolve()
      .then(fn)
      .catch(e => LOG.error('Emitting an event failed:', e instanceof Error ? e.message : String(e)))
  }
  if (ctx?.on) ctx.on('succeeded', run)
  else run()
}

/** Emits one event in a transaction of its own (after the one that decided it has committed). */
function emitLater(tx: unknown, event: EventName, data: Record<string, unknown>) {
  afterCommit(tx, async () => {
    await cds.tx({ user: new cds.User.Privileged() }, () => announce(event, data))
  })
}

/**
 * Called by the reconciler in the transaction that settles an object (srv/orchestrator.ts conclude()):
 * `before` is the object as the pass read it, `state` what it settles to. Wakes the provisioning flows that
 * wait for an instance or a key, and emits the event of the change, after commit.
 */
export async function concluded(tx: unknown, kind: Kind, before: Managed, state: LifecycleStateCode, lastError?: string | null) {
  if (before.state_code === state && before.observedGeneration === before.generation) return // no change
  if (kind === 'ServiceInstances' || kind === 'ServiceKeys') {
    const ref = kind === 'ServiceInstances' ? 'instance_ID' : 'serviceKey_ID'
    const woken = Number(
      await UPDATE(Provisionings)
        .set({ reconcileAt: new Date().toISOString() })
        .where({ [ref]: before.ID, state_code: LifecycleStateCode.Creating, desired: DesiredState.present })
    )
    if (woken) afterCommit(tx, () => void cds.connect.to('orchestrator').then(o => (o as unknown as { wake(): void }).wake()))
  }
  if (kind === 'ServiceInstances') {
    // (an update of a Ready instance is no news for consumers)
    if (state !== LifecycleStateCode.Ready || before.desired !== DesiredState.present || before.state_code === LifecycleStateCode.Ready) return
    emitLater(tx, 'InstanceReady', { instance: before.ID, name: before.name, subaccount: before.subaccount_ID, template: before.template_ID ?? null })
  } else if (kind === 'ServiceKeys') {
    const key = (await SELECT.one.from(ServiceKeys, before.ID).columns('ID', 'name', 'instance_ID', 'purpose', 'rotatedFrom_ID', 'credentialType')) as
      | Pick<ServiceKey, 'ID' | 'name' | 'instance_ID' | 'purpose' | 'rotatedFrom_ID' | 'credentialType'>
      | undefined
    if (!key) return
    const instance = key.instance_ID
    const inst = instance ? await SELECT.one.from(ServiceInstances, instance, i => i.subaccount_ID) : undefined
    const base = { serviceKey: key.ID, name: key.name, instance: instance, subaccount: inst?.subaccount_ID ?? null }
    if (state === LifecycleStateCode.Deleted) {
      // registrations that waited for a manual verify go with the key, like the active ones
      await UPDATE(Registrations).set({ status: Registration.status.Removed }).where({ serviceKey_ID: key.ID, status: Registration.status.Pending })
      return emitLater(tx, 'KeyDeleted', base)
    }
    // a rotation's successor that could not be created: the rotation stops (srv/rotation.ts)
    if (state === LifecycleStateCode.Failed && before.desired === DesiredState.present && key.rotatedFrom_ID) return successorFailed({ ...before, ...key }, lastError, tx)
    if (state !== LifecycleStateCode.Ready || before.desired !== DesiredState.present) return
    emitLater(tx, 'KeyReady', { ...base, purpose: key.purpose ?? null, credentialType: key.credentialType })
    // a rotation's successor: KeyRotated comes with its hand-over (srv/rotation.ts)
  } else if (kind === 'Provisionings' && state === LifecycleStateCode.Failed) {
    await UPDATE(Provisionings, before.ID).with({ status: 'failed' })
    const flow = await SELECT.one.from(Provisionings, before.ID)
    if (!flow) return
    emitLater(tx, 'ProvisioningFailed', {
      provisioning: flow.ID,
      template: flow.template_ID,
      subaccount: flow.subaccount_ID,
      instanceName: flow.instanceName,
      keyName: flow.keyName,
      message: lastError ?? null
    })
  }
}

/** A registration whose key vanished (srv/sweep.ts): RegistrationDangling after commit. */
export function registrationDangling(
  registration: Pick<Registration, 'ID' | 'consumerType' | 'tenant'>,
  key: Pick<ServiceKey, 'ID' | 'name'>,
  subaccountId: string | undefined
) {
  emitLater(undefined, 'RegistrationDangling', {
    registration: registration.ID,
    serviceKey: key.ID,
    name: key.name,
    consumerType: registration.consumerType,
    tenant: registration.tenant,
    subaccount: subaccountId ?? null
  })
}
