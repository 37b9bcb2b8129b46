/**
 * The one place that decides which API an object lives in: `platformFor(instance)` gives the reconciler the
 * operations it needs (create, get, delete, find by label or name, follow an operation, label as ours; for
 * instances and their keys) for the instance's platform. Environment `other` is the subaccount's Service Manager client itself;
 * environment `cloudfoundry` is a CloudFoundryPlatform, which speaks the CF v3 API in the space of the
 * instance and answers in Service Manager's shapes and errors, so that the reconciler's rules, states,
 * retries and idempotency (labels looked up before a POST is repeated) hold for both.
 *
 * The checks that need the CF API run here, in the reconciler's step, before the instance is created: the org
 * exists, the space (the request's, else the template's, else the org's only one) exists, the technical user is
 * Space Developer in it, the plan is in the space's marketplace. Each ends the step Failed with a message
 * (`CF_SPACE_NOT_FOUND`, `CF_SPACE_ROLE_MISSING`, `SPACE_REQUIRED`, ...) that says what to do.
 */
import cds from '@sap/cds'
import type { ServiceManagerClient } from '../service-manager/client'
import { clientFor as smClientFor, type SubaccountRef } from '../service-manager/kinds'
import { ServiceManagerError } from '../service-manager/errors'
import type { Criterion } from '../service-manager/query'
import type {
  AsyncOptions,
  AsyncResult,
  CreateBindingBody,
  CreateInstanceBody,
  UpdateInstanceBody,
  LabelOp,
  ListQuery,
  SMBinding,
  SMInstance,
  SMLabels,
  SMOperation,
  WaitOptions
} from '../service-manager/types'
import type { Subaccount, ServiceInstance } from '#cds-models/btp/provisioning'
import { ServiceInstances, ServicePlans, Subaccounts, Templates } from '#cds-models/btp/provisioning'
import type { CloudFoundryClient, CfJob } from './client'
import { CloudFoundryAccessError, type CloudFoundryService, type CfSubaccountRef } from './service'
import { isCloudFoundry } from './environments'
import { shown } from '../lib/naming'

/** What the reconciler asks of a platform (the Service Manager client offers it as it is). */
export type PlatformClient = Pick<
  ServiceManagerClient,
  | 'createInstance'
  | 'getInstance'
  | 'deleteInstance'
  | 'updateInstance'
  | 'updateInstanceLabels'
  | 'createBinding'
  | 'getBinding'
  | 'deleteBinding'
  | 'updateBindingLabels'
  | 'listInstances'
  | 'listBindings'
  | 'waitForOperation'
  | 'expectedWait'
>

/** The instance row fields the decision and the CF checks need. */
export type InstanceRef = Pick<ServiceInstance, 'name' | 'subaccount_ID' | 'environment' | 'space' | 'plan_ID' | 'template_ID'> & { ID: string }

// ---- the parts of CF v3 documents read here (https://v3-apidocs.cloudfoundry.org) ------------------------

interface CfRelationship {
  data?: { guid?: string } | null
}
interface CfLastOperation {
  type: string
  state: string
  description?: string | null
}
/** A CF v3 resource with our labels (one value per key) and its last operation. */
export interface CfObject {
  guid: string
  name: string
  metadata?: { labels?: Record<string, string | null | undefined> }
  last_operation?: CfLastOperation | null
}
export interface CfServiceInstance extends CfObject {
  relationships?: { space?: CfRelationship; service_plan?: CfRelationship }
}
export interface CfCredentialBinding extends CfObject {
  relationships?: { service_instance?: CfRelationship }
}
interface CfServicePlan extends CfObject {
  relationships?: { service_offering?: CfRelationship }
}
interface CfBindingDetails {
  credentials?: Record<string, unknown>
}
/** A job links the object it works on (e.g. `service_instances`). */
type CfJobWithLinks = CfJob & { links?: Record<string, { href?: string } | undefined> }

/** A subaccount row as the CF service takes it. */
export const cfSubaccountRef = (sub: Subaccount): CfSubaccountRef => ({
  subaccountId: sub.subaccountId ?? '',
  displayName: sub.displayName ?? undefined,
  cfDestination: sub.cfDestination
})

/** The `cloud-foundry` service of the configured kind. */
export async function cfService(): Promise<CloudFoundryService> {
  return (await cds.connect.to('cloud-foundry')) as CloudFoundryService // the service of a kind in this folder
}

/** The platform an instance (and its keys) lives in. */
export async function platformFor(inst: InstanceRef): Promise<PlatformClient> {
  const sub = inst.subaccount_ID ? await SELECT.one.from(Subaccounts, inst.subaccount_ID) : undefined
  if (!sub) throw failed('SUBACCOUNT_GONE', `Subaccount ${inst.subaccount_ID} no longer exists`)
  if (!isCloudFoundry(inst)) return smClientFor(smSubaccountRef(sub))
  const ref = cfSubaccountRef(sub)
  const service = await cfService()
  let client: CloudFoundryClient
  try {
    client = await service.clientFor(ref)
  } catch (e) {
    if (e instanceof CloudFoundryAccessError) throw failed(e.code, e.message)
    throw e
  }
  const org = sub.cfOrg || (await service.defaultOrg(ref))
  if (!org) throw failed('CF_NOT_CONFIGURED', message('CF_NOT_CONFIGURED', [sub.displayName]))
  return new CloudFoundryPlatform(client, inst, org, sub.displayName ?? '')
}

/** A subaccount row as the Service Manager service takes it. */
const smSubaccountRef = (sub: Subaccount): SubaccountRef => ({
  subaccountId: sub.subaccountId ?? '',
  displayName: sub.displayName ?? undefined,
  destination: sub.destination
})

/** The text of a message code; values that came from users are cut as in every answer (lib/naming.ts `shown`). */
const message = (code: string, args: unknown[]) => cds.i18n.messages.at(code, args.map(a => String(shown(a ?? '')))) ?? code

/** An error retrying cannot fix: the step ends Failed with this message. */
function failed(code: string, description: string): ServiceManagerError {
  return new ServiceManagerError({ code, description, retryable: false })
}

/**
 * The Service Manager plan ID of an instance a platform read: SM's own, or for an instance in Cloud Foundry the
 * plan of the subaccount's catalog with the same offering and plan name (CF has plan GUIDs of its own).
 */
export async function catalogPlanId(platform: PlatformClient, remote: { service_plan_id?: string }): Promise<string | undefined> {
  if (!remote.service_plan_id) return undefined
  return platform instanceof CloudFoundryPlatform ? platform.catalogPlanId(remote.service_plan_id) : remote.service_plan_id
}

/** Label operations as a CF metadata PATCH: an added label is set (CF holds one value), a removed one is null. */
const labelPatch = (ops: LabelOp[]) => ({
  metadata: { labels: Object.fromEntries(ops.map(o => [o.key, o.op === 'add' || o.op === 'add_values' ? (o.values?.[0] ?? null) : null])) }
})

/** SM's label map (key -> values) as CF metadata labels (key -> value) and back. */
const toCfLabels = (labels: SMLabels | undefined) => Object.fromEntries(Object.entries(labels ?? {}).map(([k, v]) => [k, v[0]]))
const toSmLabels = (labels: Record<string, string | null | undefined> | undefined): SMLabels =>
  Object.fromEntries(Object.entries(labels ?? {}).map(([k, v]) => [k, [String(v)]]))

/** A CF last_operation as SM's: the same states, and the failure's text as SM's operation description. */
function lastOperation(lo: CfLastOperation | null | undefined): SMOperation | undefined {
  if (!lo) return undefined
  return { id: '', type: lo.type, state: lo.state === 'initial' ? 'in progress' : lo.state, description: lo.description || undefined, ...(lo.state === 'failed' ? { errors: [{ description: lo.description || 'The Cloud Foundry operation failed' }] } : {}) }
}

/** The label and field queries the reconciler asks (equality only) as CF list filters. */
function filters(q: ListQuery | undefined, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  const criteria = (c: Criterion[] | string | undefined) => (Array.isArray(c) ? c : [])
  const selector = criteria(q?.labelQuery).map(c => `${c.key}=${String(c.value)}`)
  if (selector.length) out.label_selector = selector.join(',')
  for (const c of criteria(q?.fieldQuery)) {
    const param = fields[c.key]
    if (!param || c.op !== 'eq') throw new ServiceManagerError({ code: 'InvalidQuery', description: `Cloud Foundry lists cannot filter by ${c.key} ${c.op}`, retryable: false })
    out[param] = String(c.value)
  }
  return out
}

export class CloudFoundryPlatform implements PlatformClient {
  private space?: { guid: string; name: string }

  constructor(
    private readonly cf: CloudFoundryClient,
    private readonly inst: InstanceRef,
    private readonly org: string,
    private readonly subaccount: string
  ) {}

  /**
   * How long the reconciler's next POST or DELETE would wait for the CF rate budget (its place booked under
   * `id`) or a 429's pause: it comes back then instead of waiting.
   */
  async expectedWait(method: string, _path: string, id: string): Promise<number> {
    return this.cf.expectedWait(method === 'DELETE' ? 'DELETE' : 'POST', id)
  }

  // ---- the checks of the seeds: org, space, role, plan ------------------------------------------------

  private async orgGuid(): Promise<string> {
    const byGuid = /^[0-9a-f-]{36}$/i.test(this.org)
    const orgs = await this.cf.list('/v3/organizations', byGuid ? { guids: this.org } : { names: this.org })
    if (!orgs[0]) throw failed('CF_ORG_NOT_FOUND', message('CF_ORG_NOT_FOUND', [this.org, this.subaccount]))
    return orgs[0].guid
  }

  /** The instance's space: the request's, else the template's, else the org's only space. */
  async resolveSpace(): Promise<{ guid: string; name: string }> {
    if (this.space) return this.space
    const orgGuid = await this.orgGuid()
    let wanted = this.inst.space ?? undefined
    if (!wanted && this.inst.template_ID) {
      const template = await SELECT.one.from(Templates, this.inst.template_ID).columns('space')
      wanted = template?.space ?? undefined
    }
    let space: CfObject | undefined
    if (wanted) {
      space = (await this.cf.list('/v3/spaces', { organization_guids: orgGuid, names: wanted }))[0]
      if (!space) throw failed('CF_SPACE_NOT_FOUND', message('CF_SPACE_NOT_FOUND', [wanted, this.org]))
    } else {
      const spaces = await this.cf.list('/v3/spaces', { organization_guids: orgGuid })
      if (spaces.length !== 1)
        throw failed('SPACE_REQUIRED', message('SPACE_REQUIRED', [this.inst.name, this.org, spaces.length, spaces.map(s => s.name).join(', ') || '-']))
      space = spaces[0]
      // the space chosen for the user is shown with the instance
      await UPDATE(ServiceInstances).set({ space: space.name }).where({ ID: this.inst.ID, space: null })
    }
    this.space = { guid: space.guid, name: space.name }
    return this.space
  }

  private async checkDeveloper(space: { guid: string; name: string }) {
    const roles = await this.cf.list('/v3/roles', { types: 'space_developer', space_guids: space.guid, user_guids: await this.cf.userGuid() })
    if (!roles.length) throw failed('CF_SPACE_ROLE_MISSING', message('CF_SPACE_ROLE_MISSING', [this.cf.username, space.name]))
  }

  private async planGuid(space: { guid: string; name: string }): Promise<string> {
    // the column `offering` is the plan's offering's name (a path expression, outside the generated type)
    const plan = (await SELECT.one.from(ServicePlans, this.inst.plan_ID ?? '').columns('name', 'offering.name as offering')) as { name?: string | null; offering?: string | null } | null
    if (!plan?.name || !plan.offering) throw failed('PLAN_GONE', 'The plan is no longer in the catalog of the subaccount')
    const found = await this.cf.list('/v3/service_plans', { names: plan.name, service_offering_names: plan.offering, space_guids: space.guid })
    if (!found[0]) throw failed('CF_PLAN_NOT_FOUND', message('CF_PLAN_NOT_FOUND', [space.name, plan.offering, plan.name]))
    return found[0].guid
  }

  /** A 403 from CF on the space: the technical user lacks the role (or lost it since the check). */
  private async forbidden<T>(space: { name: string }, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      if (e instanceof ServiceManagerError && e.status === 403) throw failed('CF_SPACE_ROLE_MISSING', message('CF_SPACE_ROLE_MISSING', [this.cf.username, space.name]))
      throw e
    }
  }

  /** After a 202, the object's GUID: CF answers with the job only; our label finds the object. */
  private async createdGuid(kind: 'service_instances' | 'service_credential_bindings', labels: SMLabels | undefined, job: string | undefined, name: string): Promise<string> {
    const selector = Object.entries(toCfLabels(labels)).map(([k, v]) => `${k}=${v}`).join(',')
    const found = selector ? await this.cf.list<CfObject>(`/v3/${kind}`, { label_selector: selector }) : []
    const match = found.find(o => o.name === name) ?? found[0]
    if (match) return match.guid
    const j: CfJobWithLinks | undefined = job ? await this.cf.job(job) : undefined
    const href = j?.links?.[kind]?.href
    if (href) return href.split('/').pop()!
    throw new ServiceManagerError({ code: 'InvalidResponse', description: `Cloud Foundry accepted ${name} but does not list it`, retryable: true })
  }

  // ---- instances -------------------------------------------------------------------------------------

  async createInstance(body: CreateInstanceBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMInstance>> {
    const space = await this.resolveSpace()
    await this.checkDeveloper(space)
    const plan = await this.planGuid(space)
    const res = await this.forbidden(space, () =>
      this.cf.change('POST', '/v3/service_instances', {
        type: 'managed',
        name: body.name,
        relationships: { space: { data: { guid: space.guid } }, service_plan: { data: { guid: plan } } },
        parameters: body.parameters ?? {},
        metadata: { labels: toCfLabels(body.labels) }
      }, opts.booking)
    )
    if (res.resource) {
      const created = res.resource as CfServiceInstance // CF answers a create at once with the instance
      return { kind: 'done', id: created.guid, resource: this.instanceView(created) }
    }
    const id = await this.createdGuid('service_instances', body.labels, res.job, body.name)
    return { kind: 'accepted', id, location: res.job! }
  }

  private instanceView(i: CfServiceInstance): SMInstance {
    const lo = lastOperation(i.last_operation)
    return {
      id: i.guid,
      name: i.name,
      // as CF answers it: an instance of a plan (SMInstance's type, though, does not allow for its absence)
      service_plan_id: i.relationships?.service_plan?.data?.guid as string,
      platform_id: 'cloudfoundry',
      context: { platform: 'cloudfoundry', space_guid: i.relationships?.space?.data?.guid },
      // as SM's ready: an instance stays usable while an update runs and after one failed
      ready: !lo || lo.type === 'update' || (lo.state === 'succeeded' && lo.type !== 'delete') || (lo.type !== 'create' && lo.state !== 'failed'),
      labels: toSmLabels(i.metadata?.labels),
      last_operation: lo
    }
  }

  async getInstance(id: string): Promise<SMInstance | undefined> {
    const i = await this.cf.get<CfServiceInstance>(`/v3/service_instances/${encodeURIComponent(id)}`)
    return i ? this.instanceView(i) : undefined
  }

  /** The catalog's (Service Manager's) plan ID for a CF plan GUID, matched by offering and plan name. */
  async catalogPlanId(cfPlanGuid: string): Promise<string | undefined> {
    const plan = await this.cf.get<CfServicePlan>(`/v3/service_plans/${encodeURIComponent(cfPlanGuid)}`)
    const offeringGuid = plan?.relationships?.service_offering?.data?.guid
    const offering = offeringGuid ? await this.cf.get<CfObject>(`/v3/service_offerings/${encodeURIComponent(offeringGuid)}`) : undefined
    if (!plan || !offering) return undefined
    const row = await SELECT.one.from(ServicePlans).columns('smId').where({ subaccount_ID: this.inst.subaccount_ID, name: plan.name, 'offering.name': offering.name })
    return row?.smId ?? undefined
  }

  /** Sets or removes labels through the object's metadata (PATCH, answered at once). */
  async updateInstanceLabels(id: string, ops: LabelOp[]): Promise<AsyncResult<SMInstance>> {
    const res = await this.cf.call('PATCH', `/v3/service_instances/${encodeURIComponent(id)}`, { body: labelPatch(ops) })
    return { kind: 'done', id, resource: this.instanceView(res.data as CfServiceInstance) } // CF answers the PATCH with the instance
  }

  /**
   * An update of the instance's parameters and/or plan: CF's PATCH, an asynchronous job like a create. The plan
   * is the instance row's (the desired one), found in the space's marketplace by offering and plan name.
   */
  async updateInstance(id: string, body: UpdateInstanceBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMInstance>> {
    const space = await this.resolveSpace()
    await this.checkDeveloper(space)
    const patch: { parameters?: Record<string, unknown>; relationships?: { service_plan: CfRelationship } } = {}
    if (body.parameters !== undefined) patch.parameters = body.parameters
    if (body.service_plan_id !== undefined) patch.relationships = { service_plan: { data: { guid: await this.planGuid(space) } } }
    const res = await this.forbidden(space, () => this.cf.change('PATCH', `/v3/service_instances/${encodeURIComponent(id)}`, patch, opts.booking))
    if (res.gone) throw new ServiceManagerError({ code: 'NotFound', description: `Instance ${String(shown(id))} no longer exists in Cloud Foundry`, status: 404, retryable: false })
    if (res.resource) return { kind: 'done', id, resource: this.instanceView(res.resource as CfServiceInstance) } // CF answered at once with the instance
    return { kind: 'accepted', id, location: res.job! }
  }

  async deleteInstance(id: string, opts: AsyncOptions = {}): Promise<AsyncResult<void>> {
    const res = await this.cf.change('DELETE', `/v3/service_instances/${encodeURIComponent(id)}`, undefined, opts.booking)
    return res.job ? { kind: 'accepted', id, location: res.job } : { kind: 'done', id }
  }

  async listInstances(q?: ListQuery): Promise<SMInstance[]> {
    const f = filters(q, { name: 'names' })
    if (f.names) f.space_guids = (await this.resolveSpace()).guid
    return (await this.cf.list<CfServiceInstance>('/v3/service_instances', f)).map(i => this.instanceView(i))
  }

  // ---- keys (credential bindings of type key) ----------------------------------------------------------

  async createBinding(body: CreateBindingBody, opts: AsyncOptions = {}): Promise<AsyncResult<SMBinding>> {
    const res = await this.forbidden({ name: this.inst.space ?? '' }, () =>
      this.cf.change('POST', '/v3/service_credential_bindings', {
        type: 'key',
        name: body.name,
        relationships: { service_instance: { data: { guid: body.service_instance_id } } },
        parameters: body.parameters ?? {},
        metadata: { labels: toCfLabels(body.labels) }
      }, opts.booking)
    )
    if (res.resource) {
      const created = res.resource as CfCredentialBinding // CF answers a create at once with the key
      return { kind: 'done', id: created.guid, resource: await this.bindingView(created) }
    }
    const id = await this.createdGuid('service_credential_bindings', body.labels, res.job, body.name)
    return { kind: 'accepted', id, location: res.job! }
  }

  /** A key as SM's binding; a ready key carries its credentials (from `/details`). */
  private async bindingView(b: CfCredentialBinding, withCredentials = false): Promise<SMBinding> {
    const lo = lastOperation(b.last_operation)
    const ready = !lo || (lo.state === 'succeeded' && lo.type !== 'delete')
    const details = withCredentials && ready ? await this.cf.get<CfBindingDetails>(`/v3/service_credential_bindings/${encodeURIComponent(b.guid)}/details`) : undefined
    return {
      id: b.guid,
      name: b.name,
      // as CF answers it: a key of an instance (SMBinding's type, though, does not allow for its absence)
      service_instance_id: b.relationships?.service_instance?.data?.guid as string,
      ready,
      labels: toSmLabels(b.metadata?.labels),
      last_operation: lo,
      ...(details ? { credentials: details.credentials } : {})
    }
  }

  async getBinding(id: string): Promise<SMBinding | undefined> {
    const b = await this.cf.get<CfCredentialBinding>(`/v3/service_credential_bindings/${encodeURIComponent(id)}`)
    return b ? this.bindingView(b, true) : undefined
  }

  async deleteBinding(id: string, opts: AsyncOptions = {}): Promise<AsyncResult<void>> {
    const res = await this.cf.change('DELETE', `/v3/service_credential_bindings/${encodeURIComponent(id)}`, undefined, opts.booking)
    return res.job ? { kind: 'accepted', id, location: res.job } : { kind: 'done', id }
  }

  async updateBindingLabels(id: string, ops: LabelOp[]): Promise<AsyncResult<SMBinding>> {
    const res = await this.cf.call('PATCH', `/v3/service_credential_bindings/${encodeURIComponent(id)}`, { body: labelPatch(ops) })
    return { kind: 'done', id, resource: await this.bindingView(res.data as CfCredentialBinding) } // CF answers the PATCH with the key
  }

  async listBindings(q?: ListQuery): Promise<SMBinding[]> {
    const f = filters(q, { name: 'names', service_instance_id: 'service_instance_guids' })
    const found = await this.cf.list<CfCredentialBinding>('/v3/service_credential_bindings', { type: 'key', ...f })
    return Promise.all(found.map(b => this.bindingView(b)))
  }

  // ---- jobs --------------------------------------------------------------------------------------------

  /**
   * Follows a CF job until the deadline: COMPLETE resolves, FAILED throws OperationFailed (not retryable) with
   * CF's error, the deadline throws OperationTimeout (retryable); a job gone while deleting counts as done.
   */
  async waitForOperation(location: string, opts: WaitOptions): Promise<SMOperation> {
    let delay = 100
    for (;;) {
      const job = await this.cf.job(location)
      const type = job?.operation?.endsWith('.delete') || (!job && opts.expectDelete) ? 'delete' : 'create'
      if (!job) {
        if (opts.expectDelete) return { id: location, type, state: 'succeeded' }
        throw new ServiceManagerError({ code: 'CF-ResourceNotFound', description: 'The Cloud Foundry job no longer exists', status: 404, retryable: false })
      }
      if (job.state === 'COMPLETE') return { id: job.guid, type, state: 'succeeded' }
      if (job.state === 'FAILED') {
        const detail = job.errors?.[0]?.detail ?? 'The Cloud Foundry job failed'
        throw new ServiceManagerError({ code: 'OperationFailed', description: detail, retryable: false, operation: { id: job.guid, type, state: 'failed' } })
      }
      const remaining = opts.deadline - Date.now()
      if (remaining <= 0)
        throw new ServiceManagerError({ code: 'OperationTimeout', description: `Cloud Foundry job still ${job.state} at the deadline`, retryable: true, operation: { id: job.guid, type, state: 'in progress' } })
      await new Promise(r => setTimeout(r, Math.min(delay, remaining)))
      delay = Math.min(delay * 2, 2000)
    }
  }
}
