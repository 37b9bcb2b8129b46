import cds from '@sap/cds'
import type { Request } from '@sap/cds'
import { clientFor, clientForSubaccount } from './service-manager/kinds'
import type { SMBinding, SMInstance } from './service-manager/types'
import { LABEL_MANAGED_BY, LABEL_RECORD, MANAGED_BY, Orchestrator } from './orchestrator'
import { credentialMetadataColumns } from './lib/key-columns'

type Row = Record<string, any>

const db = () => cds.entities('btp.provisioning')
const LOG = cds.log('sweep')

/** Records in a transitional state whose step has not moved for this long are reported as stuck. */
const STUCK_AFTER_MS = 2 * 3600_000

const recordIdOf = (o: { labels?: Record<string, string[]> }) =>
  o.labels?.[LABEL_MANAGED_BY]?.includes(MANAGED_BY) ? o.labels?.[LABEL_RECORD]?.[0] : undefined

interface Finding {
  category: 'orphan' | 'vanished' | 'stuck' | 'unmanaged'
  resourceType: 'instance' | 'binding'
  smId?: string
  name?: string
  instanceSmId?: string
  instance_ID?: string
  serviceKey_ID?: string
  detail: string
}

/**
 * Compares a subaccount's Service Manager with our records and records what is out of line as open
 * Findings (one per object and category; findings already ignored are not reported again).
 */
export async function sweepSubaccount(sub: Row): Promise<Record<Finding['category'], number>> {
  const { ServiceInstances, ServiceKeys, Operations, Findings } = db()
  const sm = await clientFor(sub as { subaccountId: string })
  const [remoteInstances, remoteBindings] = await Promise.all([sm.listInstances(), sm.listBindings()])
  const instances: Row[] = await SELECT.from(ServiceInstances).where({ subaccount_ID: sub.ID })
  const keys: Row[] = instances.length ? await SELECT.from(ServiceKeys).where({ instance_ID: { in: instances.map(i => i.ID) } }) : []
  const instanceById = new Map(instances.map(i => [i.ID, i]))
  const keyById = new Map(keys.map(k => [k.ID, k]))
  const remoteInstanceIds = new Set(remoteInstances.map(i => i.id))
  const remoteBindingIds = new Set(remoteBindings.map(b => b.id))
  const findings: Finding[] = []

  const inspect = (kind: 'instance' | 'binding', o: SMInstance | SMBinding, record: Row | undefined) => {
    const recordId = recordIdOf(o)
    const base = { resourceType: kind, smId: o.id, name: o.name, instanceSmId: (o as SMBinding).service_instance_id }
    if (!recordId) findings.push({ category: 'unmanaged', ...base, detail: `Not created by this service` })
    else if (!record) findings.push({ category: 'orphan', ...base, detail: `Carries our labels, but record ${recordId} is unknown` })
    else if (record.state_code === 'Deleted') {
      const ref = kind === 'instance' ? { instance_ID: record.ID } : { serviceKey_ID: record.ID }
      findings.push({ category: 'orphan', ...base, ...ref, detail: `Our record says Deleted, but the object still exists` })
    }
  }
  for (const o of remoteInstances) inspect('instance', o, instanceById.get(recordIdOf(o) ?? ''))
  for (const o of remoteBindings) inspect('binding', o, keyById.get(recordIdOf(o) ?? ''))

  // records whose object is gone
  for (const i of instances)
    if (i.state_code === 'Ready' && i.smId && !remoteInstanceIds.has(i.smId))
      findings.push({ category: 'vanished', resourceType: 'instance', smId: i.smId, name: i.name, instance_ID: i.ID, detail: 'The instance no longer exists in Service Manager' })
  for (const k of keys)
    if (k.state_code === 'Ready' && k.smId && !remoteBindingIds.has(k.smId))
      findings.push({ category: 'vanished', resourceType: 'binding', smId: k.smId, name: k.name, serviceKey_ID: k.ID, detail: 'The key no longer exists in Service Manager' })

  // records stuck in a transitional state
  const transitional = [...instances.map(r => ['instance', r] as const), ...keys.map(r => ['binding', r] as const)].filter(
    ([, r]) => r.state_code === 'Creating' || r.state_code === 'Deleting'
  )
  for (const [kind, r] of transitional) {
    const op = r.lastOperation_ID ? await SELECT.one.from(Operations, r.lastOperation_ID) : undefined
    const lastMove = Date.parse(op?.modifiedAt ?? r.modifiedAt)
    const finished = op && (op.state_code === 'succeeded' || op.state_code === 'failed')
    if (!op || finished || Date.now() - lastMove > STUCK_AFTER_MS) {
      const ref = kind === 'instance' ? { instance_ID: r.ID } : { serviceKey_ID: r.ID }
      findings.push({ category: 'stuck', resourceType: kind, smId: r.smId, name: r.name, ...ref, detail: `${r.state_code} since ${new Date(lastMove).toISOString()}` })
    }
  }

  const counts = { orphan: 0, vanished: 0, stuck: 0, unmanaged: 0 }
  for (const f of findings) {
    counts[f.category]++
    const same = await SELECT.one.from(Findings).where({ subaccount_ID: sub.ID, category: f.category, smId: f.smId ?? null, instance_ID: f.instance_ID ?? null, serviceKey_ID: f.serviceKey_ID ?? null })
    if (same && (same.status === 'open' || same.status === 'ignored')) continue
    await INSERT.into(Findings).entries({ ID: cds.utils.uuid(), subaccount_ID: sub.ID, status: 'open', ...f })
  }
  LOG.info(`Sweep of ${sub.displayName}:`, counts)
  return counts
}

// ---- acting on findings ------------------------------------------------------------------------------



/** Takes an object into our records (labelled as ours) without recreating it; re-reads a stuck record's object. */
export async function adoptFinding(finding: Row, req: Request) {
  const { ServiceInstances, ServiceKeys, ServicePlans, Findings } = db()
  if (finding.status !== 'open') return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
  const sm = await clientForSubaccount(finding.subaccount_ID)

  if (finding.category === 'stuck') {
    const record = finding.instance_ID ? await SELECT.one.from(ServiceInstances, finding.instance_ID) : await SELECT.one.from(ServiceKeys, finding.serviceKey_ID)
    const remote = record?.smId ? (finding.instance_ID ? await sm.getInstance(record.smId) : await sm.getBinding(record.smId)) : undefined
    const entity = finding.instance_ID ? ServiceInstances : ServiceKeys
    if (remote?.ready) await UPDATE(entity, record.ID).with({ state_code: 'Ready', lastError: null })
    else if (!remote && record?.state_code === 'Deleting') await UPDATE(entity, record.ID).with({ state_code: 'Deleted', lastError: null })
    else await UPDATE(entity, record.ID).with({ state_code: 'Failed', lastError: 'Stuck; the object is not ready in Service Manager' })
    return UPDATE(Findings, finding.ID).with({ status: 'resolved' })
  }
  if (finding.category !== 'orphan' && finding.category !== 'unmanaged') return req.reject({ status: 422, message: 'FINDING_NOT_ADOPTABLE', args: [finding.category] })

  if (finding.resourceType === 'instance') {
    const remote = await sm.getInstance(finding.smId)
    if (!remote) return req.reject({ status: 404, message: 'FINDING_OBJECT_GONE', args: [finding.name] })
    const plan = await SELECT.one.from(ServicePlans).where({ subaccount_ID: finding.subaccount_ID, smId: remote.service_plan_id })
    if (!plan) return req.reject({ status: 422, message: 'FINDING_PLAN_UNKNOWN', args: [finding.name] })
    const ID = finding.instance_ID ?? recordIdOf(remote) ?? cds.utils.uuid()
    const row = {
      subaccount_ID: finding.subaccount_ID,
      plan_ID: plan.ID,
      offering_ID: plan.offering_ID,
      name: remote.name,
      smId: remote.id,
      state_code: remote.ready ? 'Ready' : 'Failed',
      labels: JSON.stringify(Orchestrator.labelsFor(ID)),
      lastError: remote.ready ? null : 'Adopted while not ready in Service Manager'
    }
    await saveAdopted(ServiceInstances, ID, row)
    const instanceOps = labelOps(remote.labels, ID)
    if (instanceOps.length) await sm.updateInstanceLabels(remote.id, instanceOps)
    return UPDATE(Findings, finding.ID).with({ status: 'adopted', instance_ID: ID })
  }

  const remote = await sm.getBinding(finding.smId)
  if (!remote) return req.reject({ status: 404, message: 'FINDING_OBJECT_GONE', args: [finding.name] })
  const inst = await SELECT.one.from(ServiceInstances).where({ smId: remote.service_instance_id, state_code: { '!=': 'Deleted' } })
  if (!inst) return req.reject({ status: 422, message: 'FINDING_INSTANCE_NOT_ADOPTED', args: [finding.name] })
  const ID = finding.serviceKey_ID ?? recordIdOf(remote) ?? cds.utils.uuid()
  const row = {
    instance_ID: inst.ID,
    name: remote.name,
    smId: remote.id,
    state_code: remote.ready === false ? 'Failed' : 'Ready',
    ...credentialMetadataColumns((remote.credentials ?? {}) as Record<string, unknown>)
  }
  await saveAdopted(ServiceKeys, ID, row)
  const bindingOps = labelOps(remote.labels, ID)
  if (bindingOps.length) await sm.updateBindingLabels(remote.id, bindingOps)
  return UPDATE(Findings, finding.ID).with({ status: 'adopted', serviceKey_ID: ID })
}

/**
 * An adopted object is wanted as it is: a new generation, already concluded (nothing for the reconciler to do).
 * A record that existed (e.g. Deleted, its object found again) gets the next generation.
 */
async function saveAdopted(entity: cds.entity, ID: string, row: Row) {
  const existing = (await SELECT.one.from(entity, ID).columns('generation')) as { generation?: number } | undefined
  const generation = (existing?.generation ?? 0) + 1
  const data = { ...row, desired: 'present', generation, observedGeneration: generation, reconcileAt: null, smOperation: null, attempts: 0 }
  if (existing) await UPDATE(entity, ID).with(data)
  else await INSERT.into(entity).entries({ ID, ...data })
}

/** Label operations that make an object ours (record ID replaced if it carried another one). */
function labelOps(labels: Record<string, string[]> | undefined, recordId: string) {
  const ops: { op: 'add' | 'remove'; key: string; values?: string[] }[] = []
  const current = labels?.[LABEL_RECORD]
  if (current && !current.includes(recordId)) ops.push({ op: 'remove', key: LABEL_RECORD })
  if (!labels?.[LABEL_MANAGED_BY]?.includes(MANAGED_BY)) ops.push({ op: 'add', key: LABEL_MANAGED_BY, values: [MANAGED_BY] })
  if (!current?.includes(recordId)) ops.push({ op: 'add', key: LABEL_RECORD, values: [recordId] })
  return ops
}

/** Deletes an orphan or unmanaged object from Service Manager; closes a vanished record as Deleted. */
export async function removeFinding(finding: Row, req: Request) {
  const { ServiceInstances, ServiceKeys, Findings } = db()
  if (finding.status !== 'open') return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
  if (finding.category === 'vanished') {
    // the record's object is gone: the record closes as Deleted, wanted no longer (nothing to reconcile)
    const gone = { state_code: 'Deleted', desired: 'absent', observedGeneration: { ref: ['generation'] }, lastError: 'Gone from Service Manager', reconcileAt: null }
    if (finding.instance_ID) await UPDATE(ServiceInstances, finding.instance_ID).with(gone)
    if (finding.serviceKey_ID) await UPDATE(ServiceKeys, finding.serviceKey_ID).with(gone)
    return UPDATE(Findings, finding.ID).with({ status: 'removed' })
  }
  if (finding.category !== 'orphan' && finding.category !== 'unmanaged') return req.reject({ status: 422, message: 'FINDING_NOT_REMOVABLE', args: [finding.category] })
  const sm = await clientForSubaccount(finding.subaccount_ID)
  if (finding.resourceType === 'binding') {
    const res = await sm.deleteBinding(finding.smId, { async: false })
    if (res.kind === 'accepted') await sm.waitForOperation(res.location, { deadline: Date.now() + 60_000, expectDelete: true })
  } else {
    const res = await sm.deleteInstance(finding.smId, { async: false })
    if (res.kind === 'accepted') await sm.waitForOperation(res.location, { deadline: Date.now() + 60_000, expectDelete: true })
  }
  return UPDATE(Findings, finding.ID).with({ status: 'removed' })
}
