import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import type { ServiceInstance, ServiceKey, Subaccount } from '#cds-models/btp/provisioning'
import {
  DesiredState,
  Finding,
  Findings,
  LifecycleStateCode,
  OperationStateCode,
  Operations,
  Registration,
  Registrations,
  ServiceInstances,
  ServiceKeys,
  ServiceOfferings
} from '#cds-models/btp/provisioning'
import { clientFor } from './service-manager/kinds'
import type { SMBinding, SMInstance } from './service-manager/types'
import { LABEL_MANAGED_BY, LABEL_RECORD, MANAGED_BY, Orchestrator, requestChange, requestCreate } from './orchestrator'
import { keyScope } from './lib/key-scope'
import { isAutomaticKey, markDangling } from './provision'
import { registrationDangling } from './lifecycle-events'
import { sweepCloudFoundry } from './cloud-foundry/sweep'
import { isCloudFoundry } from './cloud-foundry/environments'

const LOG = cds.log('sweep')

/** Records in a transitional state whose step has not moved for this long are reported as stuck. */
const STUCK_AFTER_MS = 2 * 3600_000

const recordIdOf = (o: { labels?: Record<string, string[]> }) =>
  o.labels?.[LABEL_MANAGED_BY]?.includes(MANAGED_BY) ? o.labels?.[LABEL_RECORD]?.[0] : undefined

type Category = NonNullable<Finding['category']>

/** A finding of a sweep, before it is recorded. */
type Found = Pick<Finding, 'smId' | 'name' | 'instanceSmId' | 'instance_ID' | 'serviceKey_ID'> & {
  category: Category
  resourceType: NonNullable<Finding['resourceType']>
  /** where the object lives: `cloudfoundry` (and its space) or, left out, Service Manager */
  environment?: 'cloudfoundry'
  space?: string | null
  detail: string
}

/**
 * Compares a subaccount's Service Manager with our records and records what is out of line as open
 * Findings (one per object and category; findings already ignored are not reported again).
 */
export async function sweepSubaccount(sub: Subaccount): Promise<Record<Category, number>> {
  const sm = await clientFor({ subaccountId: sub.subaccountId ?? '', displayName: sub.displayName ?? undefined, destination: sub.destination })
  const [remoteInstances, remoteBindings] = await Promise.all([sm.listInstances(), sm.listBindings()])
  const instances: ServiceInstance[] = await SELECT.from(ServiceInstances).where({ subaccount_ID: sub.ID })
  const keys: ServiceKey[] = instances.length ? await SELECT.from(ServiceKeys).where({ instance_ID: { in: instances.map(i => i.ID) } }) : []
  const instanceById = new Map(instances.map(i => [i.ID, i]))
  const keyById = new Map(keys.map(k => [k.ID, k]))
  // objects in a Cloud Foundry space are swept in CF; SM lists them too (platform cloudfoundry), as ours
  const cf = await sweepCloudFoundry(sub, instances, keys)
  const remoteInstanceIds = new Set(remoteInstances.map(i => i.id))
  const remoteBindingIds = new Set(remoteBindings.map(b => b.id))
  const findings: Found[] = []
  const remoteInstanceById = new Map(remoteInstances.map(i => [i.id, i]))
  const recordBySmId = new Map(instances.flatMap(i => (i.smId ? [[i.smId, i] as const] : [])))
  type Place = Pick<Found, 'environment' | 'space'>
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined)
  /** Where an instance lives: CF when it is a CF record of ours, or when SM lists it with a Cloud Foundry context. */
  const placeOf = (instanceSmId: string | undefined, context?: Record<string, unknown>): Place => {
    const record = instanceSmId ? recordBySmId.get(instanceSmId) : undefined
    if (record) return isCloudFoundry(record) ? { environment: 'cloudfoundry', space: record.space ?? null } : {}
    const ctx = context ?? (instanceSmId ? remoteInstanceById.get(instanceSmId)?.context : undefined)
    if (ctx?.platform !== 'cloudfoundry') return {}
    return { environment: 'cloudfoundry', space: text(ctx.space_name) ?? cf.spaces.get(text(ctx.space_guid) ?? '') ?? null }
  }
  const placeOfRecord = (instanceId: string | null | undefined): Place => {
    const record = instanceId ? instanceById.get(instanceId) : undefined
    return record && isCloudFoundry(record) ? { environment: 'cloudfoundry', space: record.space ?? null } : {}
  }

  /** An object in SM against our record of it; `instanceSmId`: a binding's instance. */
  const inspect = (kind: 'instance' | 'binding', o: SMInstance | SMBinding, instanceSmId: string | undefined, record: ServiceInstance | ServiceKey | undefined) => {
    if (cf.ours.has(o.id)) return
    const recordId = recordIdOf(o)
    const context = 'context' in o && o.context?.platform === 'cloudfoundry' ? o.context : undefined
    const base = { resourceType: kind, smId: o.id, name: o.name, instanceSmId, ...placeOf(kind === 'instance' ? o.id : instanceSmId, context) }
    if (!recordId) findings.push({ category: 'unmanaged', ...base, detail: `Not created by this service` })
    else if (!record) findings.push({ category: 'orphan', ...base, detail: `Carries our labels, but record ${recordId} is unknown` })
    else if (record.state_code === LifecycleStateCode.Deleted) {
      const ref = kind === 'instance' ? { instance_ID: record.ID } : { serviceKey_ID: record.ID }
      findings.push({ category: 'orphan', ...base, ...ref, detail: `Our record says Deleted, but the object still exists` })
    }
  }
  for (const o of remoteInstances) inspect('instance', o, undefined, instanceById.get(recordIdOf(o) ?? ''))
  for (const o of remoteBindings) inspect('binding', o, o.service_instance_id, keyById.get(recordIdOf(o) ?? ''))

  // records whose object is gone
  for (const i of instances)
    if (i.state_code === LifecycleStateCode.Ready && i.smId && !remoteInstanceIds.has(i.smId) && !cf.records.has(i.ID ?? ''))
      findings.push({ category: 'vanished', resourceType: 'instance', smId: i.smId, name: i.name, instance_ID: i.ID, detail: 'The instance no longer exists in Service Manager' })
  for (const k of keys)
    if (k.state_code === LifecycleStateCode.Ready && k.smId && !remoteBindingIds.has(k.smId) && !cf.records.has(k.ID ?? '')) {
      findings.push({ category: 'vanished', resourceType: 'binding', smId: k.smId, name: k.name, serviceKey_ID: k.ID, detail: 'The key no longer exists in Service Manager' })
      // its consumers still hold it: their registrations are Dangling (RegistrationDangling after commit)
      const dangling = await markDangling(k)
      for (const r of dangling) registrationDangling(r, k, sub.ID)
      if (dangling.length)
        findings.push({ category: 'dangling', resourceType: 'binding', smId: k.smId, name: k.name, serviceKey_ID: k.ID, ...placeOfRecord(k.instance_ID), detail: `Registered with ${dangling.map(r => `${r.consumerType} ${r.tenant}`).join(', ')}, which still hold the vanished key: remove it there`.slice(0, 2000) })
    }

  findings.push(...cf.findings)

  // records stuck in a transitional state
  const transitional = [...instances.map(r => ['instance', r] as const), ...keys.map(r => ['binding', r] as const)].filter(
    ([, r]) => r.state_code === LifecycleStateCode.Creating || r.state_code === LifecycleStateCode.Deleting
  )
  for (const [kind, r] of transitional) {
    const op = r.lastOperation_ID ? await SELECT.one.from(Operations, r.lastOperation_ID) : undefined
    const lastMove = Date.parse(op?.modifiedAt ?? r.modifiedAt ?? '')
    const finished = op && (op.state_code === OperationStateCode.succeeded || op.state_code === OperationStateCode.failed)
    if (!op || finished || Date.now() - lastMove > STUCK_AFTER_MS) {
      const ref = kind === 'instance' ? { instance_ID: r.ID } : { serviceKey_ID: r.ID }
      const instanceId = 'instance_ID' in r ? r.instance_ID : r.ID
      findings.push({ category: 'stuck', resourceType: kind, smId: r.smId, name: r.name, ...ref, ...placeOfRecord(instanceId), detail: `${r.state_code} since ${new Date(lastMove).toISOString()}` })
    }
  }

  const counts: Record<Category, number> = { orphan: 0, vanished: 0, stuck: 0, unmanaged: 0, dangling: 0 }
  for (const f of findings) {
    counts[f.category]++
    const same = await SELECT.one.from(Findings).where({ subaccount_ID: sub.ID, category: f.category, smId: f.smId ?? null, instance_ID: f.instance_ID ?? null, serviceKey_ID: f.serviceKey_ID ?? null })
    if (same && (same.status === Finding.status.open || same.status === Finding.status.ignored)) {
      // where the object lives, as found now (a finding recorded before findings carried it gets it)
      const place = { environment: f.environment ?? Finding.environment.other, space: f.space ?? null }
      if (same.environment !== place.environment || (same.space ?? null) !== place.space) await UPDATE(Findings, same.ID).with(place)
      continue
    }
    await INSERT.into(Findings).entries({ ID: cds.utils.uuid(), subaccount_ID: sub.ID, status: Finding.status.open, ...f })
  }
  LOG.info(`Sweep of ${sub.displayName}:`, counts)
  return counts
}

// ---- acting on findings ------------------------------------------------------------------------------

/** A finding as read (its key is there). */
type FindingRow = Finding & { ID: string }
type RecordKind = 'ServiceInstances' | 'ServiceKeys'
type RecordRow = Partial<ServiceInstance & ServiceKey>

/** The columns of a new instance record for a finding: where its object lives, as the sweep found it. */
const placeColumns = (finding: Finding): Pick<ServiceInstance, 'environment' | 'space'> =>
  isCloudFoundry(finding) ? { environment: 'cloudfoundry', space: finding.space ?? null } : { environment: 'other' }

/**
 * Takes an object into our records without recreating it: the record and its `adopt` step, which the reconciler
 * carries out (reads the object, labels it as ours, takes its plan, name and credential metadata) in Service
 * Manager or, for a finding in Cloud Foundry, through the CF API (a record of environment `cloudfoundry` in the
 * finding's space). A stuck record is handed back to the reconciler. Nothing here calls SM or CF.
 */
export async function adoptFinding(finding: FindingRow, req: Request) {
  if (finding.status !== Finding.status.open) return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
  if (finding.category === Finding.category.stuck) {
    await wakeRecord(finding.instance_ID ? 'ServiceInstances' : 'ServiceKeys', finding.instance_ID ?? finding.serviceKey_ID ?? '')
    await UPDATE(Findings, finding.ID).with({ status: Finding.status.resolved })
    return
  }
  if (finding.category !== Finding.category.orphan && finding.category !== Finding.category.unmanaged)
    return req.reject({ status: 422, message: 'FINDING_NOT_ADOPTABLE', args: [finding.category] })

  if (finding.resourceType === Finding.resourceType.instance) {
    const ID = finding.instance_ID ?? cds.utils.uuid()
    await wantRecord('ServiceInstances', ID, { subaccount_ID: finding.subaccount_ID, ...placeColumns(finding), name: finding.name, smId: finding.smId }, 'adopt', { instance_ID: ID, subaccount_ID: finding.subaccount_ID })
    await UPDATE(Findings, finding.ID).with({ status: Finding.status.adopted, instance_ID: ID })
    return
  }
  const inst = finding.instanceSmId
    ? await SELECT.one.from(ServiceInstances).where({ smId: finding.instanceSmId, desired: DesiredState.present, state_code: { '!=': LifecycleStateCode.Deleted } })
    : undefined
  if (!inst?.ID) return req.reject({ status: 422, message: 'FINDING_INSTANCE_NOT_ADOPTED', args: [finding.name] })
  const offering = inst.offering_ID ? await SELECT.one.from(ServiceOfferings, inst.offering_ID).columns('name') : undefined
  const ID = finding.serviceKey_ID ?? cds.utils.uuid()
  const row = {
    instance_ID: inst.ID,
    ...(await keyScope(inst)),
    // SAP's automatic keys (Cloud ALM) are protected once adopted: rotate and delete need force
    automatic: finding.category === Finding.category.unmanaged && isAutomaticKey(finding.name ?? '', offering?.name ?? undefined),
    name: finding.name,
    smId: finding.smId
  }
  await wantRecord('ServiceKeys', ID, row, 'adopt', { serviceKey_ID: ID, instance_ID: inst.ID, subaccount_ID: finding.subaccount_ID })
  await UPDATE(Findings, finding.ID).with({ status: Finding.status.adopted, serviceKey_ID: ID })
}

/**
 * The desired state a finding asks for, in the request's transaction: an existing record gets the next generation
 * (present and adopted, or absent and deleted), a new one is inserted with its first step. Only the reconciler
 * then talks to Service Manager and records what it finds.
 */
async function wantRecord(kind: RecordKind, ID: string, row: RecordRow, type: 'adopt' | 'delete', refs: Pick<Finding, 'instance_ID' | 'serviceKey_ID' | 'subaccount_ID'>) {
  const entity = kind === 'ServiceInstances' ? ServiceInstances : ServiceKeys
  const desired: DesiredState = type === 'adopt' ? DesiredState.present : DesiredState.absent
  const existing = await SELECT.one.from(entity, ID).columns('ID', 'generation')
  if (existing) {
    if (!(await requestChange(kind, existing, { desired, smId: row.smId }, type, refs)))
      throw Object.assign(new Error('FINDING_RECORD_BUSY'), { status: 409, code: 'FINDING_RECORD_BUSY', args: [row.name] })
    return
  }
  const state_code = type === 'adopt' ? LifecycleStateCode.Creating : LifecycleStateCode.Deleting
  await INSERT.into(entity).entries({ ID, ...row, desired, state_code, generation: 0, observedGeneration: 0 })
  if (type === 'adopt') await requestCreate(kind, ID, refs, 'adopt')
  else await requestChange(kind, { ID, generation: 0 }, {}, 'delete', refs)
}

/** A record whose step has not moved: due now, for any process's reconciler. */
async function wakeRecord(kind: RecordKind, ID: string) {
  await UPDATE(kind === 'ServiceInstances' ? ServiceInstances : ServiceKeys)
    .set({ reconcileAt: new Date().toISOString(), attempts: 0 })
    .where({ ID })
  Orchestrator.wakeAfterCommit()
}

/**
 * Deletes an orphan or unmanaged object (through the reconciler: from Service Manager, or from Cloud Foundry for a
 * finding there); closes a vanished record as Deleted. Nothing here calls SM or CF.
 */
export async function removeFinding(finding: FindingRow, req: Request) {
  if (finding.status !== Finding.status.open) return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
  if (finding.category === Finding.category.dangling) {
    // the consumer no longer holds the vanished key (removed there, e.g. in Landscape Management): close them here too
    await UPDATE(Registrations).set({ status: Registration.status.Removed }).where({ serviceKey_ID: finding.serviceKey_ID, status: Registration.status.Dangling })
    await UPDATE(Findings, finding.ID).with({ status: Finding.status.removed })
    return
  }
  if (finding.category === Finding.category.vanished) {
    // the record's object is gone: the record closes as Deleted, wanted no longer (nothing to reconcile)
    const where = isCloudFoundry(finding) ? 'Cloud Foundry' : 'Service Manager'
    const gone = { state_code: LifecycleStateCode.Deleted, desired: DesiredState.absent, lastError: `Gone from ${where}`, reconcileAt: null }
    if (finding.instance_ID) await UPDATE(ServiceInstances, finding.instance_ID).with(gone).with`observedGeneration = generation`
    if (finding.serviceKey_ID) await UPDATE(ServiceKeys, finding.serviceKey_ID).with(gone).with`observedGeneration = generation`
    await UPDATE(Findings, finding.ID).with({ status: Finding.status.removed })
    return
  }
  if (finding.category !== Finding.category.orphan && finding.category !== Finding.category.unmanaged)
    return req.reject({ status: 422, message: 'FINDING_NOT_REMOVABLE', args: [finding.category] })
  // the delete is a record of ours, absent, that the reconciler carries out (for an object we never had: a new one)
  if (finding.resourceType === Finding.resourceType.binding) {
    const inst = finding.instanceSmId ? await SELECT.one.from(ServiceInstances).where({ smId: finding.instanceSmId }).columns('ID') : undefined
    // a key in CF is deleted through its instance's platform: without a record of the instance, none to go by
    if (!inst && isCloudFoundry(finding)) return req.reject({ status: 422, message: 'FINDING_INSTANCE_NOT_ADOPTED', args: [finding.name] })
    const ID = finding.serviceKey_ID ?? cds.utils.uuid()
    const row = { instance_ID: inst?.ID ?? null, subaccount_ID: finding.subaccount_ID, name: finding.name, smId: finding.smId }
    await wantRecord('ServiceKeys', ID, row, 'delete', { serviceKey_ID: ID, instance_ID: inst?.ID ?? null, subaccount_ID: finding.subaccount_ID })
    await UPDATE(Findings, finding.ID).with({ status: Finding.status.removed, serviceKey_ID: ID })
    return
  }
  const ID = finding.instance_ID ?? cds.utils.uuid()
  await wantRecord('ServiceInstances', ID, { subaccount_ID: finding.subaccount_ID, ...placeColumns(finding), name: finding.name, smId: finding.smId }, 'delete', { instance_ID: ID, subaccount_ID: finding.subaccount_ID })
  await UPDATE(Findings, finding.ID).with({ status: Finding.status.removed, instance_ID: ID })
}
