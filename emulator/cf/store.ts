/**
 * State of the Cloud Foundry emulator: orgs, spaces, roles, the marketplace, service instances, credential
 * bindings (type key) and their asynchronous jobs. Jobs advance with time (PROCESSING, then POLLING while the
 * "broker" works, then COMPLETE or FAILED); every read settles what is due first.
 */
import { nameUuid, newId, randomToken } from '../ids'
import { jsonText } from '../query'
import type {
  CfBinding,
  CfEmulatorOptions,
  CfRequestBody,
  CfInstance,
  CfJob,
  CfOrg,
  CfOrgSeed,
  CfRole,
  CfSpace,
  CfSpaceSeed,
  CfUser,
  LastOperation,
  OrgRoleType,
  ServiceManagerBackend,
  SpaceRoleType
} from './types'

export const CF_PLATFORM = 'cloudfoundry'

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as { then?: unknown } | undefined)?.then === 'function'

/** A CF API error (status, code, title, detail as the v3 API answers). */
export class CfError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly title: string,
    readonly detail: string
  ) {
    super(detail)
  }
}

export const notFound = (what: string) => new CfError(404, 10010, 'CF-ResourceNotFound', `${what} not found`)
export const unprocessable = (detail: string) => new CfError(422, 10008, 'CF-UnprocessableEntity', detail)
export const forbidden = () => new CfError(403, 10003, 'CF-NotAuthorized', 'You are not authorized to perform the requested action')
export const badRequest = (detail: string) => new CfError(400, 10005, 'CF-BadQueryParameter', detail)

export interface CfOffering {
  guid: string
  name: string
  description: string
}
export interface CfPlan {
  guid: string
  name: string
  description: string
  offeringGuid: string
}

const iso = (t: number) => new Date(t).toISOString()

/** A label selector requirement of the v3 API: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. */
type Requirement = { key: string; op: 'eq' | 'neq' | 'in' | 'notin' | 'exists' | 'absent'; values: string[] }

export function parseLabelSelector(selector: string): Requirement[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  return parts.map(raw => {
    const p = raw.trim()
    let m: RegExpExecArray | null
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) return { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map(v => v.trim()) }
    if ((m = /^([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)$/.exec(p))) return { key: m[1], op: m[2] === '!=' ? 'neq' : 'eq', values: [m[3]] }
    if ((m = /^!([\w./-]+)$/.exec(p))) return { key: m[1], op: 'absent', values: [] }
    if ((m = /^([\w./-]+)$/.exec(p))) return { key: m[1], op: 'exists', values: [] }
    throw badRequest(`The query parameter is invalid: Invalid label_selector value: ${p}`)
  })
}

export function matchesSelector(labels: Record<string, string>, reqs: Requirement[]): boolean {
  return reqs.every(r => {
    const v = labels[r.key]
    switch (r.op) {
      case 'eq':
        return v === r.values[0]
      case 'neq':
        return v !== r.values[0]
      case 'in':
        return v !== undefined && r.values.includes(v)
      case 'notin':
        return v === undefined || !r.values.includes(v)
      case 'exists':
        return v !== undefined
      case 'absent':
        return v === undefined
    }
  })
}

/** What a new instance or key starts with: the metadata of its create, the create in progress, the times. */
function created(body: CfRequestBody, now: number) {
  return {
    labels: checkLabels(body.metadata?.labels),
    annotations: body.metadata?.annotations ?? {},
    lastOperation: lastOperation('create', 'in progress', now),
    createdAt: iso(now),
    updatedAt: iso(now)
  }
}

/** Metadata labels as the v3 API accepts them: keys (optional prefix/) name of at most 63 characters, string values. */
function checkLabels(labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {}
  if (typeof labels !== 'object' || Array.isArray(labels)) throw unprocessable('Metadata must be an object')
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k
    if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(name)) throw unprocessable(`Metadata label key error: '${k}' is not a valid label key`)
    if (v === null) continue
    if (typeof v !== 'string' || (v !== '' && !/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(v)))
      throw unprocessable(`Metadata label value error: '${jsonText(v)}' is not a valid label value`)
    out[k] = v
  }
  return out
}

function lastOperation(type: LastOperation['type'], state: LastOperation['state'], at: number, description = ''): LastOperation {
  return { type, state, description, created_at: iso(at), updated_at: iso(at) }
}

export class CfStore {
  users: CfUser[] = []
  orgList: CfOrg[] = []
  spaceList: CfSpace[] = []
  roleList: CfRole[] = []
  offerings: CfOffering[] = []
  plans: CfPlan[] = []
  readonly instanceMap = new Map<string, CfInstance>()
  readonly bindingMap = new Map<string, CfBinding>()
  readonly jobMap = new Map<string, CfJob>()
  private seq = 0

  constructor(
    private readonly opts: CfEmulatorOptions & { users: CfUser[]; orgs: CfOrgSeed[]; catalog: NonNullable<CfEmulatorOptions['catalog']> },
    private readonly uaaUrl: () => string,
    private readonly sm?: ServiceManagerBackend
  ) {
    this.seed()
  }

  seed(): void {
    this.users = this.opts.users.map(u => ({ ...u, guid: u.guid ?? nameUuid(`cf-user:${u.username}`) }))
    this.orgList = []
    this.spaceList = []
    this.roleList = []
    for (const o of this.opts.orgs) {
      const org: CfOrg = { guid: o.guid ?? nameUuid(`cf-org:${o.name}`), name: o.name, subaccountId: o.subaccountId }
      this.orgList.push(org)
      for (const [type, names] of Object.entries(o.roles ?? {})) for (const n of names ?? []) this.grantOrg(org.guid, n, type as OrgRoleType)
      for (const s of o.spaces) this.addSpace(org.guid, s)
    }
    this.offerings = []
    this.plans = []
    for (const off of this.opts.catalog) {
      const offering = { guid: nameUuid(`cf-offering:${off.name}`), name: off.name, description: off.description ?? off.name }
      this.offerings.push(offering)
      for (const p of off.plans)
        this.plans.push({ guid: nameUuid(`cf-plan:${off.name}:${p.name}`), name: p.name, description: p.description ?? p.name, offeringGuid: offering.guid })
    }
    this.instanceMap.clear()
    this.bindingMap.clear()
    this.jobMap.clear()
  }

  // ---- people and places ----------------------------------------------------------------------------

  user(username: string): CfUser {
    const u = this.users.find(x => x.username === username)
    if (!u) throw new Error(`no user ${username}`)
    return u
  }

  org(ref: string): CfOrg | undefined {
    return this.orgList.find(o => o.guid === ref || o.name === ref)
  }

  addSpace(orgRef: string, seed: CfSpaceSeed): CfSpace {
    const org = this.org(orgRef)
    if (!org) throw new Error(`no org ${orgRef}`)
    const space: CfSpace = { guid: seed.guid ?? nameUuid(`cf-space:${org.name}:${seed.name}`), name: seed.name, orgGuid: org.guid }
    this.spaceList.push(space)
    for (const [type, names] of Object.entries(seed.roles ?? {})) for (const n of names ?? []) this.setSpaceRole(space.guid, n, type as SpaceRoleType, true)
    return space
  }

  space(ref: string): CfSpace | undefined {
    return this.spaceList.find(s => s.guid === ref) ?? this.spaceList.find(s => s.name === ref)
  }

  private grantOrg(orgGuid: string, username: string, type: OrgRoleType) {
    const userGuid = this.user(username).guid!
    if (!this.roleList.some(r => r.orgGuid === orgGuid && r.userGuid === userGuid && r.type === type))
      this.roleList.push({ guid: newId(), type, userGuid, orgGuid })
  }

  setSpaceRole(spaceRef: string, username: string, type: SpaceRoleType, present: boolean): void {
    const space = this.space(spaceRef)
    if (!space) throw new Error(`no space ${spaceRef}`)
    const userGuid = this.user(username).guid!
    this.roleList = this.roleList.filter(r => !(r.spaceGuid === space.guid && r.userGuid === userGuid && r.type === type))
    if (present) {
      this.grantOrg(space.orgGuid, username, 'organization_user')
      this.roleList.push({ guid: newId(), type, userGuid, spaceGuid: space.guid })
    }
  }

  /** Orgs a user sees: those they have a role in. */
  visibleOrgs(userGuid: string): CfOrg[] {
    return this.orgList.filter(o => this.roleList.some(r => r.userGuid === userGuid && (r.orgGuid === o.guid || this.spaceList.find(s => s.guid === r.spaceGuid)?.orgGuid === o.guid)))
  }

  /** Spaces a user sees: those they have a role in, and all spaces of orgs they manage. */
  visibleSpaces(userGuid: string): CfSpace[] {
    return this.spaceList.filter(s =>
      this.roleList.some(r => r.userGuid === userGuid && (r.spaceGuid === s.guid || (r.orgGuid === s.orgGuid && r.type === 'organization_manager')))
    )
  }

  isSpaceDeveloper(userGuid: string, spaceGuid: string): boolean {
    return this.roleList.some(r => r.userGuid === userGuid && r.spaceGuid === spaceGuid && r.type === 'space_developer')
  }

  // ---- jobs ---------------------------------------------------------------------------------------

  private newJob(operation: string, resource: CfJob['resource'], now: number, jobMs: number, fail?: string): CfJob {
    const job: CfJob = { guid: newId(), operation, state: 'PROCESSING', errors: [], warnings: [], resource, createdAt: now, dueAt: now + jobMs, fail }
    this.jobMap.set(job.guid, job)
    return job
  }

  /** Brings every job that is due to its end, and the objects with it. */
  settle(now: number): void {
    for (const job of this.jobMap.values()) {
      if (job.state === 'COMPLETE' || job.state === 'FAILED') continue
      if (now < job.dueAt) {
        // the broker works on it: POLLING after the first half
        if (now >= job.createdAt + (job.dueAt - job.createdAt) / 2) job.state = 'POLLING'
        continue
      }
      this.finish(job, now)
    }
  }

  private finish(job: CfJob, now: number): void {
    const { type, guid } = job.resource
    const obj = type === 'service_instances' ? this.instanceMap.get(guid) : this.bindingMap.get(guid)
    const deleting = job.operation.endsWith('.delete')
    if (!job.fail && obj && !deleting && type === 'service_credential_bindings' && !(obj as CfBinding).credentials) {
      // the broker issues the key's credentials; one generated asynchronously (an X.509 certificate) keeps the job POLLING
      if (job.issuing) return
      const b = obj as CfBinding
      const issued = this.credentialsFor(b)
      if (isPromise(issued)) {
        job.issuing = true
        job.state = 'POLLING'
        void issued
          .then(
            credentials => void (b.credentials = credentials),
            (e: unknown) => void (job.fail = `the credentials could not be issued: ${e instanceof Error ? e.message : String(e)}`)
          )
          .finally(() => (job.issuing = false))
        return
      }
      b.credentials = issued
    }
    const updating = job.operation.endsWith('.update')
    if (job.fail) {
      job.state = 'FAILED'
      job.errors = [{ code: 10009, title: 'CF-UnableToPerform', detail: `${deleting ? 'delete' : updating ? 'update' : 'create'} could not be completed: ${job.fail}` }]
      if (obj) obj.lastOperation = { ...obj.lastOperation, state: 'failed', description: job.fail, updated_at: iso(now) }
      return
    }
    job.state = 'COMPLETE'
    if (!obj) return
    if (deleting) {
      if (type === 'service_instances') {
        this.instanceMap.delete(guid)
        this.smRemove('instance', guid)
      } else {
        this.bindingMap.delete(guid)
        this.smRemove('binding', guid)
      }
      return
    }
    obj.lastOperation = { ...obj.lastOperation, state: 'succeeded', description: '', updated_at: iso(now) }
    if (updating) {
      // the broker took the change: the instance holds it from now on
      const inst = obj as CfInstance
      if (job.patch?.parameters !== undefined) inst.parameters = job.patch.parameters
      if (job.patch?.planGuid !== undefined) inst.planGuid = job.patch.planGuid
      inst.updatedAt = iso(now)
      return
    }
    if (type === 'service_instances') this.smPlantInstance(obj as CfInstance)
  }

  // ---- Service Manager: CF-created objects appear there with the CF platform ------------------------

  private smPlantInstance(inst: CfInstance) {
    if (!this.sm) return
    const space = this.spaceList.find(s => s.guid === inst.spaceGuid)!
    const org = this.orgList.find(o => o.guid === space.orgGuid)!
    const plan = this.plans.find(p => p.guid === inst.planGuid)!
    const offering = this.offerings.find(o => o.guid === plan.offeringGuid)!
    try {
      // an instance is planted at once (no credentials to wait for)
      void this.sm.plant('instance', {
        id: inst.guid,
        subaccount_id: org.subaccountId,
        name: inst.name,
        service_offering_name: offering.name,
        service_plan_name: plan.name,
        platform_id: CF_PLATFORM,
        parameters: inst.parameters,
        context: { platform: CF_PLATFORM, organization_guid: org.guid, space_guid: space.guid, instance_name: inst.name }
      })
    } catch {
      /* the plan is not in Service Manager's catalog: the instance lives in CF only */
    }
  }

  /**
   * A key's credentials: Service Manager's, issued for the key's parameters as its broker would (an X.509 key
   * gets a certificate, asynchronously: a promise); a key Service Manager does not know gets a secret of our UAA,
   * unless it asks for X.509 credentials, which only Service Manager's broker issues here: its job fails.
   */
  private credentialsFor(b: CfBinding): Record<string, unknown> | Promise<Record<string, unknown>> {
    if (this.sm) {
      try {
        const planted = this.sm.plant('binding', { id: b.guid, service_instance_id: b.instanceGuid, name: b.name, parameters: b.parameters }, { wait: true })
        if (isPromise(planted)) return planted.then(p => p.credentials ?? this.ownCredentials(b))
        if (planted.credentials) return planted.credentials
      } catch (e) {
        // the broker refused the parameters (e.g. a credential type the plan does not offer): the job fails
        if (!(e instanceof Error)) return Promise.reject(new Error('Service Manager refused the key', { cause: e }))
        if (!e.message.startsWith('plant ')) return Promise.reject(e)
        /* not known to Service Manager: credentials of our own UAA */
      }
    }
    const oauth = [b.parameters, b.parameters?.xsuaa] as Array<Record<string, unknown> | undefined>
    if (oauth.some(o => o && typeof o === 'object' && o['credential-type'] === 'x509'))
      return Promise.reject(new Error('X.509 credentials are issued by the Service Manager emulator, which does not know this instance (option serviceManager)'))
    return this.ownCredentials(b)
  }

  private ownCredentials(b: CfBinding): Record<string, unknown> {
    const clientid = `sb-${b.instanceGuid}!b${1000 + (++this.seq % 9000)}`
    return { clientid, clientsecret: randomToken(), url: this.uaaUrl(), uaadomain: '127.0.0.1' }
  }

  private smRemove(kind: 'instance' | 'binding', guid: string) {
    try {
      this.sm?.remove(kind, guid)
    } catch {
      /* not there */
    }
  }

  /** PATCH of metadata: labels merged, a null value removes the label. */
  patchLabels<T extends CfInstance | CfBinding>(obj: T, body: CfRequestBody | undefined): T {
    const labels = body?.metadata?.labels
    if (labels !== undefined) {
      const next = { ...obj.labels, ...checkLabels(labels) }
      for (const [k, v] of Object.entries(labels as Record<string, unknown>)) if (v === null) delete next[k]
      obj.labels = next
      obj.updatedAt = iso(Date.now())
    }
    return obj
  }

  // ---- service instances --------------------------------------------------------------------------

  createInstance(userGuid: string, body: CfRequestBody | undefined, now: number, job: { ms: number; fail?: string }): CfJob {
    if (!body || typeof body !== 'object') throw unprocessable('Request invalid due to parse error: invalid request body')
    if (body.type !== 'managed') throw unprocessable("Type must be one of 'managed', 'user-provided'")
    if (typeof body.name !== 'string' || !body.name) throw unprocessable("Name can't be blank")
    const spaceGuid = body.relationships?.space?.data?.guid
    const planGuid = body.relationships?.service_plan?.data?.guid
    const space = this.visibleSpaces(userGuid).find(s => s.guid === spaceGuid)
    if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.')
    if (!this.isSpaceDeveloper(userGuid, space.guid)) throw forbidden()
    const plan = this.plans.find(p => p.guid === planGuid)
    if (!plan) throw unprocessable('Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.')
    if ([...this.instanceMap.values()].some(i => i.spaceGuid === space.guid && i.name === body.name))
      throw new CfError(422, 60002, 'CF-ServiceInstanceNameTaken', `The service instance name is taken: ${body.name}.`)
    const parameters = body.parameters ?? {}
    if (typeof parameters !== 'object' || Array.isArray(parameters)) throw unprocessable('Parameters must be an object')
    const inst: CfInstance = {
      guid: newId(),
      name: body.name,
      spaceGuid: space.guid,
      planGuid: plan.guid,
      // an object, checked above
      parameters: parameters as Record<string, unknown>,
      ...created(body, now)
    }
    this.instanceMap.set(inst.guid, inst)
    return this.newJob('service_instance.create', { type: 'service_instances', guid: inst.guid }, now, job.ms, job.fail)
  }

  /**
   * PATCH of a managed instance's parameters and/or plan: an asynchronous update job (labels in the same body
   * change at once). The plan must be another plan of the instance's offering; no other operation may run.
   */
  updateInstance(userGuid: string, guid: string, body: CfRequestBody, now: number, job: { ms: number; fail?: string }): CfJob {
    const inst = this.visibleInstance(userGuid, guid)
    if (!this.isSpaceDeveloper(userGuid, inst.spaceGuid)) throw forbidden()
    if (inst.lastOperation.state === 'in progress')
      throw new CfError(409, 60016, 'CF-AsyncServiceInstanceOperationInProgress', `An operation for service instance ${inst.name} is in progress.`)
    const patch: NonNullable<CfJob['patch']> = {}
    if (body.parameters !== undefined) {
      if (!body.parameters || typeof body.parameters !== 'object' || Array.isArray(body.parameters)) throw unprocessable('Parameters must be an object')
      // an object, checked above
      patch.parameters = body.parameters as Record<string, unknown>
    }
    const planGuid = body.relationships?.service_plan?.data?.guid
    if (planGuid !== undefined) {
      const plan = this.plans.find(p => p.guid === planGuid)
      const current = this.plans.find(p => p.guid === inst.planGuid)
      if (!plan) throw unprocessable('Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.')
      if (current && plan.offeringGuid !== current.offeringGuid) throw unprocessable('The service plan must belong to the offering of the service instance.')
      patch.planGuid = planGuid
    }
    this.patchLabels(inst, body)
    inst.lastOperation = lastOperation('update', 'in progress', now)
    const started = this.newJob('service_instance.update', { type: 'service_instances', guid }, now, job.ms, job.fail)
    started.patch = patch
    return started
  }

  deleteInstance(userGuid: string, guid: string, now: number, job: { ms: number; fail?: string }): CfJob {
    const inst = this.visibleInstance(userGuid, guid)
    if (!this.isSpaceDeveloper(userGuid, inst.spaceGuid)) throw forbidden()
    if ([...this.bindingMap.values()].some(b => b.instanceGuid === guid))
      throw new CfError(422, 10006, 'CF-AssociationNotEmpty', 'Cannot delete service instance: it has service keys. Delete them first or purge the instance.')
    if (inst.lastOperation.state === 'in progress')
      throw new CfError(409, 60016, 'CF-AsyncServiceInstanceOperationInProgress', `An operation for service instance ${inst.name} is in progress.`)
    inst.lastOperation = lastOperation('delete', 'in progress', now)
    return this.newJob('service_instance.delete', { type: 'service_instances', guid }, now, job.ms, job.fail)
  }

  visibleInstance(userGuid: string, guid: string): CfInstance {
    const inst = this.instanceMap.get(guid)
    if (!inst || !this.visibleSpaces(userGuid).some(s => s.guid === inst.spaceGuid)) throw notFound('Service instance')
    return inst
  }

  listInstances(userGuid: string, q: Record<string, string>): CfInstance[] {
    const spaces = new Set(this.visibleSpaces(userGuid).map(s => s.guid))
    const names = q.names?.split(',')
    const guids = q.guids?.split(',')
    const spaceGuids = q.space_guids?.split(',')
    const orgGuids = q.organization_guids?.split(',')
    const selector = q.label_selector ? parseLabelSelector(q.label_selector) : undefined
    return [...this.instanceMap.values()].filter(
      i =>
        spaces.has(i.spaceGuid) &&
        (!names || names.includes(i.name)) &&
        (!guids || guids.includes(i.guid)) &&
        (!spaceGuids || spaceGuids.includes(i.spaceGuid)) &&
        (!orgGuids || orgGuids.includes(this.spaceList.find(s => s.guid === i.spaceGuid)?.orgGuid ?? '')) &&
        (!selector || matchesSelector(i.labels, selector))
    )
  }

  // ---- credential bindings (keys) -----------------------------------------------------------------

  createBinding(userGuid: string, body: CfRequestBody | undefined, now: number, job: { ms: number; fail?: string }): CfJob {
    if (!body || typeof body !== 'object') throw unprocessable('Request invalid due to parse error: invalid request body')
    if (body.type !== 'key') throw unprocessable("Type must be 'key' (app bindings are not emulated)")
    if (typeof body.name !== 'string' || !body.name) throw unprocessable("Name can't be blank")
    const instanceGuid = body.relationships?.service_instance?.data?.guid
    const inst = instanceGuid === undefined ? undefined : this.instanceMap.get(instanceGuid)
    if (!inst || !this.visibleSpaces(userGuid).some(s => s.guid === inst.spaceGuid))
      throw unprocessable('The service instance could not be found: ' + String(instanceGuid))
    if (!this.isSpaceDeveloper(userGuid, inst.spaceGuid)) throw forbidden()
    if (inst.lastOperation.state === 'in progress')
      throw new CfError(409, 60016, 'CF-AsyncServiceInstanceOperationInProgress', `An operation for service instance ${inst.name} is in progress.`)
    if ([...this.bindingMap.values()].some(b => b.instanceGuid === instanceGuid && b.name === body.name))
      throw new CfError(422, 360001, 'CF-ServiceKeyNameTaken', `The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '${body.name}'.`)
    const b: CfBinding = {
      guid: newId(),
      name: body.name,
      instanceGuid: inst.guid,
      // a key's parameters go to the broker unchecked, as CF passes them on
      parameters: (body.parameters ?? {}) as Record<string, unknown>,
      ...created(body, now)
    }
    this.bindingMap.set(b.guid, b)
    return this.newJob('service_bindings.create', { type: 'service_credential_bindings', guid: b.guid }, now, job.ms, job.fail)
  }

  visibleBinding(userGuid: string, guid: string): CfBinding {
    const b = this.bindingMap.get(guid)
    const inst = b && this.instanceMap.get(b.instanceGuid)
    if (!b || !inst || !this.visibleSpaces(userGuid).some(s => s.guid === inst.spaceGuid)) throw notFound('Service credential binding')
    return b
  }

  deleteBinding(userGuid: string, guid: string, now: number, job: { ms: number; fail?: string }): CfJob {
    const b = this.visibleBinding(userGuid, guid)
    if (!this.isSpaceDeveloper(userGuid, this.instanceMap.get(b.instanceGuid)!.spaceGuid)) throw forbidden()
    b.lastOperation = lastOperation('delete', 'in progress', now)
    return this.newJob('service_bindings.delete', { type: 'service_credential_bindings', guid }, now, job.ms, job.fail)
  }

  listBindings(userGuid: string, q: Record<string, string>): CfBinding[] {
    if (q.type && q.type !== 'key') return []
    const spaces = new Set(this.visibleSpaces(userGuid).map(s => s.guid))
    const names = q.names?.split(',')
    const instances = q.service_instance_guids?.split(',')
    const selector = q.label_selector ? parseLabelSelector(q.label_selector) : undefined
    return [...this.bindingMap.values()].filter(b => {
      const inst = this.instanceMap.get(b.instanceGuid)
      return (
        !!inst &&
        spaces.has(inst.spaceGuid) &&
        (!names || names.includes(b.name)) &&
        (!instances || instances.includes(b.instanceGuid)) &&
        (!selector || matchesSelector(b.labels, selector))
      )
    })
  }
}
