import cds from '@sap/cds'
import { Readable } from 'node:stream'
import type { Request } from '@sap/cds'
import { checkParameters, isReservedKeyName, isValidResourceName, parseJsonObject, shown } from './lib/naming'
import { rateLimitAnswer, rateLimited } from './lib/sm-rate-limit'
import { Orchestrator, requestChange, requestCreate, requestKeyDeletion } from './orchestrator'
import { syncCatalog } from './catalog'
import { KEY_LENGTHS, validityProblem, x509BindingParameters } from './lib/x509'
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

type Row = Record<string, any>

/** Credential answers are never kept by browsers or proxies. */
function noStore(req: Request) {
  ;(req as unknown as { http?: { res?: { setHeader(n: string, v: string): void } } }).http?.res?.setHeader('Cache-Control', 'no-store')
}

/** The successor's name: the old name shortened, with a UTC time stamp (32 characters at most). */
export function rotatedName(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(2, 14) // YYMMDDhhmmss
  return `${name.replace(/-\d{12}$/, '').slice(0, 32 - 13)}-${stamp}`
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
  async init() {
    const { ServiceInstances, ServiceKeys, Subaccounts, Certificates, Findings, Registrations } = this.entities
    const db = cds.entities('btp.provisioning')
    // connected at start-up, so it resumes queued steps and schedules its duties once the server is up
    await cds.connect.to('orchestrator')

    // ---- service instances -------------------------------------------------------------------------
    // our rules run before CAP's generic input checks, so a bad name gets its own message code
    this.prepend(() => this.before('CREATE', ServiceInstances, req => this.validateInstance(req)))

    this.on('CREATE', ServiceInstances, async (req, next) => {
      const existing = (req as Request & { _existing?: Row })._existing
      if (existing) return existing // same name and plan: the one instance serves every scenario
      const result = await next()
      await requestCreate('ServiceInstances', req.data.ID, { instance_ID: req.data.ID, subaccount_ID: req.data.subaccount_ID })
      return result
    })

    this.on('UPDATE', ServiceInstances, req => req.reject(405, 'INSTANCE_IMMUTABLE'))

    this.on('DELETE', ServiceInstances, async req => {
      const ID = (req.params.at(-1) as Row | string)
      const id = typeof ID === 'object' ? ID.ID : ID
      const inst = await SELECT.one.from(db.ServiceInstances, id)
      if (!inst) return req.reject({ status: 404, message: 'INSTANCE_UNKNOWN', args: [id] })
      // the intent only: keys first, then the instance; the reconciler carries it out, whatever runs meanwhile
      const keys = await SELECT.from(db.ServiceKeys).columns('ID').where({ instance_ID: id, desired: 'present' })
      for (const key of keys) await requestKeyDeletion(key.ID)
      // an instance's generation changes only by a delete: if this one does not apply, another just did
      if (inst.desired !== 'absent') await requestChange('ServiceInstances', inst, { desired: 'absent' }, 'delete', { instance_ID: id, subaccount_ID: inst.subaccount_ID })
    })

    this.on('refresh', ServiceInstances, rateLimited(async (req: Request) => {
      const id = this.keyOf(req)
      const inst = await SELECT.one.from(db.ServiceInstances, id)
      if (!inst) return req.reject({ status: 404, message: 'INSTANCE_UNKNOWN', args: [id] })
      await Orchestrator.refreshInstance(inst)
      return SELECT.one.from(ServiceInstances, id)
    }))

    // ---- service keys ------------------------------------------------------------------------------
    this.prepend(() => this.before('CREATE', ServiceKeys, req => this.validateKey(req)))

    this.on('CREATE', ServiceKeys, async (req, next) => {
      const result = await next()
      const inst = (req as Request & { _instance?: Row })._instance!
      await requestCreate('ServiceKeys', req.data.ID, { serviceKey_ID: req.data.ID, instance_ID: inst.ID, subaccount_ID: inst.subaccount_ID })
      return result
    })

    this.on('UPDATE', ServiceKeys, req => req.reject(405, 'KEY_IMMUTABLE'))

    this.on('DELETE', ServiceKeys, async req => {
      const id = this.keyOf(req)
      const key = await SELECT.one.from(db.ServiceKeys, id)
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      await requestKeyDeletion(id)
    })

    this.on('refresh', ServiceKeys, rateLimited(async (req: Request) => {
      const id = this.keyOf(req)
      const key = await SELECT.one.from(db.ServiceKeys, id)
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      await Orchestrator.refreshKey(key)
      return SELECT.one.from(ServiceKeys, id)
    }))

    this.on('verify', ServiceKeys, rateLimited(async (req: Request) => {
      const id = this.keyOf(req)
      const key = await SELECT.one.from(db.ServiceKeys, id)
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [id] })
      const privateKeyPem = (req.data as { privateKey?: string }).privateKey || undefined
      let certificatePem: string | undefined
      if (key.certificate_ID) {
        certificatePem = (await SELECT.one.from(db.Certificates, key.certificate_ID))?.pem
        if (!privateKeyPem) return req.reject({ status: 400, message: 'PRIVATE_KEY_REQUIRED', target: 'privateKey', args: [key.name] })
        try {
          checkPrivateKey(privateKeyPem, certificatePem ?? '')
        } catch (e) {
          if (e instanceof VerificationInputError) return req.reject({ status: 400, message: e.code, target: 'privateKey' })
          throw e
        }
      }
      const credentials = await liveCredentials(key, req)
      await recordVerification(key, credentials, { certificatePem, privateKeyPem })
      return SELECT.one.from(ServiceKeys, id)
    }))

    this.on('rotate', ServiceKeys, async req => {
      const old = await SELECT.one.from(db.ServiceKeys, this.keyOf(req))
      if (!old) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
      if (old.state_code !== 'Ready' || old.desired !== 'present') return req.reject({ status: 422, message: 'KEY_NOT_READY', args: [old.name, old.desired === 'present' ? old.state_code : 'Deleting'] })
      const successor = await SELECT.one.from(db.ServiceKeys).where({ rotatedFrom_ID: old.ID, desired: 'present', state_code: { in: ['Creating', 'Ready'] } })
      if (successor) return req.reject({ status: 409, message: 'KEY_ALREADY_ROTATED', args: [old.name, successor.name] })
      const ID = cds.utils.uuid()
      const inst = await SELECT.one.from(db.ServiceInstances, old.instance_ID)
      await INSERT.into(db.ServiceKeys).entries({
        ID,
        instance_ID: old.instance_ID,
        name: await this.freeRotatedName(old),
        credentialType: old.credentialType,
        certificate_ID: old.certificate_ID,
        keyLength: old.keyLength,
        validity: old.validity,
        validityType: old.validityType,
        parameters: old.parameters,
        rotatedFrom_ID: old.ID,
        state_code: 'Creating'
      })
      await requestCreate('ServiceKeys', ID, { serviceKey_ID: ID, instance_ID: old.instance_ID, subaccount_ID: inst.subaccount_ID })
      return SELECT.one.from(ServiceKeys, ID)
    })

    this.on('revealCredentials', ServiceKeys, rateLimited(async (req: Request) => {
      noStore(req) // a credential answer, refused ones included, is never cached
      const key = await SELECT.one.from(db.ServiceKeys, this.keyOf(req))
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
      const credentials = await liveCredentials(key, req)
      await auditCredentialRead(key, 'reveal', req)
      return JSON.stringify(credentials, null, 2)
    }))

    this.on('downloadCredentials', ServiceKeys, rateLimited(async (req: Request) => {
      noStore(req)
      const key = await SELECT.one.from(db.ServiceKeys, this.keyOf(req))
      if (!key) return req.reject({ status: 404, message: 'KEY_UNKNOWN', args: [this.keyOf(req)] })
      const credentials = await liveCredentials(key, req)
      await auditCredentialRead(key, 'download', req)
      const res = (req as unknown as { http?: { res?: { setHeader(n: string, v: string): void } } }).http?.res
      res?.setHeader('Content-Disposition', `attachment; filename="${key.name}.json"`)
      return Readable.from([Buffer.from(JSON.stringify(credentials, null, 2))])
    }))

    // ---- registrations (hand-off to consumers) -----------------------------------------------------
    this.before('CREATE', Registrations, async req => {
      const d = req.data as Row
      const key = await SELECT.one.from(db.ServiceKeys, d.serviceKey_ID)
      if (!key) return req.reject(400, 'KEY_UNKNOWN', 'serviceKey_ID', [d.serviceKey_ID])
      if (key.state_code !== 'Ready') return req.reject(422, 'KEY_NOT_READY', 'serviceKey_ID', [key.name, key.state_code])
      const active = await SELECT.one.from(db.Registrations).where({ consumerType: d.consumerType, tenant: d.tenant, status: 'Active' })
      if (active) {
        const holder = await SELECT.one.from(db.ServiceKeys, active.serviceKey_ID)
        return req.reject(409, 'REGISTRATION_EXISTS', 'tenant', [d.consumerType, d.tenant, holder?.name])
      }
      d.status = 'Active'
    })
    this.on('UPDATE', Registrations, req => req.reject(405, 'REGISTRATION_IMMUTABLE'))
    this.on('DELETE', Registrations, async req => {
      // kept as history: a removed registration no longer hands the key to its consumer
      await UPDATE(db.Registrations, this.keyOf(req)).with({ status: 'Removed' })
    })

    // ---- certificates ------------------------------------------------------------------------------
    this.prepend(() => this.before('CREATE', Certificates, prepareCertificate))
    this.before('UPDATE', Certificates, guardCertificateUpdate)
    this.before('DELETE', Certificates, guardCertificateDelete)
    this.after('READ', Certificates, addDaysLeft)

    // ---- the signed-in user's capabilities (for hiding actions in the apps) ---------------------------
    this.on('READ', this.entities.Me, req => capabilitiesOf(req.user))

    this.on('scanExpiry', () => scanExpiry())

    // ---- subaccounts -------------------------------------------------------------------------------
    this.before(['CREATE', 'UPDATE'], Subaccounts, req => {
      const id = req.data.subaccountId
      if (id !== undefined && !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(id))
        req.reject(400, 'SUBACCOUNT_ID_INVALID', 'subaccountId', [id])
    })

    this.before('DELETE', Subaccounts, async req => {
      const id = this.keyOf(req)
      const sub = await SELECT.one.from(db.Subaccounts, id)
      if (!sub) return
      const { count } = (await SELECT.one`count(*) as count`.from(db.ServiceInstances).where({
        subaccount_ID: id,
        state_code: { '!=': 'Deleted' }
      })) as { count: number }
      if (count > 0) req.reject({ status: 409, message: 'SUBACCOUNT_IN_USE', args: [sub.displayName, count] })
    })

    this.on('syncCatalog', Subaccounts, rateLimited(async (req: Request) => {
      const id = this.keyOf(req)
      const sub = await SELECT.one.from(db.Subaccounts, id)
      if (!sub) return req.reject({ status: 404, message: 'SUBACCOUNT_UNKNOWN', args: [id] })
      await syncCatalog(sub, req)
      return SELECT.one.from(Subaccounts, id)
    }))

    this.on('sweep', Subaccounts, rateLimited(async (req: Request) => {
      const sub = await SELECT.one.from(db.Subaccounts, this.keyOf(req))
      if (!sub) return req.reject({ status: 404, message: 'SUBACCOUNT_UNKNOWN', args: [this.keyOf(req)] })
      return sweepSubaccount(sub)
    }))

    // ---- findings of sweeps ------------------------------------------------------------------------
    const onFinding = (action: (finding: Record<string, any>, req: Request) => Promise<unknown>) => async (req: Request) => {
      const id = this.keyOf(req)
      const finding = await SELECT.one.from(db.Findings, id)
      if (!finding) return req.reject({ status: 404, message: 'FINDING_UNKNOWN', args: [id] })
      await action(finding, req)
      return SELECT.one.from(Findings, id)
    }
    this.on('adopt', Findings, rateLimited(onFinding(adoptFinding)))
    this.on('remove', Findings, rateLimited(onFinding(removeFinding)))
    this.on(
      'ignore',
      Findings,
      onFinding(async (finding, req) => {
        if (finding.status !== 'open') return req.reject({ status: 422, message: 'FINDING_CLOSED', args: [finding.status] })
        await UPDATE(db.Findings, finding.ID).with({ status: 'ignored' })
      })
    )

    // Service Manager failures of synchronous calls (refresh, reveal, sweep...) answer 502/503, not 500
    this.on('error', (err, req) => {
      const limited = rateLimitAnswer(err)
      if (limited) {
        // a 429 that outlasted the request's retries (lib/sm-rate-limit.ts): the client may come back later
        // $sanitize: false keeps the code in production, where CAP replaces 5xx errors by a generic one
        Object.assign(err, { status: limited.status, message: limited.code, code: limited.code, args: [limited.retryAfterSeconds], $sanitize: false })
        const res = (req as unknown as { http?: { res?: { setHeader(n: string, v: string): void; headersSent?: boolean } } } | undefined)?.http?.res
        if (res && !res.headersSent) res.setHeader('Retry-After', String(limited.retryAfterSeconds))
      } else if (err instanceof ServiceManagerError) {
        const description = err.description || err.code
        Object.assign(err, { status: err.retryable ? 503 : 502, message: 'SM_REQUEST_FAILED', args: [description], code: 'SM_REQUEST_FAILED', $sanitize: false })
      } else if (err instanceof ServiceManagerAccessError) {
        Object.assign(err, { status: 422, message: 'SM_NOT_CONFIGURED', args: [err.subaccount] })
      }
      // user values echoed in messages (and so in logs) are cut to 100 characters
      const clip = (e: { args?: unknown[]; details?: unknown[] }) => {
        if (Array.isArray(e.args)) e.args = e.args.map(shown)
        if (Array.isArray(e.details)) for (const d of e.details) if (d && typeof d === 'object') clip(d)
      }
      if (err && typeof err === 'object') clip(err as { args?: unknown[] })
    })

    return super.init()
  }

  // ---------------------------------------------------------------------------------------------------

  private keyOf(req: Request): string {
    const p = req.params.at(-1) as Row | string
    return typeof p === 'object' ? p.ID : p
  }

  /**
   * The successor's name, not held by another key of the instance that still exists (in SM, names are unique
   * per instance): rotating a successor within the same second would otherwise repeat its name.
   */
  private async freeRotatedName(old: Row): Promise<string> {
    const taken = new Set(
      ((await SELECT.from(cds.entities('btp.provisioning').ServiceKeys).columns('name').where({ instance_ID: old.instance_ID, state_code: { '!=': 'Deleted' } })) as { name: string }[]).map(k => k.name)
    )
    const now = Date.now()
    for (let s = 0; ; s++) {
      const name = rotatedName(old.name, new Date(now + s * 1000))
      if (!taken.has(name)) return name
    }
  }

  /**
   * `parameters` as a JSON object or its text: within the limits of lib/naming.ts (size, depth, no secret),
   * stored as JSON text. Rejects the request and answers false otherwise.
   */
  private acceptParameters(req: Request): boolean {
    const d = req.data as Row
    const checked = checkParameters(d.parameters)
    if ('problem' in checked) {
      req.reject(400, checked.problem.code, 'parameters', checked.problem.args)
      return false
    }
    if (checked.text !== undefined) d.parameters = checked.text
    return true
  }

  private async validateInstance(req: Request) {
    const db = cds.entities('btp.provisioning')
    const d = req.data as Row
    if (!isValidResourceName(d.name)) return req.reject(400, 'INSTANCE_NAME_INVALID', 'name', [d.name])
    const template = d.template_ID ? await SELECT.one.from(db.Templates, d.template_ID) : undefined
    if (d.template_ID && !template) return req.reject(400, 'TEMPLATE_UNKNOWN', 'template_ID', [d.template_ID])
    if (template) {
      // a seed scenario as data: its plan, environment and parameters unless given explicitly
      d.parameters ??= template.parameters
      d.environment ??= template.environment
      if (!d.plan_ID && d.subaccount_ID) {
        const plan = await SELECT.one
          .from(db.ServicePlans)
          .where({ subaccount_ID: d.subaccount_ID, name: template.planName, 'offering.name': template.offeringName })
        if (!plan) {
          const sub = await SELECT.one.from(db.Subaccounts, d.subaccount_ID)
          if (sub) return req.reject(422, 'PLAN_NOT_ENTITLED', 'template_ID', [template.offeringName, template.planName, sub.displayName])
        }
        d.plan_ID = plan?.ID
      }
    }
    d.environment ??= 'other'
    const environments = Object.keys((this.entities.ServiceInstances.elements as Row).environment.enum ?? {})
    if (!environments.includes(d.environment))
      return req.reject(400, 'ENVIRONMENT_INVALID', 'environment', [shown(String(d.environment)), environments.join(', ')])
    if (!this.acceptParameters(req)) return
    if (d.environment === 'cloudfoundry' && !d.space) return req.reject(400, 'SPACE_REQUIRED', 'space')

    const sub = await SELECT.one.from(db.Subaccounts, d.subaccount_ID)
    if (!sub) return req.reject(400, 'SUBACCOUNT_UNKNOWN', 'subaccount_ID', [d.subaccount_ID])
    ;(req as Request & { _subaccount?: Row })._subaccount = sub
    if (!d.plan_ID) return req.reject(400, 'PLAN_REQUIRED', 'plan_ID')
    const plan = await SELECT.one.from(db.ServicePlans, d.plan_ID)
    if (!plan || plan.subaccount_ID !== sub.ID) return req.reject(400, 'PLAN_UNKNOWN', 'plan_ID', [d.plan_ID, sub.displayName])
    const offering = await SELECT.one.from(db.ServiceOfferings, plan.offering_ID)
    if (!plan.entitled || !plan.smId)
      return req.reject(422, 'PLAN_NOT_ENTITLED', 'plan_ID', [offering?.name, plan.name, sub.displayName])

    const same = await SELECT.one.from(db.ServiceInstances).where({
      subaccount_ID: sub.ID,
      name: d.name,
      state_code: { in: ['Creating', 'Ready', 'Deleting', 'Failed'] }
    })
    if (same) {
      if (same.plan_ID === plan.ID && same.desired === 'present' && same.state_code !== 'Failed') {
        ;(req as Request & { _existing?: Row })._existing = await SELECT.one.from(this.entities.ServiceInstances, same.ID)
        return
      }
      return req.reject(409, 'INSTANCE_NAME_TAKEN', 'name', [d.name, sub.displayName])
    }
    d.offering_ID = offering?.ID
    d.state_code = 'Creating'
    d.smId = null
    d.lastError = null
    d.labels = JSON.stringify(Orchestrator.labelsFor(d.ID))
  }

  /** Fills the binding parameters of X.509 keys (seed 000 shape for own certificates) after checking the input. */
  private async prepareCredentialType(req: Request, inst: Row) {
    const db = cds.entities('btp.provisioning')
    const d = req.data as Row
    const type = d.credentialType ?? 'binding-secret'
    if (type !== 'binding-secret' && type !== 'x509') return req.reject(400, 'CREDENTIAL_TYPE_INVALID', 'credentialType')
    if (type !== 'x509') {
      if (d.certificate_ID) return req.reject(400, 'CERTIFICATE_ONLY_FOR_X509', 'certificate_ID')
      return
    }
    let certificatePem: string | undefined
    if (d.certificate_ID) {
      const cert = await SELECT.one.from(db.Certificates, d.certificate_ID)
      if (!cert) return req.reject(400, 'CERT_UNKNOWN', 'certificate_ID', [d.certificate_ID])
      if (Date.parse(cert.notAfter) < Date.now()) return req.reject(422, 'CERT_EXPIRED_FOR_KEY', 'certificate_ID', [cert.name, cert.notAfter])
      if (!cert.clientAuth) return req.reject(422, 'CERT_NOT_CLIENT_AUTH', 'certificate_ID', [cert.name])
      certificatePem = cert.pem
      d.keyLength = d.validity = d.validityType = null
    } else {
      if (d.keyLength != null && !(KEY_LENGTHS as readonly number[]).includes(d.keyLength)) return req.reject(400, 'KEY_LENGTH_INVALID', 'keyLength')
      if (validityProblem(d.validity, d.validityType)) return req.reject(400, 'VALIDITY_INVALID', 'validity')
      d.keyLength ??= 2048
      d.validity ??= 7
      d.validityType ??= 'DAYS'
    }
    const offering = await SELECT.one.from(db.ServiceOfferings, inst.offering_ID)
    d.parameters = JSON.stringify(
      x509BindingParameters({
        offeringName: offering?.name ?? '',
        certificatePem,
        keyLength: d.keyLength,
        validity: d.validity,
        validityType: d.validityType,
        parameters: parseJsonObject(d.parameters)
      })
    )
  }

  private async validateKey(req: Request) {
    const db = cds.entities('btp.provisioning')
    const d = req.data as Row
    if (!isValidResourceName(d.name)) return req.reject(400, 'KEY_NAME_INVALID', 'name', [d.name])
    if (isReservedKeyName(d.name)) return req.reject(400, 'KEY_NAME_RESERVED', 'name', [d.name])
    if (!this.acceptParameters(req)) return
    const inst = await SELECT.one.from(db.ServiceInstances, d.instance_ID)
    if (!inst) return req.reject(400, 'INSTANCE_UNKNOWN', 'instance_ID', [d.instance_ID])
    const template = inst.template_ID ? await SELECT.one.from(db.Templates, inst.template_ID) : undefined
    if (template) {
      d.credentialType ??= template.credentialType
      d.parameters ??= template.keyParameters
    }
    await this.prepareCredentialType(req, inst)
    if ((inst.state_code !== 'Creating' && inst.state_code !== 'Ready') || inst.desired !== 'present')
      return req.reject(422, 'INSTANCE_NOT_USABLE', 'instance_ID', [inst.name, inst.desired === 'present' ? inst.state_code : 'Deleting'])
    const same = await SELECT.one.from(db.ServiceKeys).where({
      instance_ID: inst.ID,
      name: d.name,
      state_code: { in: ['Creating', 'Ready', 'Deleting', 'Failed'] }
    })
    if (same) return req.reject(409, 'KEY_NAME_TAKEN', 'name', [d.name, inst.name])
    ;(req as Request & { _instance?: Row })._instance = inst
    d.state_code = 'Creating'
    d.smId = null
    d.lastError = null
  }
}
