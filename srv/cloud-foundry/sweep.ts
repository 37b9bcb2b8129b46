/**
 * The Cloud Foundry part of a subaccount's sweep: our objects in the org (found by our labels) against our
 * records of environment `cloudfoundry`. Orphans (our labels, record unknown or Deleted) and vanished records
 * (Ready, but gone from CF) are reported like the Service Manager sweep's. Service Manager lists the instances
 * and keys CF created too (platform `cloudfoundry`, same GUID, without our labels): `ours` names them, so that
 * the SM sweep does not report them as unmanaged, and `records` names our CF records, which the SM sweep leaves
 * to this one. Every finding of this sweep says where its object lives (environment `cloudfoundry` and the space's
 * name), so that adopting or removing it is decided from the database, without a call to CF in the request.
 */
import cds from '@sap/cds'
import type { Finding, ServiceInstance, ServiceKey, Subaccount } from '#cds-models/btp/provisioning'
import { LifecycleStateCode } from '#cds-models/btp/provisioning'
import { LABEL_MANAGED_BY, LABEL_RECORD, MANAGED_BY } from '../orchestrator'
import { cfService, cfSubaccountRef, type CfCredentialBinding, type CfObject, type CfServiceInstance } from './platform'
import { CloudFoundryAccessError } from './service'
import { isCloudFoundry } from './environments'

/** A finding of this sweep: always in Cloud Foundry, in the space of its instance. */
export type CfFinding = Pick<Finding, 'name' | 'instanceSmId' | 'instance_ID' | 'serviceKey_ID'> & {
  category: Extract<Finding['category'], 'orphan' | 'vanished'>
  resourceType: NonNullable<Finding['resourceType']>
  smId: string
  environment: 'cloudfoundry'
  space: string | null
  detail: string
}

export interface CfSweep {
  findings: CfFinding[]
  /** GUIDs of objects in CF that are ours (recorded or labelled) */
  ours: Set<string>
  /** IDs of our records that live in CF */
  records: Set<string>
  /** names of the org's spaces by GUID (for objects Service Manager lists with their CF context) */
  spaces: Map<string, string>
}

const LOG = cds.log('sweep')

/** Sweeps the subaccount's CF org; nothing when the subaccount has no CF access and no CF records. */
export async function sweepCloudFoundry(sub: Subaccount, instances: ServiceInstance[], keys: ServiceKey[]): Promise<CfSweep> {
  const cfInstances = instances.filter(i => isCloudFoundry(i))
  const cfInstanceIds = new Set(cfInstances.map(i => i.ID))
  const cfKeys = keys.filter(k => cfInstanceIds.has(k.instance_ID ?? undefined))
  const records = new Set([...cfInstances, ...cfKeys].flatMap(r => (r.ID ? [r.ID] : [])))
  const ours = new Set([...cfInstances, ...cfKeys].flatMap(r => (r.smId ? [r.smId] : [])))
  const result: CfSweep = { findings: [], ours, records, spaces: new Map() }

  const service = await cfService()
  const ref = cfSubaccountRef(sub)
  let cf
  try {
    cf = await service.clientFor(ref)
  } catch (e) {
    if (e instanceof CloudFoundryAccessError && !records.size) return result
    throw e
  }
  const orgName = sub.cfOrg || (await service.defaultOrg(ref))
  if (!orgName) return result
  const org = (await cf.list('/v3/organizations', /^[0-9a-f-]{36}$/i.test(orgName) ? { guids: orgName } : { names: orgName }))[0]
  if (!org) {
    LOG.warn(`Sweep of ${sub.displayName}: the Cloud Foundry org ${orgName} is not visible to the technical user`)
    return result
  }
  for (const s of await cf.list<CfObject>('/v3/spaces', { organization_guids: org.guid })) result.spaces.set(s.guid, s.name)
  const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`
  const remoteInstances = await cf.list<CfServiceInstance>('/v3/service_instances', { organization_guids: org.guid, label_selector: selector })
  const orgInstances = new Set(remoteInstances.map(i => i.guid))
  const instanceOf = (b: CfCredentialBinding) => b.relationships?.service_instance?.data?.guid
  const remoteKeys = (await cf.list<CfCredentialBinding>('/v3/service_credential_bindings', { type: 'key', label_selector: selector })).filter(b =>
    orgInstances.has(instanceOf(b) ?? '')
  )
  const instanceById = new Map(cfInstances.map(i => [i.ID, i]))
  const keyById = new Map(cfKeys.map(k => [k.ID, k]))
  const spaceOfInstance = new Map(remoteInstances.map(i => [i.guid, result.spaces.get(i.relationships?.space?.data?.guid ?? '') ?? null]))
  const spaceOfRecord = new Map(cfInstances.map(i => [i.ID, i.space ?? null]))
  const recordIdOf = (o: CfObject) => o.metadata?.labels?.[LABEL_RECORD] ?? undefined

  const inspect = (kind: 'instance' | 'binding', o: CfObject, instanceSmId: string | undefined, record: ServiceInstance | ServiceKey | undefined) => {
    ours.add(o.guid)
    const recordId = recordIdOf(o)
    const space = spaceOfInstance.get((kind === 'instance' ? o.guid : instanceSmId) ?? '') ?? null
    const base = { resourceType: kind, smId: o.guid, name: o.name, instanceSmId, environment: 'cloudfoundry' as const, space }
    if (!record) result.findings.push({ category: 'orphan', ...base, detail: `In Cloud Foundry with our labels, but record ${recordId} is unknown` })
    else if (record.state_code === LifecycleStateCode.Deleted) {
      const refs = kind === 'instance' ? { instance_ID: record.ID } : { serviceKey_ID: record.ID }
      result.findings.push({ category: 'orphan', ...base, ...refs, detail: 'Our record says Deleted, but the object still exists in Cloud Foundry' })
    }
  }
  for (const o of remoteInstances) inspect('instance', o, undefined, instanceById.get(recordIdOf(o)))
  for (const o of remoteKeys) inspect('binding', o, instanceOf(o), keyById.get(recordIdOf(o)))

  const remoteKeyIds = new Set(remoteKeys.map(k => k.guid))
  for (const i of cfInstances)
    if (i.state_code === LifecycleStateCode.Ready && i.smId && !orgInstances.has(i.smId))
      result.findings.push({ category: 'vanished', resourceType: 'instance', smId: i.smId, name: i.name, instance_ID: i.ID, environment: 'cloudfoundry', space: i.space ?? null, detail: 'The instance no longer exists in Cloud Foundry' })
  for (const k of cfKeys)
    if (k.state_code === LifecycleStateCode.Ready && k.smId && !remoteKeyIds.has(k.smId))
      result.findings.push({ category: 'vanished', resourceType: 'binding', smId: k.smId, name: k.name, serviceKey_ID: k.ID, environment: 'cloudfoundry', space: spaceOfRecord.get(k.instance_ID ?? undefined) ?? null, detail: 'The key no longer exists in Cloud Foundry' })
  return result
}
