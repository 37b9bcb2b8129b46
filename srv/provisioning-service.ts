import cds from '@sap/cds'
import { Readable } from 'node:stream'
import type { Request } from '@sap/cds'
import {
  Certificate as CertificateRow,
  DesiredState,
  Finding as FindingRow,
  LifecycleStateCode,
  Registration as RegistrationRow,
  ServiceInstance as InstanceRow,
  ServiceKey as KeyRow,
  ServiceOffering as OfferingRow,
  ServicePlan as PlanRow,
  Subaccount as SubaccountRow,
  Template as TemplateRow
} from '#cds-models/btp/provisioning'
import {
  Certificate,
  Certificates,
  Finding,
  Me,
  Registration,
  ServiceInstance,
  ServiceInstances,
  ServiceKey,
  ServiceKeys,
  Subaccount,
  Subaccounts,
  Template
} from '#cds-models/ProvisioningService'
import { checkParameters, isReservedKeyName, isValidResourceName, parseJsonObject, shown } from './lib/naming'
import { rateLimitAnswer, rateLimited } from './lib/sm-rate-limit'
import { Orchestrator, requestChange, requestCreate, requestKeyDeletion, requestRefresh } from './orchestrator'
import { syncCatalog } from './catalog'
import { x509BindingParameters } from './lib/x509'
import {
  addDaysLeft,
  auditCredentialRead,
  guardCertificateDelete,
  guardCertificateUpdate,
  liveCredentials,
  prepareCertificate,
  scanExpiry
} from './key-health'
import { checkPrivateKey, recordVerification, VerificationInputError } from './verification'
import { adoptFinding, removeFinding, sweepSubaccount } from './sweep'
import { ServiceManagerError } from './service-manager/errors'
import { ServiceManagerAccessError } from './service-manager/kinds'
import { subaccountScope } from './lib/instance-auth'
import { answerOf, inputSchemaProblem, keyVerified, planProvisioning, registrationProblem, registrationStatus, startProvisioning, templateParameters, type ProvisionInput } from './provision'
import { keyScope } from './lib/key-scope'
import { SUPPORTED_ENVIRONMENTS } from './cloud-foundry/environments'
import { fromCloudFoundry } from './cloud-foundry/client'
import { serveDestinations } from './destinations/delivery'
import { POLICY_FIELDS, policyProblem, renewedCertificate, startRotation, verifiedByHand } from './rotation'

/**
 * Rows as stored. The generated types leave every column optional; these columns are set in every row the
 * service and the reconciler write (key, name, lifecycle and generation).
 */
type Stored<T> = T & { ID: string; name: string; state_code: LifecycleStateCode; desired: DesiredState; generation: number; observedGeneration: number }
type Instance = Stored<InstanceRow> & { subaccount_ID: string }
type Key = Stored<KeyRow> & { instance_ID: string }
type WithID<T> = T & { ID: string }

/** Rows read by key, without the user's restrictions (those apply to the request itself). */
const read = {
  instance: async (ID: string) => (await SELECT.one.from(InstanceRow, ID)) as Instance | null,
  key: async (ID: string) => (await SELECT.one.from(KeyRow, ID)) as Key | null,
  subaccount: async (ID: string) => (await SELECT.one.from(SubaccountRow, ID)) as WithID<SubaccountRow> | null,
  plan: async (ID: string) => (await SELECT.one.from(PlanRow, ID)) as WithID<PlanRow> | null,
  offering: async (ID: string) => (await SELECT.one.from(OfferingRow, ID)) as WithID<OfferingRow> | null,
  template: async (ID: string) => (await SELECT.one.from(TemplateRow, ID)) as WithID<TemplateRow> | null,
  certificate: async (ID: string) => (await SELECT.one.from(CertificateRow, ID)) as WithID<CertificateRow> | null
}
// (the casts above: the columns that `Stored` and `WithID` add are not null in any stored row)

/** The parameters of the bound actions, as generated. */
type VerifyInput = (typeof ServiceKey)['actions']['verify']['__parameters']
type RotateInput = (typeof ServiceKey)['actions']['rotate']['__parameters']

/** An instance change the UPDATE handler carries out, as its before handler checked it. */
interface InstanceChange {
  inst: Instance
  change?: Partial<InstanceRow>
}

/** Credential answers are never kept by browsers or proxies. */
function noStore(req: Request) {
  req.http?.res.setHeader('Cache-Control', 'no-store')
}

export { rotatedName } from './rotation'

/** What a PATCH of a service key may send: its rotation policy. */
const KEY_CHANGEABLE = new Set<string>(['ID', 'modifiedAt', 'modifiedBy', ...POLICY_FIELDS])

/** The fields of a PATCH or PUT as sent (outside a $batch), which still holds the fields CAP drops as immutable. */
function sentFields(req: Request<object>): string[] {
  const http = req.http?.req
  const raw: unknown = http?.body
  const direct = (http?.method === 'PATCH' || http?.method === 'PUT') && !http.path.includes('$batch')
  return Object.keys(direct && raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : req.data)
}

/** What a user may do in this service, from their roles and `Subaccount` attribute (srv/access-control.cds). */
export function capabilitiesOf(user: cds.User) {
  const canProvision = user.is('Provisioner')
  const canReadCredentials = user.is('CredentialReader')
  const canAdminister = user.is('Administrator')
  return {
    user: user.id,
    canProvision,
    canReadCredentials,
    canAdminister,
    limitedToSubaccounts: subaccountScope(user) !== 'all',
    provisioningHidden: !canProvision,
    credentialsHidden: !canReadCredentials,
    administrationHidden: !canAdminister
  }
}

/**
 * The OData service admins and other CAP services use. Handlers validate and persist the intent and an
 * Operations row, then hand the remote work to the orchestrator through the persistent queue.
 */
export class ProvisioningService extends cds.ApplicationService {
  /** What a request's before handlers found, for its on handler (per request, never shared between requests). */
  private readonly existingInstance = new WeakMap<Request, ServiceInstance>()
  private readonly instanceChange = new WeakMap<Request, InstanceChange>()
  private readonly keyInstance = new WeakMap<Request, Instance>()

  async init() {
    // connected at start-up, so it resumes queued steps and schedules its duties once the server is up
    await cds.connect.to('orchestrator')

    // ---- service instances -------------------------------------------------------------------------
    // our rules run before CAP's generic input checks, so a bad name gets its own message code
    this.prepend(() => this.before('CREATE', ServiceInstance, req => this.validateInstance(req)))

    this.on('CREATE', ServiceInstance, async (req, next) => {
      const existing = this.existingInstance.get(req)
      if (existing) return existing // same name and plan: the one instance serves every scenario
      const result = await next()
      const ID = req.data.ID as string // set by CAP before the handlers run (cuid)
      await requestCreate('ServiceInstances', ID, { instance_ID: ID, subaccount_ID: req.data.subaccount_ID })
      return result
    })

    // an update: parameters and plan only, as a tracked change the reconciler carries out (SM's PATCH)
    this.prepend(() => this.before('UPDATE', ServiceInstance, req => this.validateInstanceChange(req)))
    this.on('UPDATE', ServiceInstance, async req => {
      const found = this.instanceChange.get(req)
      if (!found) return req.reject(404, 'INSTANCE_UNKNOWN', undefined, [this.keyOf(req)])
      const { inst, change } = found
      if (change && !(await requestChange('ServiceInstances', inst, change, 'update', { instance_ID: inst.ID, subaccount_ID: inst.subaccount_ID })))
        return req.reject(409, 'INSTANCE_BUSY', undefined, [inst.name])
      return (await SELECT.one.from(ServiceInstance, inst.ID)) ?? undefined
    })

    this.on('DELETE', ServiceInstance, async req => {
      const id = this.keyOf(req)
      const inst = await read.instance(id)
      if (!inst) return req.reject({ status: 404, message: 'INSTANCE_UNKNOWN', args: [id] })
      // the intent only: keys first, then the instance; the reconciler carries it out, whatever runs meanwhile
      const keys = (await SELECT.from(KeyRow).columns('ID', 'name', 'automatic').where({ instance_ID: id, desired: DesiredState.present })) as Pick<Key, 'ID' | 'name' | 'automatic'>[] // the columns read
      const automatic = keys.find(k => k.automatic)
      if (automatic) this.requireForce(req, automatic)
      for (const key of keys) await requestKeyDeletion(key.ID)
      // a delete wins over an update asked for at the same moment: read again while the generation moves
      for (let row: Instance | null = inst; row && row.desired !== DesiredState.absent; row = await read.instance(id))
        if (await requestChange('ServiceInstances', row, { desired: DesiredState.absent }, 'delete', { instance_ID: id, subaccount_ID: row.subaccount_ID })) break
    })

    // a refresh is a desired-state change too: the reconciler reads the object from its platform
    this.on('refresh', ServiceInstance, async req => {
      const id = this.keyOf(req)
      const inst = await read.instance(id)
      if (!inst) return req.reject({ status: 404, message: 'INSTANCE_UNKNOWN', args: [id] })
      await requestRefresh('ServiceInstances', inst, { instance_ID: id, subaccount_ID: inst.subaccount_ID })
      return (await SELECT.one.from(ServiceInstance, id)) ?? undefined
    })

    // ---- service keys ------------------------------------------------------------------------------
    this.prepend(() => this.before('CREATE', ServiceKey, req => this.validateKey(req)))

    this.on('CREATE', ServiceKey, async (req, next) => {
      const inst = this.keyInstance.get(req)
      if (!inst) return req.reject(400, 'INSTANCE_UNKNOWN', 'instance_ID', [req.data.instance_ID])
      Object.assign(req.data, await keyScope(inst))
      const result = await next()
      const ID = req.data.ID as string // set by CAP before the handlers run (cuid)
      await requestCreate('ServiceKeys', ID, { serviceKey_ID: ID, instance_ID: inst.ID, subaccount_ID: inst.subaccount_ID })
      return result
    })

    // a key's rotation policy may change (srv/rotation.ts); anything else about a key is fixed (checked on the
    // data as sent: CAP's input handlers drop immutable fields silently)
    this.prepend(() =>
      this.before(['CREATE', 'UPDATE'], [ServiceKey, Template], req => {
        const fixed = req.event === 'UPDATE' && req.target?.name === ServiceKey.name && sentFields(req).some(k => !KEY_CHANGEABLE.has(k))
        if (fixed) return req.reject(405, 'KEY_IMMUTABLE')
        const problem = policyProblem(req.data)
        if (problem) req.reject(400, 'ROTATION_POLICY_INVALID', problem.target, problem.args)
      })
    )
    this.on('UPDATE', ServiceKey, async req => {
      const data = req.data
      if (Object.keys(data).some(k => !KEY_CHANGEABLE.has(k))) return req.reject(405, 'KEY_IMMUTABLE')
      const id = this.keyOf(req)
      const policy: Partial<KeyRow> = {}
      for (const field of POLICY_FIELDS) if (field in data) policy[field] = data[field]
      const changed: unknown = await UPDATE(KeyRow, id).with({ ...policy, modifiedAt: data.modifiedAt, modifiedBy: data.modifiedBy })
      if (!changed) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      return (await SELECT.one.from(ServiceKey, id)) ?? undefined
    })

    this.on('DELETE', ServiceKey, async req => {
      const id = this.keyOf(req)
      const key = await read.key(id)
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      if (key.automatic) this.requireForce(req, key)
      await requestKeyDeletion(id)
    })

    this.on('refresh', ServiceKey, async req => {
      const id = this.keyOf(req)
      const key = await read.key(id)
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      await requestRefresh('ServiceKeys', key, { serviceKey_ID: id, instance_ID: key.instance_ID, subaccount_ID: key.subaccount_ID })
      return (await SELECT.one.from(ServiceKey, id)) ?? undefined
    })

    this.on(
      'verify',
      ServiceKeys,
      rateLimited(async (req: Request<VerifyInput>) => {
        const id = this.keyOf(req)
        const key = await read.key(id)
        if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
        const privateKeyPem = req.data.privateKey || undefined
        let certificatePem: string | undefined
        if (key.certificate_ID) {
          certificatePem = (await read.certificate(key.certificate_ID))?.pem ?? undefined
          if (!privateKeyPem) return req.reject({ status: 400, message: 'PRIVATE_KEY_REQUIRED', target: 'privateKey', args: [key.name] })
          try {
            checkPrivateKey(privateKeyPem, certificatePem ?? '')
          } catch (e) {
            if (e instanceof VerificationInputError) return req.reject({ status: 400, message: e.code, target: 'privateKey' })
            throw e
          }
        }
        const credentials = await liveCredentials(key, req)
        const check = await recordVerification(key, credentials, { certificatePem, privateKeyPem })
        if (check.ok) await keyVerified(key) // registrations waiting for it move now
        if (check.ok) await verifiedByHand(key) // a rotation's successor with its owner's certificate takes over now
        return (await SELECT.one.from(ServiceKey, id)) ?? undefined
      })
    )

    this.on('rotate', ServiceKeys, async (req: Request<RotateInput>) => {
      const old = await read.key(this.keyOf(req))
      if (!old) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
      if (old.state_code !== LifecycleStateCode.Ready || old.desired !== DesiredState.present)
        return req.reject({ status: 422, message: 'KEY_NOT_READY', args: [old.name, old.desired === DesiredState.present ? old.state_code : LifecycleStateCode.Deleting] })
      if (old.automatic) this.requireForce(req, old)
      // an own certificate: onto the newest one of the same subject that was uploaded, if there is one
      const certificate = old.certificate_ID ? await read.certificate(old.certificate_ID) : undefined
      const renewed = certificate ? await renewedCertificate(certificate) : undefined
      const started = await startRotation(old, 'manual', renewed ? { certificate: renewed } : {})
      if ('conflict' in started) return req.reject({ status: 409, message: 'KEY_ALREADY_ROTATED', args: [old.name, started.conflict?.name ?? ''] })
      return (await SELECT.one.from(ServiceKey, started.successor.ID as string)) ?? undefined // the successor's row as inserted
    })

    this.on(
      'revealCredentials',
      ServiceKeys,
      rateLimited(async (req: Request) => {
        noStore(req) // a credential answer, refused ones included, is never cached
        const key = await read.key(this.keyOf(req))
        if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
        const credentials = await liveCredentials(key, req)
        await auditCredentialRead(key, 'reveal', req)
        return JSON.stringify(credentials, null, 2)
      })
    )

    this.on(
      'downloadCredentials',
      ServiceKeys,
      rateLimited(async (req: Request) => {
        noStore(req)
        const key = await read.key(this.keyOf(req))
        if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
        const credentials = await liveCredentials(key, req)
        await auditCredentialRead(key, 'download', req)
        req.http?.res.setHeader('Content-Disposition', `attachment; filename="${key.name}.json"`)
        return Readable.from([Buffer.from(JSON.stringify(credentials, null, 2))])
      })
    )

    // ---- registrations (hand-off to consumers) -----------------------------------------------------
    this.before('CREATE', Registration, async req => {
      const d = req.data
      const key = d.serviceKey_ID ? await read.key(d.serviceKey_ID) : null
      if (!key) return req.reject(400, 'KEY_UNKNOWN', 'serviceKey_ID', [d.serviceKey_ID])
      // ready, suitable for the consumer, and the tenant's only key (tenants compared case-insensitively)
      const found = await registrationProblem(key, d.consumerType ?? '', d.tenant ?? '')
      if (found && 'problem' in found) return req.reject(found.problem.status, found.problem.code, found.problem.target, found.problem.args)
      if (found) return req.reject(409, 'REGISTRATION_EXISTS', 'tenant', [d.consumerType, (found.same as RegistrationRow).tenant /* the stored registration */, key.name])
      d.status = registrationStatus(key) // an own certificate's key: Pending until it is verified by hand
    })
    this.on('UPDATE', Registration, req => req.reject(405, 'REGISTRATION_IMMUTABLE'))
    this.on('DELETE', Registration, async req => {
      // kept as history: a removed registration no longer hands the key to its consumer
      await UPDATE(RegistrationRow, this.keyOf(req)).with({ status: RegistrationRow.status.Removed })
    })
    // consumer type destination: the key written into a BTP destination, and the Destination service keys
    serveDestinations(this)

    // ---- certificates ------------------------------------------------------------------------------
    this.prepend(() => this.before('CREATE', Certificate, prepareCertificate))
    this.before('UPDATE', Certificate, guardCertificateUpdate)
    this.before('DELETE', Certificate, guardCertificateDelete)
    this.after('READ', Certificates, addDaysLeft)

    // the forms' `parametersText`: the parameters as indented JSON text (parameters read along where only it is asked for)
    this.before('READ', [ServiceInstances, ServiceKeys], req => {
      const columns = (req.query as { SELECT?: { columns?: { ref?: string[] }[] } }).SELECT?.columns // a READ's CQN
      if (!columns?.some(c => c.ref?.[0] === 'parametersText') || columns.some(c => c.ref?.[0] === 'parameters')) return
      columns.push({ ref: ['parameters'] })
    })
    this.after('READ', [ServiceInstances, ServiceKeys], (rows: (ServiceInstance | ServiceKey)[] | undefined) => {
      for (const row of rows ?? []) if (row && 'parameters' in row) row.parametersText = row.parameters == null ? null : JSON.stringify(row.parameters, null, 2)
    })

    // ---- the signed-in user's capabilities (for hiding actions in the apps) ---------------------------
    this.on('READ', Me, req => capabilitiesOf(req.user))

    this.on('scanExpiry', () => scanExpiry())

    // ---- a seed scenario as one call (srv/provision.ts) ---------------------------------------------
    this.before(['CREATE', 'UPDATE'], Template, req => {
      const problem = inputSchemaProblem(req.data.inputSchema)
      if (problem) req.reject(400, 'TEMPLATE_SCHEMA_INVALID', 'inputSchema', [req.data.name ?? '', problem])
    })
    this.on('provision', async (req: Request<ProvisionInput>) => {
      const input = req.data
      const plan = await planProvisioning(input, req.user)
      if (input.dryRun) return answerOf(plan, true, null)
      const first = plan.problems[0]
      if (first) return req.reject(first.status, first.code, first.target, first.args)
      const ID = await startProvisioning(plan)
      return answerOf(plan, false, ID)
    })

    // ---- subaccounts -------------------------------------------------------------------------------
    this.before(['CREATE', 'UPDATE'], Subaccount, req => {
      const id = req.data.subaccountId
      if (id !== undefined && !(typeof id === 'string' && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id)))
        req.reject(400, 'SUBACCOUNT_ID_INVALID', 'subaccountId', [id])
    })

    this.before('DELETE', Subaccount, async req => {
      const id = this.keyOf(req)
      const sub = await read.subaccount(id)
      if (!sub) return
      const { count } = (await SELECT.one`count(*) as count`.from(InstanceRow).where({
        subaccount_ID: id,
        state_code: { '!=': LifecycleStateCode.Deleted }
      })) as { count: number } // the one column read
      if (count > 0) req.reject({ status: 409, message: 'SUBACCOUNT_IN_USE', args: [sub.displayName, count] })
    })

    this.on(
      'syncCatalog',
      Subaccounts,
      rateLimited(async (req: Request) => {
        const id = this.keyOf(req)
        const sub = await read.subaccount(id)
        if (!sub) return req.reject({ status: 404, message: 'SUBACCOUNT_UNKNOWN', args: [id] })
        await syncCatalog(sub, req)
        return (await SELECT.one.from(Subaccount, id)) ?? undefined
      })
    )

    this.on(
      'sweep',
      Subaccounts,
      rateLimited(async (req: Request) => {
        const sub = await read.subaccount(this.keyOf(req))
        if (!sub) return req.reject({ status: 404, message: 'SUBACCOUNT_UNKNOWN', args: [this.keyOf(req)] })
        return sweepSubaccount(sub)
      })
    )

    // ---- findings of sweeps ------------------------------------------------------------------------
    const onFinding = (action: (finding: WithID<FindingRow>, req: Request) => Promise<unknown>) => async (req: Request) => {
      const id = this.keyOf(req)
      const finding = (await SELECT.one.from(FindingRow, id)) as WithID<FindingRow> | null // ID: the key of every row
      if (!finding) return req.reject({ status: 404, message: 'FINDING_UNKNOWN', args: [id] })
      await action(finding, req)
      return (await SELECT.one.from(Finding, id)) ?? undefined
    }
    this.on('adopt', Finding, rateLimited(onFinding(adoptFinding)))
    this.on('remove', Finding, rateLimited(onFinding(removeFinding)))
    this.on(
      'ignore',
      Finding,
      onFinding(async (finding, req) => {
        if (finding.status !== FindingRow.status.open) return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
        await UPDATE(FindingRow, finding.ID).with({ status: FindingRow.status.ignored })
      })
    )

    // Service Manager failures of synchronous calls (refresh, reveal, sweep...) answer 502/503, not 500
    this.on('error', (err, req) => {
      const limited = rateLimitAnswer(err)
      if (limited) {
        // a 429 that outlasted the request's retries (lib/sm-rate-limit.ts): the client may come back later
        // $sanitize: false keeps the code in production, where CAP replaces 5xx errors by a generic one
        Object.assign(err, { status: limited.status, message: limited.code, code: limited.code, args: [limited.retryAfterSeconds], $sanitize: false })
        const res = req?.http?.res // no request for errors outside one
        if (res && !res.headersSent) res.setHeader('Retry-After', String(limited.retryAfterSeconds))
      } else if (err instanceof ServiceManagerError) {
        const description = err.description || err.code
        const code = fromCloudFoundry(err) ? 'CF_REQUEST_FAILED' : 'SM_REQUEST_FAILED' // the API that answered
        Object.assign(err, { status: err.retryable ? 503 : 502, message: code, args: [description], code, $sanitize: false })
      } else if (err instanceof ServiceManagerAccessError) {
        Object.assign(err, { status: 422, message: 'SM_NOT_CONFIGURED', args: [err.subaccount] })
      }
      // user values echoed in messages (and so in logs) are cut to 100 characters
      const clip = (e: { args?: unknown[]; details?: unknown[] }) => {
        if (Array.isArray(e.args)) e.args = e.args.map(shown)
        if (Array.isArray(e.details)) for (const d of e.details) if (d && typeof d === 'object') clip(d)
      }
      if (err && typeof err === 'object') clip(err as { args?: unknown[] }) // CAP's errors carry their message arguments
    })

    return super.init()
  }

  // ---------------------------------------------------------------------------------------------------

  /**
   * A key SAP created automatically may be deleted or replaced only with `force` (action parameter, or
   * `?force=true` on a DELETE), by an Administrator: rejects the request otherwise.
   */
  private requireForce(req: Request<object>, key: { name?: string | null }) {
    const force = ('force' in req.data && req.data.force === true) || req.http?.req.query.force === 'true'
    if (!force) req.reject(409, 'KEY_PROTECTED', 'force', [key.name])
    if (!req.user.is('Administrator')) req.reject(403, 'FORCE_REQUIRES_ADMINISTRATOR', 'force')
  }

  /** The key of the entry a request addresses (the last one of its path). */
  private keyOf(req: Request): string {
    const p: unknown = req.params.at(-1)
    const id = typeof p === 'object' && p !== null && 'ID' in p ? p.ID : p
    return typeof id === 'string' ? id : ''
  }

  /**
   * `parameters` as a JSON object or its text, or `parametersText` (the forms' field) instead: within the limits
   * of lib/naming.ts (size, depth, no secret), stored as the object. Rejects the request otherwise.
   */
  private acceptParameters(req: Request<{ parameters?: unknown; parametersText?: unknown }>) {
    const d = req.data
    let target = 'parameters'
    if (d.parametersText !== undefined) {
      if (d.parameters !== undefined) req.reject(400, 'PARAMETERS_TWICE', 'parametersText')
      target = 'parametersText'
      d.parameters = d.parametersText
      delete d.parametersText
    }
    const checked = checkParameters(d.parameters)
    if ('problem' in checked) req.reject(400, checked.problem.code, target, checked.problem.args)
    else if (d.parameters !== undefined) d.parameters = checked.value ?? null
  }

  /**
   * A PATCH of an instance: only `parameters` (or `parametersText`) and `plan_ID` change, only on an instance that
   * exists in SM and is settled; a plan only within its offering, entitled, and where the offering allows it.
   * Leaves the change for the UPDATE handler (none when nothing changes).
   */
  private async validateInstanceChange(req: Request<ServiceInstance>) {
    const d = req.data
    const id = this.keyOf(req)
    const fields = Object.keys(d).filter(f => !['ID', 'modifiedAt', 'modifiedBy'].includes(f))
    const fixed = fields.find(f => !['parameters', 'parametersText', 'plan_ID'].includes(f))
    if (fixed) return req.reject(405, 'INSTANCE_IMMUTABLE', fixed, [fixed])
    const inst = await read.instance(id)
    if (!inst) return req.reject({ status: 404, message: 'INSTANCE_UNKNOWN', args: [id] })
    const { Creating, Deleting, Deleted } = LifecycleStateCode
    const busy = inst.generation !== inst.observedGeneration || inst.state_code === Creating || inst.state_code === Deleting
    if (busy && inst.desired === DesiredState.present) return req.reject(409, 'INSTANCE_BUSY', undefined, [inst.name])
    if (inst.desired !== DesiredState.present || !inst.smId || inst.state_code === Deleted)
      return req.reject(422, 'INSTANCE_NOT_UPDATABLE', undefined, [inst.name, inst.desired === DesiredState.present ? inst.state_code : Deleting])
    this.acceptParameters(req)
    const change: Partial<InstanceRow> = {}
    if (d.parameters !== undefined && JSON.stringify(d.parameters) !== JSON.stringify(inst.parameters ?? null)) change.parameters = d.parameters
    if (d.plan_ID != null && d.plan_ID !== inst.plan_ID) {
      const sub = await read.subaccount(inst.subaccount_ID)
      const plan = await read.plan(d.plan_ID)
      if (!plan || plan.subaccount_ID !== inst.subaccount_ID) return req.reject(400, 'PLAN_UNKNOWN', 'plan_ID', [d.plan_ID, sub?.displayName])
      const current = inst.plan_ID ? await read.plan(inst.plan_ID) : null
      const offering = plan.offering_ID ? await read.offering(plan.offering_ID) : null
      if (plan.offering_ID !== current?.offering_ID) return req.reject(400, 'PLAN_OFFERING_CHANGE', 'plan_ID', [plan.name, offering?.name, inst.name])
      if (!plan.entitled || !plan.smId) return req.reject(422, 'PLAN_NOT_ENTITLED', 'plan_ID', [offering?.name, plan.name, sub?.displayName])
      if (!offering?.planUpdateable) return req.reject(422, 'PLAN_NOT_UPDATABLE', 'plan_ID', [offering?.name])
      change.plan_ID = plan.ID
    } else if (d.plan_ID === null) return req.reject(400, 'PLAN_REQUIRED', 'plan_ID')
    this.instanceChange.set(req, { inst, change: Object.keys(change).length ? { ...change, lastError: null } : undefined })
  }

  private async validateInstance(req: Request<ServiceInstance>) {
    const d = req.data
    if (!isValidResourceName(d.name)) return req.reject(400, 'INSTANCE_NAME_INVALID', 'name', [d.name])
    this.acceptParameters(req)
    const template = d.template_ID ? await read.template(d.template_ID) : undefined
    if (d.template_ID && !template) return req.reject(400, 'TEMPLATE_UNKNOWN', 'template_ID', [d.template_ID])
    if (template) {
      // a seed scenario as data: its plan, environment and parameters unless given explicitly
      if (d.parameters == null) d.parameters = templateParameters(template.parameters, { instanceName: d.name, scopes: [] }).value
      d.environment ??= template.environment as ServiceInstance['environment'] // Templates take the instances' code list
      if (!d.plan_ID && d.subaccount_ID) {
        const plan = (await SELECT.one
          .from(PlanRow)
          .where({ subaccount_ID: d.subaccount_ID, name: template.planName, 'offering.name': template.offeringName })) as WithID<PlanRow> | null // a stored row
        if (!plan) {
          const sub = await read.subaccount(d.subaccount_ID)
          if (sub) return req.reject(422, 'PLAN_NOT_ENTITLED', 'template_ID', [template.offeringName, template.planName, sub.displayName])
        }
        d.plan_ID = plan?.ID
      }
    }
    d.environment ??= InstanceRow.environment.other
    const environments: string[] = Object.values(InstanceRow.environment)
    if (!environments.includes(d.environment))
      return req.reject(400, 'ENVIRONMENT_INVALID', 'environment', [shown(String(d.environment)), environments.join(', ')])
    // other: Service Manager; cloudfoundry: the CF API of the subaccount's org (its space is checked by the reconciler)
    if (!SUPPORTED_ENVIRONMENTS.includes(d.environment))
      return req.reject(400, 'ENVIRONMENT_UNSUPPORTED', 'environment', [shown(d.environment), SUPPORTED_ENVIRONMENTS.join(', ')])

    const sub = d.subaccount_ID ? await read.subaccount(d.subaccount_ID) : null
    if (!sub) return req.reject(400, 'SUBACCOUNT_UNKNOWN', 'subaccount_ID', [d.subaccount_ID])
    if (!d.plan_ID) return req.reject(400, 'PLAN_REQUIRED', 'plan_ID')
    const plan = await read.plan(d.plan_ID)
    if (!plan || plan.subaccount_ID !== sub.ID) return req.reject(400, 'PLAN_UNKNOWN', 'plan_ID', [d.plan_ID, sub.displayName])
    const offering = plan.offering_ID ? await read.offering(plan.offering_ID) : null
    if (!plan.entitled || !plan.smId) return req.reject(422, 'PLAN_NOT_ENTITLED', 'plan_ID', [offering?.name, plan.name, sub.displayName])

    const { Creating, Ready, Deleting, Failed } = LifecycleStateCode
    const same = (await SELECT.one.from(InstanceRow).where({
      subaccount_ID: sub.ID,
      name: d.name,
      state_code: { in: [Creating, Ready, Deleting, Failed] }
    })) as Instance | null // a stored row
    if (same) {
      const existing = same.plan_ID === plan.ID && same.desired === DesiredState.present && same.state_code !== Failed
      if (!existing) return req.reject(409, 'INSTANCE_NAME_TAKEN', 'name', [d.name, sub.displayName])
      const answer = await SELECT.one.from(ServiceInstance, same.ID)
      if (answer) this.existingInstance.set(req, answer)
      return
    }
    d.offering_ID = offering?.ID
    d.state_code = Creating
    d.smId = null
    d.lastError = null
    d.labels = JSON.stringify(Orchestrator.labelsFor(d.ID as string)) // ID: set by CAP before the handlers run (cuid)
  }

  /**
   * The binding parameters of X.509 keys (seed 000 shape for own certificates), from the certificate the key
   * names or the options of the one XSUAA generates. The key's own fields (credential type, key length,
   * validity, purpose) are checked by the declarative rules of provisioning-service.cds.
   */
  private async prepareCredentialType(req: Request<ServiceKey>, inst: Instance) {
    const d = req.data
    if (d.credentialType !== KeyRow.credentialType.x509) {
      // not declared in provisioning-service.cds: error() there names another target only through json_array, which PostgreSQL 15 lacks
      if (d.certificate_ID) return req.reject(400, 'CERTIFICATE_ONLY_FOR_X509', 'certificate_ID')
      return
    }
    let certificatePem: string | undefined
    if (d.certificate_ID) {
      const cert = await read.certificate(d.certificate_ID)
      if (!cert) return req.reject(400, 'CERT_UNKNOWN', 'certificate_ID', [d.certificate_ID])
      if (Date.parse(cert.notAfter ?? '') < Date.now()) return req.reject(422, 'CERT_EXPIRED_FOR_KEY', 'certificate_ID', [cert.name, cert.notAfter])
      if (!cert.clientAuth) return req.reject(422, 'CERT_NOT_CLIENT_AUTH', 'certificate_ID', [cert.name])
      certificatePem = cert.pem ?? undefined
      d.keyLength = d.validity = d.validityType = null
    } else {
      d.keyLength ??= KeyRow.keyLength.bits2048
      d.validity ??= 7
      d.validityType ??= KeyRow.validityType.DAYS
    }
    const offering = inst.offering_ID ? await read.offering(inst.offering_ID) : null
    d.parameters = x509BindingParameters({
      offeringName: offering?.name ?? '',
      certificatePem,
      keyLength: d.keyLength ?? undefined,
      validity: d.validity ?? undefined,
      validityType: d.validityType ?? undefined,
      parameters: parseJsonObject(d.parameters)
    })
  }

  private async validateKey(req: Request<ServiceKey>) {
    const d = req.data
    if (!isValidResourceName(d.name)) return req.reject(400, 'KEY_NAME_INVALID', 'name', [d.name])
    if (isReservedKeyName(d.name)) return req.reject(400, 'KEY_NAME_RESERVED', 'name', [d.name])
    this.acceptParameters(req)
    const inst = d.instance_ID ? await read.instance(d.instance_ID) : null
    if (!inst) return req.reject(400, 'INSTANCE_UNKNOWN', 'instance_ID', [d.instance_ID])
    const template = inst.template_ID ? await read.template(inst.template_ID) : undefined
    if (template) {
      d.credentialType ??= template.credentialType as ServiceKey['credentialType'] // Templates take the keys' code list
      d.purpose ??= (template.keyPurpose ?? null) as ServiceKey['purpose'] // checked with the key (provisioning-service.cds)
      // the template's rotation policy, where the request gives none of its own
      for (const field of POLICY_FIELDS) if (d[field] === undefined) d[field] = template[field] ?? null
      // placeholders expanded; the certificate itself is put in by prepareCredentialType
      const own = templateParameters(template.keyParameters, { instanceName: inst.name, keyName: d.name, certificate: d.certificate_ID ? '' : undefined })
      if (!own.missing.length) d.parameters ??= own.value
    }
    await this.prepareCredentialType(req, inst)
    const { Creating, Ready, Deleting, Failed } = LifecycleStateCode
    if ((inst.state_code !== Creating && inst.state_code !== Ready) || inst.desired !== DesiredState.present)
      return req.reject(422, 'INSTANCE_NOT_USABLE', 'instance_ID', [inst.name, inst.desired === DesiredState.present ? inst.state_code : Deleting])
    const same = await SELECT.one.from(KeyRow).where({
      instance_ID: inst.ID,
      name: d.name,
      state_code: { in: [Creating, Ready, Deleting, Failed] }
    })
    if (same) return req.reject(409, 'KEY_NAME_TAKEN', 'name', [d.name, inst.name])
    this.keyInstance.set(req, inst)
    d.state_code = Creating
    d.smId = null
    d.lastError = null
  }
}
