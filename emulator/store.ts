/**
 * In-memory state of the emulator and the SM semantics of instances, bindings and operations.
 * HTTP-agnostic: handlers get a CallContext and return an Outcome (or throw SmError).
 *
 * Operations are settled lazily: every request (and every admin accessor) first calls settle(now),
 * which completes all operations whose due time has passed, in due-time order.
 */
import type { EmulatorTenant, Fault, PlantBinding, PlantInstance } from './types'
import type { CatalogIndex, PlanEntry } from './catalog-index'
import type { TokenService } from './auth'
import {
  GENERIC_SHAPE,
  credentialTypeOf,
  issueCredentials,
  type CertificateIssuer,
  type ClientRegistration,
  type CredentialFactory,
  type IssuedCredentials,
  type PeerBinding
} from './credentials'
import { SmError, badRequest, conflict, concurrentOp, notFound } from './errors'
import { newId } from './ids'
import { applyLabelOps, validateLabelMap, type Labels } from './labels'
import { paginate, type Sequenced } from './paging'
import { checkFieldKeys, matchesFields, matchesLabels, parseQuery } from './query'

export const SM_PLATFORM = 'service-manager'

export type ResourceType = 'service_instances' | 'service_bindings'
export type OpType = 'create' | 'update' | 'delete'
export type OpState = 'in progress' | 'succeeded' | 'failed'

export interface Outcome {
  status: number
  body: unknown
  headers?: Record<string, string>
}

export interface CallContext {
  tenant: EmulatorTenant
  now: number
  query: Record<string, string>
  /** fault carrying failOperation / operationMs / errorsAsArray for the operation this call creates */
  opFault?: Fault
  correlationId: string
}

interface InstanceRec {
  seq: number
  id: string
  subaccountId: string
  name: string
  planId: string
  platformId: string
  parameters: Record<string, unknown>
  labels: Labels
  ready: boolean
  usable: boolean
  shared?: boolean
  contextExtra: Record<string, unknown>
  createdAt: number
  updatedAt: number
  lastOpId?: string
}

interface BindingRec {
  seq: number
  id: string
  subaccountId: string
  instanceId: string
  instanceName: string
  name: string
  parameters: Record<string, unknown>
  labels: Labels
  ready: boolean
  bindResource?: Record<string, unknown>
  credentials?: Record<string, unknown>
  /** credentials issued at request time, published when the create operation succeeds */
  pending?: IssuedCredentials
  /** the OAuth clients of this binding (from issuing on; used for certificate uniqueness) */
  clients?: ClientRegistration[]
  createdAt: number
  updatedAt: number
  lastOpId?: string
}

interface InstancePatch {
  name?: string
  planId?: string
  parameters?: Record<string, unknown>
  labels?: Labels
  shared?: boolean
}

interface OpRec {
  seq: number
  id: string
  type: OpType
  state: OpState
  resourceType: ResourceType
  resourceId: string
  subaccountId: string
  correlationId: string
  createdAt: number
  updatedAt: number
  dueAt: number
  fail?: { error: string; description: string }
  errorsAsArray: boolean
  errors?: unknown
  patch?: InstancePatch | { name?: string; labels?: Labels }
}

export interface StoreDeps {
  catalog: CatalogIndex
  tokens: TokenService
  tenants: () => EmulatorTenant[]
  url: () => string
  /** base URL of the mTLS token endpoint */
  certUrl: () => string
  /** the local CA, for credential factories */
  ca: CertificateIssuer
  credentialFactories: Record<string, CredentialFactory>
  operationMs: number
  /** with it, operations last a random time between operationMs and operationMaxMs */
  operationMaxMs?: number
  /** the emulator's clock (certificate validity of new credentials); the wall clock without it */
  now?: () => number
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return !!v && typeof (v as Promise<T>).then === 'function'
}

const INSTANCE_FIELDS = ['id', 'name', 'service_plan_id', 'platform_id', 'context', 'ready', 'usable', 'shared', 'created_at', 'updated_at']
const BINDING_FIELDS = ['id', 'name', 'service_instance_id', 'context', 'bind_resource', 'ready', 'created_at', 'updated_at']

const iso = (ms: number) => new Date(ms).toISOString()
const clone = <T>(v: T): T => structuredClone(v)

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

function parseAsync(query: Record<string, string>): boolean {
  const raw = query.async
  if (raw === undefined || raw === '') return false
  if (raw === 'true') return true
  if (raw === 'false') return false
  throw badRequest(`async must be true or false, got '${raw}'`, 'InvalidRequest')
}

function requireObjectBody(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw badRequest('request body must be a JSON object')
  return body
}

function optionalParameters(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {}
  if (!isObject(v)) throw badRequest('parameters must be a JSON object')
  return clone(v)
}

function requireName(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw badRequest(`${what} name is required`)
  return v
}

export function subdomainOf(t: { subaccountId: string; subdomain?: string }): string {
  return t.subdomain ?? `sub-${t.subaccountId.slice(0, 8)}`
}

export class Store {
  private seq = 0
  private readonly instanceRecs = new Map<string, InstanceRec>()
  private readonly bindingRecs = new Map<string, BindingRec>()
  private readonly ops = new Map<string, OpRec>()

  constructor(private readonly deps: StoreDeps) {}

  reset(): void {
    this.instanceRecs.clear()
    this.bindingRecs.clear()
    this.ops.clear()
    this.deps.tokens.clearBindingClients()
  }

  // ---------------------------------------------------------------------------------------------
  // operations

  settle(now: number): void {
    const due = [...this.ops.values()]
      .filter((o) => o.state === 'in progress' && o.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)
    for (const op of due) this.finish(op)
  }

  private operationDuration(): number {
    const { operationMs, operationMaxMs } = this.deps
    if (operationMaxMs === undefined || operationMaxMs <= operationMs) return operationMs
    return operationMs + Math.round(Math.random() * (operationMaxMs - operationMs))
  }

  private startOp(ctx: CallContext, type: OpType, resourceType: ResourceType, res: { id: string; subaccountId: string; lastOpId?: string }, sync: boolean): OpRec {
    const f = ctx.opFault
    const duration = sync ? 0 : Math.max(0, f?.operationMs ?? this.operationDuration())
    const op: OpRec = {
      seq: ++this.seq,
      id: newId(),
      type,
      state: 'in progress',
      resourceType,
      resourceId: res.id,
      subaccountId: res.subaccountId,
      correlationId: ctx.correlationId,
      createdAt: ctx.now,
      updatedAt: ctx.now,
      dueAt: ctx.now + duration,
      fail: f?.failOperation ? { error: String(f.failOperation.error), description: String(f.failOperation.description) } : undefined,
      errorsAsArray: !!f?.errorsAsArray
    }
    this.ops.set(op.id, op)
    res.lastOpId = op.id
    return op
  }

  private finish(op: OpRec): void {
    if (op.state !== 'in progress') return
    const at = op.dueAt
    op.updatedAt = at
    const res = op.resourceType === 'service_instances' ? this.instanceRecs.get(op.resourceId) : this.bindingRecs.get(op.resourceId)
    if (op.fail) {
      op.state = 'failed'
      op.errors = op.errorsAsArray ? [{ ...op.fail }] : { ...op.fail }
      if (res) res.updatedAt = at
      return
    }
    op.state = 'succeeded'
    if (!res) return
    res.updatedAt = at
    if (op.type === 'create') {
      res.ready = true
      if (op.resourceType === 'service_instances') (res as InstanceRec).usable = true
      else this.publishCredentials(res as BindingRec)
    } else if (op.type === 'update' && op.patch) {
      this.applyPatch(res, op.patch)
    } else if (op.type === 'delete') {
      this.dropResource(op.resourceType, op.resourceId, at, op.id)
    }
  }

  private publishCredentials(b: BindingRec): void {
    if (!b.pending) return
    b.credentials = b.pending.credentials
    this.deps.tokens.registerBindingClients(b.id, b.subaccountId, b.pending.clients)
    b.pending = undefined
  }

  private applyPatch(res: InstanceRec | BindingRec, patch: InstancePatch): void {
    if (patch.name !== undefined) res.name = patch.name
    if (patch.labels !== undefined) res.labels = patch.labels
    if ('planId' in res) {
      const inst = res
      if (patch.planId !== undefined) inst.planId = patch.planId
      if (patch.parameters !== undefined) inst.parameters = { ...inst.parameters, ...patch.parameters }
      if (patch.shared !== undefined) inst.shared = patch.shared
    }
  }

  /** Remove a resource (and for instances its bindings); in-progress operations on it end failed. */
  private dropResource(type: ResourceType, id: string, at: number, exceptOpId?: string): void {
    if (type === 'service_instances') {
      if (!this.instanceRecs.delete(id)) return
      for (const b of [...this.bindingRecs.values()]) if (b.instanceId === id) this.dropResource('service_bindings', b.id, at)
    } else {
      if (!this.bindingRecs.delete(id)) return
      this.deps.tokens.removeBindingClients(id)
    }
    for (const op of this.ops.values()) {
      if (op.resourceId === id && op.state === 'in progress' && op.id !== exceptOpId) {
        op.state = 'failed'
        op.updatedAt = at
        op.errors = { error: 'OperationCanceled', description: 'the resource was deleted while the operation was in progress' }
      }
    }
  }

  opView(op: OpRec): Record<string, unknown> {
    return {
      id: op.id,
      ready: true,
      type: op.type,
      state: op.state,
      resource_id: op.resourceId,
      resource_type: `/v1/${op.resourceType}`,
      platform_id: SM_PLATFORM,
      correlation_id: op.correlationId,
      reschedule: false,
      reschedule_timestamp: '0001-01-01T00:00:00Z',
      deletion_scheduled: '0001-01-01T00:00:00Z',
      errors: op.errors !== undefined ? clone(op.errors) : {},
      created_at: iso(op.createdAt),
      updated_at: iso(op.updatedAt)
    }
  }

  private lastOp(res: { lastOpId?: string }): OpRec | undefined {
    return res.lastOpId ? this.ops.get(res.lastOpId) : undefined
  }

  private location(op: OpRec): Record<string, string> {
    return { Location: `/v1/${op.resourceType}/${op.resourceId}/operations/${op.id}` }
  }

  /** Response for a call that created `op`: 202 + Location when async, else the settled result. */
  private respond(op: OpRec, async: boolean, success: () => Outcome): Outcome {
    if (async) return { status: 202, body: {}, headers: this.location(op) }
    this.finish(op)
    if (op.state === 'failed') {
      const f = op.fail!
      return { status: 502, body: { error: f.error, description: f.description } }
    }
    return success()
  }

  getOperation(ctx: CallContext, type: ResourceType, resourceId: string, opId: string): Outcome {
    const op = this.ops.get(opId)
    if (!op || op.resourceType !== type || op.resourceId !== resourceId || op.subaccountId !== ctx.tenant.subaccountId) {
      throw notFound(`could not find such operation`)
    }
    return { status: 200, body: this.opView(op) }
  }

  // ---------------------------------------------------------------------------------------------
  // views

  instanceView(r: InstanceRec): Record<string, unknown> {
    return this.view(r, {
      service_plan_id: r.planId,
      platform_id: r.platformId,
      context: {
        platform: r.platformId,
        instance_name: r.name,
        subaccount_id: r.subaccountId,
        ...clone(r.contextExtra)
      },
      usable: r.usable,
      ...(r.shared !== undefined ? { shared: r.shared } : {})
    })
  }

  bindingView(b: BindingRec): Record<string, unknown> {
    return this.view(b, {
      service_instance_id: b.instanceId,
      context: { platform: SM_PLATFORM, instance_name: b.instanceName, subaccount_id: b.subaccountId },
      ...(b.credentials ? { credentials: clone(b.credentials) } : {}),
      ...(b.bindResource ? { bind_resource: clone(b.bindResource) } : {})
    })
  }

  /** What SM shows of an instance or a binding: its ID, state and name, the fields of its own (`own`), labels, times, last operation. */
  private view(r: InstanceRec | BindingRec, own: Record<string, unknown>): Record<string, unknown> {
    const op = this.lastOp(r)
    return {
      id: r.id,
      ready: r.ready,
      name: r.name,
      ...own,
      labels: { ...clone(r.labels), subaccount_id: [r.subaccountId] },
      created_at: iso(r.createdAt),
      updated_at: iso(r.updatedAt),
      ...(op ? { last_operation: this.opView(op) } : {})
    }
  }

  // ---------------------------------------------------------------------------------------------
  // lists

  private list(items: Sequenced<Record<string, unknown>>[], query: Record<string, string>, path: string, fields: string[]): Outcome {
    let filtered = items
    if (query.fieldQuery !== undefined) {
      const criteria = parseQuery(query.fieldQuery, 'field')
      checkFieldKeys(criteria, fields)
      filtered = filtered.filter((s) => matchesFields(s.item, criteria))
    }
    if (query.labelQuery !== undefined) {
      const criteria = parseQuery(query.labelQuery, 'label')
      filtered = filtered.filter((s) => matchesLabels(s.item.labels as Labels, criteria))
    }
    const { body, headers } = paginate(filtered, query, path)
    return { status: 200, body, headers }
  }

  listOfferings(ctx: CallContext, path: string, fields: string[]): Outcome {
    return this.list(this.deps.catalog.offeringItems(ctx.tenant), ctx.query, path, fields)
  }

  listPlans(ctx: CallContext, path: string, fields: string[]): Outcome {
    return this.list(this.deps.catalog.planItems(ctx.tenant), ctx.query, path, fields)
  }

  getOffering(ctx: CallContext, id: string): Outcome {
    const o = this.deps.catalog.entitledOfferings(ctx.tenant).find((e) => e.id === id)
    if (!o) throw notFound('could not find such service offering')
    return { status: 200, body: this.deps.catalog.offeringView(o) }
  }

  getPlan(ctx: CallContext, id: string): Outcome {
    const p = this.deps.catalog.findEntitledPlan(ctx.tenant, { id })
    if (!p) throw notFound('could not find such service plan')
    return { status: 200, body: this.deps.catalog.planView(p) }
  }

  listInstances(ctx: CallContext): Outcome {
    const items = this.tenantInstances(ctx.tenant.subaccountId).map((r) => ({ seq: r.seq, item: this.instanceView(r) }))
    return this.list(items, ctx.query, '/v1/service_instances', INSTANCE_FIELDS)
  }

  listBindings(ctx: CallContext): Outcome {
    const items = this.tenantBindings(ctx.tenant.subaccountId).map((b) => ({ seq: b.seq, item: this.bindingView(b) }))
    return this.list(items, ctx.query, '/v1/service_bindings', BINDING_FIELDS)
  }

  private tenantInstances(subaccountId?: string): InstanceRec[] {
    return [...this.instanceRecs.values()].filter((r) => subaccountId === undefined || r.subaccountId === subaccountId)
  }

  private tenantBindings(subaccountId?: string): BindingRec[] {
    return [...this.bindingRecs.values()].filter((b) => subaccountId === undefined || b.subaccountId === subaccountId)
  }

  private instanceOf(ctx: CallContext, id: string): InstanceRec {
    const r = this.instanceRecs.get(id)
    if (!r || r.subaccountId !== ctx.tenant.subaccountId) throw notFound(`could not find such service instance`)
    return r
  }

  private bindingOf(ctx: CallContext, id: string): BindingRec {
    const b = this.bindingRecs.get(id)
    if (!b || b.subaccountId !== ctx.tenant.subaccountId) throw notFound(`could not find such service binding`)
    return b
  }

  // ---------------------------------------------------------------------------------------------
  // instances

  getInstance(ctx: CallContext, id: string): Outcome {
    return { status: 200, body: this.instanceView(this.instanceOf(ctx, id)) }
  }

  instanceParameters(ctx: CallContext, id: string): Outcome {
    return { status: 200, body: clone(this.instanceOf(ctx, id).parameters) }
  }

  private resolvePlan(ctx: CallContext, body: Record<string, unknown>): PlanEntry {
    const byId = body.service_plan_id
    const offeringName = body.service_offering_name
    const planName = body.service_plan_name
    const hasNames = offeringName !== undefined || planName !== undefined
    if (byId !== undefined && hasNames) {
      throw badRequest('provide either service_plan_id or service_offering_name and service_plan_name, not both')
    }
    let p: PlanEntry | undefined
    if (byId !== undefined) {
      if (typeof byId !== 'string' || !byId) throw badRequest('service_plan_id must be a non-empty string')
      p = this.deps.catalog.findEntitledPlan(ctx.tenant, { id: byId })
    } else if (hasNames) {
      if (typeof offeringName !== 'string' || typeof planName !== 'string' || !offeringName || !planName) {
        throw badRequest('service_offering_name and service_plan_name are both required')
      }
      p = this.deps.catalog.findEntitledPlan(ctx.tenant, { offeringName, planName })
    } else {
      throw badRequest('service_plan_id or service_offering_name and service_plan_name are required')
    }
    if (!p) throw notFound('could not find such service plan')
    return p
  }

  private checkInstanceName(subaccountId: string, name: string, exceptId?: string): void {
    const clash = [...this.instanceRecs.values()].some(
      (r) => r.subaccountId === subaccountId && r.platformId === SM_PLATFORM && r.name === name && r.id !== exceptId
    )
    if (clash) throw conflict(`instance with same name exists for the current tenant`)
  }

  createInstance(ctx: CallContext, rawBody: unknown): Outcome {
    const async = parseAsync(ctx.query)
    const body = requireObjectBody(rawBody)
    if (body.id !== undefined) throw badRequest('providing specific resource id is forbidden')
    const name = requireName(body.name, 'instance')
    const plan = this.resolvePlan(ctx, body)
    const parameters = optionalParameters(body.parameters)
    const labels = validateLabelMap(body.labels)
    this.checkInstanceName(ctx.tenant.subaccountId, name)
    const rec: InstanceRec = {
      seq: ++this.seq,
      id: newId(),
      subaccountId: ctx.tenant.subaccountId,
      name,
      planId: plan.id,
      platformId: SM_PLATFORM,
      parameters,
      labels,
      ready: false,
      usable: false,
      contextExtra: {},
      createdAt: ctx.now,
      updatedAt: ctx.now
    }
    this.instanceRecs.set(rec.id, rec)
    const op = this.startOp(ctx, 'create', 'service_instances', rec, !async)
    return this.respond(op, async, () => ({ status: 201, body: this.instanceView(rec) }))
  }

  updateInstance(ctx: CallContext, id: string, rawBody: unknown): Outcome {
    const async = parseAsync(ctx.query)
    const rec = this.instanceOf(ctx, id)
    const body = requireObjectBody(rawBody)
    this.assertNoOperationInProgress(rec, 'instance', id)
    const patch: InstancePatch = {}
    if (body.id !== undefined && body.id !== id) throw badRequest('the id of a resource cannot be changed')
    if (body.name !== undefined) {
      patch.name = requireName(body.name, 'instance')
      this.checkInstanceName(rec.subaccountId, patch.name, rec.id)
    }
    if (body.service_plan_id !== undefined) {
      const target = this.resolvePlan(ctx, { service_plan_id: body.service_plan_id })
      const currentPlan = this.deps.catalog.plans.get(rec.planId)
      if (currentPlan && currentPlan.offeringId !== target.offeringId) {
        throw badRequest('the new plan must belong to the same service offering')
      }
      if (target.id !== rec.planId && !(target.plan.plan_updateable ?? target.offering.plan_updateable)) {
        throw badRequest(`service offering ${target.offering.name} does not allow plan updates`)
      }
      patch.planId = target.id
    }
    if (body.parameters !== undefined) patch.parameters = optionalParameters(body.parameters)
    if (body.labels !== undefined) patch.labels = applyLabelOps(rec.labels, body.labels)
    if (body.shared !== undefined) {
      if (typeof body.shared !== 'boolean') throw badRequest('shared must be a boolean')
      patch.shared = body.shared
    }
    const op = this.startOp(ctx, 'update', 'service_instances', rec, !async)
    op.patch = patch
    return this.respond(op, async, () => ({ status: 200, body: this.instanceView(rec) }))
  }

  /** SM answers 422 to a change while another operation runs on the resource (a delete may interrupt a create). */
  private assertNoOperationInProgress(rec: { lastOpId?: string }, what: 'instance' | 'binding', id: string, allowDuring?: 'create') {
    const current = this.lastOp(rec)
    if (current?.state === 'in progress' && current.type !== allowDuring) {
      throw concurrentOp(`another operation (${current.type}) is in progress for service ${what} ${id}`)
    }
  }

  deleteInstance(ctx: CallContext, id: string): Outcome {
    const async = parseAsync(ctx.query)
    const rec = this.instanceOf(ctx, id)
    this.assertNoOperationInProgress(rec, 'instance', id, 'create')
    const count = [...this.bindingRecs.values()].filter((b) => b.instanceId === id).length
    if (count > 0) throw badRequest(`could not delete instance due to ${count} existing bindings`)
    const op = this.startOp(ctx, 'delete', 'service_instances', rec, !async)
    return this.respond(op, async, () => ({ status: 200, body: {} }))
  }

  // ---------------------------------------------------------------------------------------------
  // bindings

  getBinding(ctx: CallContext, id: string): Outcome {
    return { status: 200, body: this.bindingView(this.bindingOf(ctx, id)) }
  }

  bindingParameters(ctx: CallContext, id: string): Outcome {
    return { status: 200, body: clone(this.bindingOf(ctx, id).parameters) }
  }

  private checkBindingName(instanceId: string, name: string, exceptId?: string): void {
    const clash = [...this.bindingRecs.values()].some((b) => b.instanceId === instanceId && b.name === name && b.id !== exceptId)
    if (clash) throw conflict(`binding with same name exists for instance with id ${instanceId}`)
  }

  /** Credentials of a new binding; a promise when the factory works asynchronously (generated keys). */
  private issueFor(
    inst: InstanceRec,
    binding: { id: string; name: string; parameters: Record<string, unknown> }
  ): IssuedCredentials | Promise<IssuedCredentials> {
    const entry = this.deps.catalog.plans.get(inst.planId)
    const tenant = this.deps.tenants().find((t) => t.subaccountId === inst.subaccountId)
    const peers: PeerBinding[] = this.tenantBindings(inst.subaccountId)
      .filter((b) => b.id !== binding.id && b.clients?.length)
      .map((b) => ({
        bindingId: b.id,
        instanceId: b.instanceId,
        planId: this.instanceRecs.get(b.instanceId)?.planId ?? '',
        clients: b.clients ?? []
      }))
    return issueCredentials(
      {
        emulatorUrl: this.deps.url(),
        emulatorCertUrl: this.deps.certUrl(),
        tenant: { subaccountId: inst.subaccountId, subdomain: subdomainOf(tenant ?? { subaccountId: inst.subaccountId }) },
        offering: entry?.offering,
        plan: entry?.plan,
        shape: entry?.plan.credentials ?? entry?.offering.credentials ?? GENERIC_SHAPE,
        instance: { id: inst.id, name: inst.name, planId: inst.planId, parameters: inst.parameters },
        binding,
        credentialType: credentialTypeOf(binding.parameters, inst.parameters, entry?.plan.credentialTypes ?? entry?.offering.credentialTypes),
        peers
      },
      this.deps.credentialFactories,
      this.deps.ca,
      this.deps.now
    )
  }

  /**
   * Sync factories: as before. Async factories (generated key pairs): the binding is reserved (its name
   * taken, ready false) and its create operation held until the credentials exist; then the call answers
   * like a sync one (201 / 202 + Location). A failed issue removes the binding again and answers the error.
   */
  createBinding(ctx: CallContext, rawBody: unknown): Outcome | Promise<Outcome> {
    const async = parseAsync(ctx.query)
    const body = requireObjectBody(rawBody)
    if (body.id !== undefined) throw badRequest('providing specific resource id is forbidden')
    const name = requireName(body.name, 'binding')
    if (typeof body.service_instance_id !== 'string' || !body.service_instance_id) {
      throw badRequest('service_instance_id is required')
    }
    const parameters = optionalParameters(body.parameters)
    const labels = validateLabelMap(body.labels)
    if (body.bind_resource !== undefined && !isObject(body.bind_resource)) throw badRequest('bind_resource must be a JSON object')
    const inst = this.instanceOf(ctx, body.service_instance_id)
    const entry = this.deps.catalog.plans.get(inst.planId)
    if (entry && (entry.plan.bindable ?? entry.offering.bindable ?? true) === false) {
      throw badRequest(`service plan ${entry.plan.name} is not bindable`)
    }
    const instOp = this.lastOp(inst)
    if (!inst.ready) throw new SmError(422, 'UnprocessableEntity', `service instance ${inst.id} is not ready`)
    if (instOp?.state === 'in progress') {
      throw concurrentOp(`another operation (${instOp.type}) is in progress for service instance ${inst.id}`)
    }
    this.checkBindingName(inst.id, name)
    const id = newId()
    const issued = this.issueFor(inst, { id, name, parameters })
    const pending = isPromise(issued) ? undefined : issued
    const rec: BindingRec = {
      seq: ++this.seq,
      id,
      subaccountId: inst.subaccountId,
      instanceId: inst.id,
      instanceName: inst.name,
      name,
      parameters,
      labels,
      ready: false,
      bindResource: body.bind_resource ? clone(body.bind_resource) : undefined,
      pending,
      clients: pending?.clients,
      createdAt: ctx.now,
      updatedAt: ctx.now
    }
    this.bindingRecs.set(id, rec)
    const op = this.startOp(ctx, 'create', 'service_bindings', rec, !async)
    const success = () => ({ status: 201, body: this.bindingView(rec) })
    if (!isPromise(issued)) return this.respond(op, async, success)

    const duration = op.dueAt - ctx.now
    op.dueAt = Number.POSITIVE_INFINITY // held until the credentials exist
    return issued.then(
      (creds) => {
        if (this.bindingRecs.get(id) !== rec || op.state !== 'in progress') {
          throw conflict(`service binding ${id} was deleted while its credentials were being issued`)
        }
        rec.pending = creds
        rec.clients = creds.clients
        op.dueAt = Date.now() + duration
        return this.respond(op, async, success)
      },
      (e: unknown) => {
        if (this.bindingRecs.get(id) === rec) this.bindingRecs.delete(id)
        this.ops.delete(op.id)
        throw e instanceof SmError ? e : new SmError(500, 'InternalError', `could not issue the binding credentials: ${e instanceof Error ? e.message : String(e)}`)
      }
    )
  }

  updateBinding(ctx: CallContext, id: string, rawBody: unknown): Outcome {
    if (parseAsync(ctx.query)) throw badRequest('PATCH of a service binding does not support async=true', 'InvalidRequest')
    const rec = this.bindingOf(ctx, id)
    const body = requireObjectBody(rawBody)
    const readOnly = ['id', 'credentials', 'syslog_drain_url', 'route_service_url', 'volume_mounts', 'endpoints', 'ready', 'context']
    const other = Object.keys(body).filter((k) => k !== 'name' && k !== 'labels' && !readOnly.includes(k))
    if (other.length > 0) throw badRequest(`only name and labels of a binding can be updated (got ${other.join(', ')})`, 'InvalidRequest')
    this.assertNoOperationInProgress(rec, 'binding', id)
    const patch: { name?: string; labels?: Labels } = {}
    if (body.name !== undefined) {
      patch.name = requireName(body.name, 'binding')
      this.checkBindingName(rec.instanceId, patch.name, rec.id)
    }
    if (body.labels !== undefined) patch.labels = applyLabelOps(rec.labels, body.labels)
    const op = this.startOp(ctx, 'update', 'service_bindings', rec, true)
    op.patch = patch
    return this.respond(op, false, () => ({ status: 200, body: this.bindingView(rec) }))
  }

  deleteBinding(ctx: CallContext, id: string): Outcome {
    const async = parseAsync(ctx.query)
    const rec = this.bindingOf(ctx, id)
    this.assertNoOperationInProgress(rec, 'binding', id, 'create')
    const op = this.startOp(ctx, 'delete', 'service_bindings', rec, !async)
    return this.respond(op, async, () => ({ status: 200, body: {} }))
  }

  // ---------------------------------------------------------------------------------------------
  // admin (test/dev) access

  instances(subaccountId?: string): Record<string, unknown>[] {
    return this.tenantInstances(subaccountId)
      .sort((a, b) => a.seq - b.seq)
      .map((r) => this.instanceView(r))
  }

  bindings(subaccountId?: string): Record<string, unknown>[] {
    return this.tenantBindings(subaccountId)
      .sort((a, b) => a.seq - b.seq)
      .map((b) => this.bindingView(b))
  }

  plantInstance(obj: PlantInstance, now: number): Record<string, unknown> {
    const tenants = this.deps.tenants()
    const subaccountId: string | undefined = obj.subaccount_id ?? obj.subaccountId ?? tenants[0]?.subaccountId
    if (!subaccountId) throw new Error('plant instance: subaccount_id is required (no tenants configured)')
    if (typeof obj.name !== 'string' || !obj.name) throw new Error('plant instance: name is required')
    let planIdValue: string | undefined = obj.service_plan_id
    if (!planIdValue) {
      const offering = obj.service_offering_name ?? obj.offering
      const plan = obj.service_plan_name ?? obj.plan
      const entry = offering && plan ? this.deps.catalog.findPlanByNames(offering, plan) : undefined
      if (!entry) throw new Error('plant instance: service_plan_id or a catalog offering + plan name is required')
      planIdValue = entry.id
    }
    const id: string = obj.id ?? newId()
    if (this.instanceRecs.has(id)) throw new Error(`plant instance: id ${id} exists`)
    const created = obj.created_at ? Date.parse(obj.created_at) : now
    const contextExtra: Record<string, unknown> = isObject(obj.context) ? { ...obj.context } : {}
    // the emulator's own context fields
    for (const own of ['platform', 'instance_name', 'subaccount_id']) delete contextExtra[own]
    const ready = obj.ready ?? true
    const rec: InstanceRec = {
      seq: ++this.seq,
      id,
      subaccountId,
      name: obj.name,
      planId: planIdValue,
      platformId: obj.platform_id ?? SM_PLATFORM,
      parameters: clone(obj.parameters ?? {}),
      labels: validateLabelMap(obj.labels),
      ready,
      usable: obj.usable ?? ready,
      shared: obj.shared,
      contextExtra,
      createdAt: created,
      updatedAt: created
    }
    this.instanceRecs.set(id, rec)
    this.plantOperation(rec, 'service_instances', ready, created)
    return this.instanceView(rec)
  }

  plantBinding(obj: PlantBinding, now: number): Record<string, unknown>
  plantBinding(obj: PlantBinding, now: number, wait: true): Record<string, unknown> | Promise<Record<string, unknown>>
  /**
   * With `wait`, credentials generated asynchronously (a service-managed X.509 certificate) are waited for:
   * the binding is planted once they exist (a promise); without it, such a plant is refused.
   */
  plantBinding(obj: PlantBinding, now: number, wait = false): Record<string, unknown> | Promise<Record<string, unknown>> {
    const inst = obj.service_instance_id === undefined ? undefined : this.instanceRecs.get(obj.service_instance_id)
    if (!inst) throw new Error(`plant binding: service_instance_id ${String(obj.service_instance_id)} does not exist`)
    const name = obj.name
    if (typeof name !== 'string' || !name) throw new Error('plant binding: name is required')
    const named = { ...obj, name }
    const id: string = obj.id ?? newId()
    if (this.bindingRecs.has(id)) throw new Error(`plant binding: id ${id} exists`)
    const parameters = clone(obj.parameters ?? {})
    if (wait && !obj.credentials) {
      const issued = this.issueFor(inst, { id, name, parameters })
      if (isPromise(issued)) return issued.then((creds) => this.plantIssuedBinding(named, inst, id, parameters, now, creds))
      return this.plantIssuedBinding(named, inst, id, parameters, now, issued)
    }
    return this.plantIssuedBinding(named, inst, id, parameters, now)
  }

  private plantIssuedBinding(obj: PlantBinding & { name: string }, inst: InstanceRec, id: string, parameters: Record<string, unknown>, now: number, given?: IssuedCredentials): Record<string, unknown> {
    if (this.bindingRecs.has(id)) throw new Error(`plant binding: id ${id} exists`)
    const created = obj.created_at ? Date.parse(obj.created_at) : now
    const ready = obj.ready ?? true
    const rec: BindingRec = {
      seq: ++this.seq,
      id,
      subaccountId: inst.subaccountId,
      instanceId: inst.id,
      instanceName: inst.name,
      name: obj.name,
      parameters,
      labels: validateLabelMap(obj.labels),
      ready,
      bindResource: obj.bind_resource,
      createdAt: created,
      updatedAt: created
    }
    if (obj.credentials) rec.credentials = clone(obj.credentials)
    else {
      const issued = given ?? this.issueFor(inst, { id, name: rec.name, parameters })
      if (isPromise(issued)) {
        issued.catch(() => undefined)
        throw new Error(
          'plant binding: these credentials are generated asynchronously (service-managed x509 certificate); ' +
            'create the binding over the HTTP API or pass credentials'
        )
      }
      rec.pending = issued
      rec.clients = issued.clients
    }
    this.bindingRecs.set(id, rec)
    if (ready) this.publishCredentials(rec)
    this.plantOperation(rec, 'service_bindings', ready, created)
    return this.bindingView(rec)
  }

  /** A finished create operation for a planted object (failed when planted not ready). */
  private plantOperation(res: InstanceRec | BindingRec, type: ResourceType, ready: boolean, at: number): void {
    const op: OpRec = {
      seq: ++this.seq,
      id: newId(),
      type: 'create',
      state: ready ? 'succeeded' : 'failed',
      resourceType: type,
      resourceId: res.id,
      subaccountId: res.subaccountId,
      correlationId: newId(),
      createdAt: at,
      updatedAt: at,
      dueAt: at,
      errorsAsArray: false,
      errors: ready ? undefined : { error: 'BrokerError', description: 'planted as not ready' }
    }
    this.ops.set(op.id, op)
    res.lastOpId = op.id
  }

  remove(kind: 'instance' | 'binding', id: string, now: number): void {
    this.dropResource(kind === 'instance' ? 'service_instances' : 'service_bindings', id, now)
  }
}
