import cds from '@sap/cds'
import Ajv, { type ValidateFunction } from 'ajv'
import {
  Certificates,
  DesiredState,
  LifecycleStateCode,
  Provisionings,
  ProvisioningSteps,
  Registration,
  Registrations,
  ServiceInstance,
  ServiceInstances,
  ServiceKey,
  ServiceKeys,
  ServiceOfferings,
  ServicePlans,
  Subaccounts,
  Templates,
  VerificationStateCode
} from '#cds-models/btp/provisioning'
import type { Certificate, Provisioning, ServiceOffering, ServicePlan, Subaccount, Template } from '#cds-models/btp/provisioning'
import { checkParameters, isReservedKeyName, isValidResourceName, parseJsonObject, shown } from './lib/naming'
import { x509BindingParameters } from './lib/x509'
import { SECRET_FIELDS } from './lib/credentials'
import { subaccountScope } from './lib/instance-auth'
import { settings } from './lib/config'
import { platformFor } from './cloud-foundry/platform'
import { fetchToken, saveVerification } from './verification'
import { Orchestrator, requestCreate, type Outcome } from './orchestrator'
import { deliveryProblem } from './destinations/delivery'
import { policyOf } from './rotation'

/**
 * `provision`: a seed scenario (a Template) carried out as one call. The request checks everything that can
 * be checked before Service Manager is asked (preflight), writes the plan as desired state (instance, key and
 * the flow record with its steps, one transaction) and answers at once; the reconciler creates the instance and
 * the key, and carries the flow (`Provisionings`, a third kind of managed object) through verify and
 * register once the key is Ready. Every step is safe to repeat, so the flow resumes after a crash at any point.
 * A dry run computes the same plan and writes nothing, calls nothing.
 */

type Json = Record<string, unknown>
/** An instance or key the plan creates: its row as it is inserted. */
type NewInstance = ServiceInstance & { ID: string; name: string }
type NewKey = ServiceKey & { ID: string; name: string }
/** An instance, key or registration that exists (read from the database: its key is set). */
type Stored<T> = T & { ID: string }

// Queries refined by where, columns or orderBy answer `any` in cds-types: their rows are cast to the generated
// types of what they select.

const now = () => new Date().toISOString()
const API = '/odata/v4/provisioning'

export const STEPS = ['preflight', 'instance', 'key', 'verify', 'register'] as const
export type StepName = (typeof STEPS)[number]

/**
 * Consumers and the key purposes they must never take. Cloud ALM landscape management (seed 003): never a
 * one-use key, never a key meant for API calls (such as the Analytics API).
 */
export const UNSUITABLE_PURPOSES: Record<string, readonly string[]> = {
  'cloud-alm-landscape': ['api', 'one-use']
}

/** What a caller gives `provision`: the template, where, the names, and the template's inputs. */
export interface ProvisionInput {
  template?: string | null
  subaccount?: string | null
  instanceName?: string | null
  keyName?: string | null
  certificate?: string | null
  scopes?: string[] | null
  tenant?: string | null
  dryRun?: boolean | null
}

/** A rule that fails, as the 4xx a real run answers with. */
export interface Problem {
  status: number
  code: string
  target: string
  args: unknown[]
}

export interface PlanStep {
  step: StepName
  action: string
  status: string
  target: string | null
  /** what Service Manager is sent (JSON), for instance and key creates */
  parameters: string | null
  detail: string | null
}

interface Plan {
  problems: Problem[]
  steps: PlanStep[]
  template?: Stored<Template>
  subaccount?: Stored<Subaccount>
  inputs: Json
  instance?: { reuse?: Stored<ServiceInstance>; create?: NewInstance }
  key?: { reuse?: Stored<ServiceKey>; create?: NewKey }
  verify?: 'token' | 'manual'
  register?: { consumerType: string; tenant: string; reuse?: Stored<Registration> }
}

// ---- templates: placeholders and input schemas ---------------------------------------------------

const PLACEHOLDER = /\{(\w+)\}/g

/** An input (JSON) as text inside a longer string, as String() writes it; objects as JSON rather than [object Object]. */
function text(v: unknown): string {
  if (Array.isArray(v)) return v.map(e => (e === null || e === undefined ? '' : text(e))).join(',')
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v)
  return JSON.stringify(v) ?? ''
}

/**
 * Expands `{name}` placeholders in a template's parameters: a string that is one placeholder becomes the value
 * itself (e.g. `"{scopes}"` an array), placeholders inside longer strings are replaced by the value's text.
 * Answers the parameters and the placeholders that had no value (left as they are).
 */
export function expandPlaceholders(value: unknown, vars: Record<string, unknown>): { value: unknown; missing: string[] } {
  const missing = new Set<string>()
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\{(\w+)\}$/.exec(v)
      if (whole) {
        if (vars[whole[1]] === undefined) missing.add(whole[1])
        return vars[whole[1]] === undefined ? v : vars[whole[1]]
      }
      return v.replace(PLACEHOLDER, (m, name: string) => {
        if (vars[name] === undefined) {
          missing.add(name)
          return m
        }
        return text(vars[name])
      })
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]))
    return v
  }
  return { value: walk(value), missing: [...missing] }
}

/** A template's parameters (JSON text or object) with the placeholders expanded; undefined when there are none. */
export function templateParameters(text: unknown, vars: Record<string, unknown>): { value?: Json; missing: string[] } {
  const parsed = parseJsonObject(text)
  if (!parsed) return { missing: [] }
  const { value, missing } = expandPlaceholders(parsed, vars)
  return { value: value as Json, missing }
}

const ajv = new Ajv({ allErrors: true, strict: false })
const compiled = new Map<string, ValidateFunction>()

/** The template's input schema, compiled once per text. */
function inputValidator(schemaText: string | null | undefined): ValidateFunction | undefined {
  if (!schemaText) return undefined
  let fn = compiled.get(schemaText)
  if (!fn) {
    fn = ajv.compile(JSON.parse(schemaText))
    compiled.set(schemaText, fn)
  }
  return fn
}

/** Why a template's input schema cannot be used (not JSON, not a JSON Schema ajv compiles); undefined when it can. */
export function inputSchemaProblem(schemaText: string | null | undefined): string | undefined {
  if (schemaText === undefined || schemaText === null || schemaText === '') return undefined
  try {
    inputValidator(schemaText)
    return undefined
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).slice(0, 200)
  }
}

// ---- preflight and the plan ------------------------------------------------------------------------

const problem = (status: number, code: string, target: string, args: unknown[] = []): Problem => ({ status, code, target, args: args.map(shown) })

/**
 * The complete plan of a `provision` call: what would be created, reused, verified, registered, and every
 * rule that fails. Reads only our database; no Service Manager call.
 */
export async function planProvisioning(input: ProvisionInput, user: cds.User): Promise<Plan> {
  const plan: Plan = { problems: [], steps: [], inputs: {} }
  // one problem per input: a missing input is not reported again as a missing placeholder
  const fail = (p: Problem) => {
    if (p.code === 'PROVISION_INPUT_REQUIRED' && plan.problems.some(q => q.target === p.target)) return
    plan.problems.push(p)
  }

  const template = input.template ? ((await SELECT.one.from(Templates, input.template)) as Stored<Template> | null) : undefined
  if (!template) {
    fail(input.template ? problem(400, 'TEMPLATE_UNKNOWN', 'template', [input.template]) : problem(400, 'PROVISION_INPUT_REQUIRED', 'template', ['template']))
    return finish(plan)
  }
  plan.template = template
  // our record's ID, or the subaccount's GUID in BTP
  const sub = input.subaccount
    ? (((await SELECT.one.from(Subaccounts, input.subaccount)) ?? (await SELECT.one.from(Subaccounts).where({ subaccountId: input.subaccount }))) as Stored<Subaccount> | undefined)
    : undefined
  const scope = subaccountScope(user)
  if (!sub || (scope !== 'all' && !scope.includes(sub.subaccountId ?? ''))) {
    fail(input.subaccount ? problem(400, 'SUBACCOUNT_UNKNOWN', 'subaccount', [input.subaccount]) : problem(400, 'PROVISION_INPUT_REQUIRED', 'subaccount', ['subaccount']))
    return finish(plan)
  }
  plan.subaccount = sub

  // the template's inputs against its JSON Schema
  const inputs: Json = {}
  if (input.certificate != null) inputs.certificate = input.certificate
  if (input.scopes != null) inputs.scopes = input.scopes
  if (input.tenant != null) inputs.tenant = input.tenant
  plan.inputs = inputs
  const schemaProblem = inputSchemaProblem(template.inputSchema)
  if (schemaProblem) {
    fail(problem(422, 'TEMPLATE_SCHEMA_INVALID', 'template', [template.name, schemaProblem]))
    return finish(plan)
  }
  const validate = inputValidator(template.inputSchema)
  if (validate && !validate(inputs)) {
    for (const e of (validate.errors ?? []).slice(0, 5)) {
      const params = e.params as { missingProperty?: string; additionalProperty?: string } // ajv's params of required and additionalProperties
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : (params.missingProperty ?? params.additionalProperty ?? 'inputs')
      fail(problem(400, 'PROVISION_INPUT_INVALID', where, [where, e.message ?? 'is not valid']))
    }
  }

  // entitlement
  const offering = (await SELECT.one.from(ServiceOfferings).where({ subaccount_ID: sub.ID, name: template.offeringName })) as Stored<ServiceOffering> | undefined
  const servicePlan = offering
    ? ((await SELECT.one.from(ServicePlans).where({ subaccount_ID: sub.ID, offering_ID: offering.ID, name: template.planName })) as Stored<ServicePlan> | undefined)
    : undefined
  if (!servicePlan || !servicePlan.entitled || !servicePlan.smId) fail(problem(422, 'PLAN_NOT_ENTITLED', 'template', [template.offeringName, template.planName, sub.displayName]))

  // the certificate (seed 000): valid now, usable for TLS client authentication
  let certificate: Stored<Certificate> | undefined
  if (typeof input.certificate === 'string' && !plan.problems.some(p => p.target === 'certificate')) {
    certificate = ((await SELECT.one.from(Certificates, input.certificate)) ?? undefined) as Stored<Certificate> | undefined
    if (!certificate) fail(problem(400, 'CERT_UNKNOWN', 'certificate', [input.certificate]))
    else if (Date.parse(certificate.notAfter ?? '') < Date.now()) fail(problem(422, 'CERT_EXPIRED_FOR_KEY', 'certificate', [certificate.name, certificate.notAfter]))
    else if (Date.parse(certificate.notBefore ?? '') > Date.now()) fail(problem(422, 'CERT_NOT_YET_VALID', 'certificate', [certificate.notBefore]))
    else if (!certificate.clientAuth) fail(problem(422, 'CERT_NOT_CLIENT_AUTH', 'certificate', [certificate.name]))
  }

  // the instance: reused where the template says one serves all (seed 002), or where name and plan are the same
  const taken = [LifecycleStateCode.Creating, LifecycleStateCode.Ready, LifecycleStateCode.Deleting, LifecycleStateCode.Failed]
  const vars: Json = { instanceName: input.instanceName ?? undefined, keyName: undefined, scopes: input.scopes ?? undefined, tenant: input.tenant ?? undefined, certificate: certificate?.pem }
  const active = { in: [LifecycleStateCode.Creating, LifecycleStateCode.Ready] }
  let instance: Stored<ServiceInstance> | undefined
  if (template.sharedInstance)
    instance = (await SELECT.one
      .from(ServiceInstances)
      .where({ subaccount_ID: sub.ID, template_ID: template.ID, desired: DesiredState.present, state_code: active })
      .orderBy('createdAt')) as Stored<ServiceInstance> | undefined
  if (instance) {
    plan.instance = { reuse: instance }
    vars.instanceName = instance.name
  } else if (!input.instanceName) fail(problem(400, 'PROVISION_INPUT_REQUIRED', 'instanceName', ['instanceName']))
  else if (!isValidResourceName(input.instanceName)) fail(problem(400, 'INSTANCE_NAME_INVALID', 'instanceName', [input.instanceName]))
  else {
    const same = (await SELECT.one.from(ServiceInstances).where({ subaccount_ID: sub.ID, name: input.instanceName, state_code: { in: taken } })) as Stored<ServiceInstance> | undefined
    if (same && servicePlan && same.plan_ID === servicePlan.ID && same.desired === DesiredState.present && same.state_code !== LifecycleStateCode.Failed) plan.instance = { reuse: same }
    else if (same) fail(problem(409, 'INSTANCE_NAME_TAKEN', 'instanceName', [input.instanceName, sub.displayName]))
    else {
      const params = templateParameters(template.parameters, vars)
      const checked = params.missing.length ? undefined : checkParameters(params.value)
      if (params.missing.length) fail(problem(400, 'PROVISION_INPUT_REQUIRED', params.missing[0], [params.missing[0]]))
      else if (checked && 'problem' in checked) fail(problem(400, checked.problem.code, 'parameters', checked.problem.args))
      const ID = cds.utils.uuid()
      plan.instance = {
        create: {
          ID,
          subaccount_ID: sub.ID,
          plan_ID: servicePlan?.ID,
          offering_ID: offering?.ID,
          template_ID: template.ID,
          // Templates.environment: a String column that holds the instances' environment codes
          environment: (template.environment ?? ServiceInstance.environment.other) as ServiceInstance['environment'],
          space: template.space ?? null,
          name: input.instanceName,
          parameters: params.value ?? null,
          labels: JSON.stringify(Orchestrator.labelsFor(ID)),
          state_code: LifecycleStateCode.Creating
        }
      }
    }
  }

  // the key: the shared one where the instance is shared and has a key, otherwise a new one
  const reusedInstance = plan.instance?.reuse
  let key: Stored<ServiceKey> | undefined
  if (template.sharedInstance && reusedInstance)
    key = (await SELECT.one
      .from(ServiceKeys)
      .where({ instance_ID: reusedInstance.ID, desired: DesiredState.present, state_code: active, retireAt: null })
      .orderBy('createdAt')) as Stored<ServiceKey> | undefined
  const keyName = input.keyName || template.keyName || undefined
  vars.keyName = key?.name ?? keyName
  if (key) plan.key = { reuse: key }
  else if (!keyName) fail(problem(400, 'PROVISION_INPUT_REQUIRED', 'keyName', ['keyName']))
  else if (!isValidResourceName(keyName)) fail(problem(400, 'KEY_NAME_INVALID', 'keyName', [keyName]))
  else if (isReservedKeyName(keyName)) fail(problem(400, 'KEY_NAME_RESERVED', 'keyName', [keyName]))
  else {
    const same = reusedInstance ? ((await SELECT.one.from(ServiceKeys).where({ instance_ID: reusedInstance.ID, name: keyName, state_code: { in: taken } })) as Stored<ServiceKey> | undefined) : undefined
    if (same) fail(problem(409, 'KEY_NAME_TAKEN', 'keyName', [keyName, reusedInstance!.name]))
    // Service Manager takes a certificate once per instance
    const bound = certificate && reusedInstance
      ? ((await SELECT.one.from(ServiceKeys).columns('name').where({ instance_ID: reusedInstance.ID, certificate_ID: certificate.ID, desired: DesiredState.present, state_code: active })) as Pick<ServiceKey, 'name'> | undefined)
      : undefined
    if (bound) fail(problem(409, 'CERT_ALREADY_BOUND', 'certificate', [certificate!.name, reusedInstance!.name, bound.name]))
    const x509 = template.credentialType === ServiceKey.credentialType.x509
    const params = templateParameters(template.keyParameters, vars)
    if (params.missing.length) fail(problem(400, 'PROVISION_INPUT_REQUIRED', params.missing[0], [params.missing[0]]))
    let parameters: Json | undefined = params.value
    if (x509)
      parameters = x509BindingParameters({
        offeringName: template.offeringName ?? '',
        certificatePem: certificate?.pem ?? undefined,
        keyLength: certificate ? undefined : 2048,
        validity: certificate ? undefined : 7,
        validityType: certificate ? undefined : ServiceKey.validityType.DAYS,
        parameters
      })
    const checked = parameters ? checkParameters(parameters) : undefined
    if (checked && 'problem' in checked) fail(problem(400, checked.problem.code, 'keyParameters', checked.problem.args))
    const instanceRow = reusedInstance ?? plan.instance?.create
    plan.key = {
      create: {
        ID: cds.utils.uuid(),
        instance_ID: instanceRow?.ID,
        subaccount_ID: sub.ID,
        name: keyName,
        credentialType: x509 ? ServiceKey.credentialType.x509 : ServiceKey.credentialType.secret,
        certificate_ID: certificate?.ID ?? null,
        keyLength: x509 && !certificate ? 2048 : null,
        validity: x509 && !certificate ? 7 : null,
        validityType: x509 && !certificate ? ServiceKey.validityType.DAYS : null,
        parameters: parameters ?? null,
        purpose: (template.keyPurpose || null) as ServiceKey['purpose'], // Templates.keyPurpose: a String column of the keys' purpose codes
        ...policyOf(template),
        state_code: LifecycleStateCode.Creating
      }
    }
  }
  const keyRow = plan.key?.reuse ?? plan.key?.create
  // an own certificate's private key stays with the ABAP system: such a key is verified by hand
  plan.verify = keyRow?.certificate_ID ? 'manual' : 'token'

  // the registration with the consumer (seed 003)
  if (input.tenant) {
    if (!template.consumerType) fail(problem(400, 'PROVISION_INPUT_INVALID', 'tenant', ['tenant', 'is not an input of this template']))
    else {
      plan.register = { consumerType: template.consumerType, tenant: input.tenant }
      if (keyRow) {
        const found = await registrationProblem({ ...keyRow, state_code: LifecycleStateCode.Ready }, template.consumerType, input.tenant)
        if (found && 'problem' in found) fail({ ...found.problem, target: found.problem.target === 'serviceKey_ID' ? 'keyName' : found.problem.target })
        else if (found) plan.register.reuse = found.same
      }
    }
  }
  return finish(plan)
}

/** The plan's steps, as a dry run shows them and as the flow record starts with them. */
function finish(plan: Plan): Plan {
  const failed = plan.problems.length > 0
  const inst = plan.instance?.reuse ?? plan.instance?.create
  const key = plan.key?.reuse ?? plan.key?.create
  const t = plan.template
  plan.steps = [
    {
      step: 'preflight',
      action: 'check',
      status: failed ? 'failed' : 'done',
      target: t ? `${t.offeringName}/${t.planName}` : null,
      parameters: null,
      detail: failed ? plan.problems.map(p => p.code).join(', ') : 'entitled; names free; inputs match the template'
    },
    {
      step: 'instance',
      action: plan.instance?.reuse ? 'reuse' : 'create',
      status: plan.instance?.reuse ? 'reused' : 'pending',
      target: inst?.name ?? null,
      parameters: plan.instance?.create?.parameters ? JSON.stringify(plan.instance.create.parameters) : null,
      detail: plan.instance?.reuse ? `existing instance ${plan.instance.reuse.ID}` : t ? `environment ${t.environment ?? 'other'}` : null
    },
    {
      step: 'key',
      action: plan.key?.reuse ? 'reuse' : 'create',
      status: plan.key?.reuse ? 'reused' : 'pending',
      target: key?.name ?? null,
      parameters: plan.key?.create?.parameters ? JSON.stringify(plan.key.create.parameters) : null,
      detail: key ? `${key.credentialType}${key.purpose ? `, purpose ${key.purpose}` : ''}` : null
    },
    {
      step: 'verify',
      action: plan.verify === 'manual' ? 'manual' : 'token',
      status: 'pending',
      target: key?.name ?? null,
      parameters: null,
      detail: plan.verify === 'manual' ? "own certificate: verify with the ABAP system's private key (ServiceKeys/verify)" : 'fetch a token with the key'
    },
    {
      step: 'register',
      action: plan.register ? (plan.register.reuse ? 'reuse' : 'register') : 'none',
      status: plan.register ? (plan.register.reuse ? 'reused' : 'pending') : 'skipped',
      target: plan.register ? `${plan.register.consumerType}:${plan.register.tenant}` : null,
      parameters: null,
      detail: plan.register ? (plan.verify === 'manual' ? 'Pending until the key is verified' : null) : null
    }
  ]
  return plan
}

/** A problem's message in the default language. */
export function messageOf(p: Problem): string {
  const i18n = (cds as unknown as { i18n?: { messages?: { at(key: string, args?: unknown[]): string | undefined } } }).i18n
  return i18n?.messages?.at(p.code, p.args) ?? p.code
}

/** The answer of `provision` (a dry run's or a real run's). */
export function answerOf(plan: Plan, dryRun: boolean, ID: string | null) {
  return {
    ID,
    dryRun,
    status: plan.problems.length ? 'rejected' : dryRun ? 'planned' : 'running',
    instance: (plan.instance?.reuse ?? plan.instance?.create)?.ID ?? null,
    serviceKey: (plan.key?.reuse ?? plan.key?.create)?.ID ?? null,
    steps: plan.steps,
    problems: plan.problems.map(p => ({ code: p.code, status: p.status, target: p.target, message: messageOf(p) })),
    consumerView: null as string | null
  }
}

/**
 * Writes the plan as desired state in the caller's transaction: the instance and the key (created by the
 * reconciler, the key once its instance is Ready) and the flow record with its steps. Answers the flow's ID.
 */
export async function startProvisioning(plan: Plan): Promise<string> {
  const sub = plan.subaccount!
  const inst = plan.instance?.create
  if (inst) {
    await INSERT.into(ServiceInstances).entries({ ...inst, parameters: inst.parameters ?? null })
    await requestCreate('ServiceInstances', inst.ID, { instance_ID: inst.ID, subaccount_ID: sub.ID })
  }
  const instanceId = (plan.instance?.reuse ?? inst)!.ID
  const key = plan.key?.create
  if (key) {
    await INSERT.into(ServiceKeys).entries({ ...key, parameters: key.parameters ?? null }) // subaccount_ID: the instance's
    await requestCreate('ServiceKeys', key.ID, { serviceKey_ID: key.ID, instance_ID: instanceId, subaccount_ID: sub.ID })
  }
  const keyId = (plan.key?.reuse ?? key)!.ID
  const ID = cds.utils.uuid()
  await INSERT.into(Provisionings).entries({
    ID,
    template_ID: plan.template!.ID,
    subaccount_ID: sub.ID,
    instanceName: (plan.instance?.reuse ?? inst)!.name,
    keyName: (plan.key?.reuse ?? key)!.name,
    inputs: JSON.stringify(plan.inputs),
    instance_ID: instanceId,
    serviceKey_ID: keyId,
    consumerType: plan.register?.consumerType ?? null,
    tenant: plan.register?.tenant ?? null,
    status: 'running',
    state_code: LifecycleStateCode.Creating
  })
  await INSERT.into(ProvisioningSteps).entries(plan.steps.map((s, seq) => ({ ID: cds.utils.uuid(), provisioning_ID: ID, seq, ...s, finishedAt: s.status === 'done' || s.status === 'reused' || s.status === 'skipped' ? now() : null })))
  await requestCreate('Provisionings', ID, { provisioning_ID: ID, subaccount_ID: sub.ID, instance_ID: instanceId, serviceKey_ID: keyId })
  return ID
}

// ---- the flow in the reconciler --------------------------------------------------------------------

async function markStep(flowId: string, step: StepName, status: string, detail?: string | null) {
  await UPDATE(ProvisioningSteps)
    .set({ status, finishedAt: now(), ...(detail !== undefined ? { detail: detail?.slice(0, 2000) ?? null } : {}) })
    .where({ provisioning_ID: flowId, step, status: { '!=': status } })
}

/** The step of a flow that failed, and the ones after it skipped; the flow's outcome Failed with the message. */
function failed(flowId: string, step: StepName, message: string): Outcome {
  return {
    settle: { state: LifecycleStateCode.Failed, lastError: message, data: { status: 'failed' } },
    after: async () => {
      await markStep(flowId, step, 'failed', message)
      const later = STEPS.slice(STEPS.indexOf(step) + 1)
      await UPDATE(ProvisioningSteps).set({ status: 'skipped', finishedAt: now() }).where({ provisioning_ID: flowId, step: { in: later }, status: 'pending' })
    }
  }
}

/**
 * Reads a key's credentials where its instance lives (platformFor: Service Manager, or the CF API for an
 * instance in a Cloud Foundry space), to verify it and to show the consumer's fields.
 */
async function credentialsOf(key: Pick<ServiceKey, 'name' | 'instance_ID' | 'smId'>): Promise<Json> {
  const instance = key.instance_ID
  const inst = instance ? ((await SELECT.one.from(ServiceInstances, instance)) as Stored<ServiceInstance> | null) : undefined
  if (!inst) throw new Error(`The instance of key "${key.name}" no longer exists`)
  const remote = key.smId ? await (await platformFor({ ...inst, name: inst.name ?? undefined })).getBinding(key.smId) : undefined
  if (!remote) throw new Error(`The key "${key.name}" no longer exists in ${inst.environment === ServiceInstance.environment.cloudfoundry ? 'Cloud Foundry' : 'Service Manager'}`)
  return remote.credentials ?? {}
}

/**
 * One pass of the reconciler over a flow: waits for its instance and key (woken when they settle), then
 * verifies the key (own certificates: by hand), works out the consumer view and registers the key. Each part is
 * safe to repeat; the result is written with the flow's compare-and-set.
 */
export async function advanceProvisioning(obj: { ID: string }): Promise<Outcome> {
  const flow = (await cds.tx(() => SELECT.one.from(Provisionings, obj.ID))) as Stored<Provisioning> | null
  if (!flow) throw new Error(`The provisioning flow ${obj.ID} no longer exists`)
  const { instance_ID, serviceKey_ID, template_ID } = flow
  const [inst, key, template] = await cds.tx(() =>
    Promise.all([
      instance_ID ? SELECT.one.from(ServiceInstances, instance_ID) : null,
      serviceKey_ID ? (SELECT.one.from(ServiceKeys, serviceKey_ID) as Promise<Stored<ServiceKey> | null>) : null,
      template_ID ? SELECT.one.from(Templates, template_ID) : null
    ])
  )
  const poll = Math.max(settings().pollInitialMs, 1000)

  if (!inst || inst.desired === DesiredState.absent) return failed(flow.ID, 'instance', `The service instance "${flow.instanceName}" is being deleted`)
  if (inst.state_code === LifecycleStateCode.Failed) return failed(flow.ID, 'instance', `The service instance "${inst.name}" failed: ${inst.lastError ?? ''}`.trim())
  if (inst.state_code !== LifecycleStateCode.Ready) return { later: poll }
  await cds.tx(() => markStep(flow.ID, 'instance', 'done').then(() => UPDATE(ProvisioningSteps).set({ status: 'reused' }).where({ provisioning_ID: flow.ID, step: 'instance', action: 'reuse' })))

  if (!key || key.desired === DesiredState.absent) return failed(flow.ID, 'key', `The key "${flow.keyName}" is being deleted`)
  if (key.state_code === LifecycleStateCode.Failed) return failed(flow.ID, 'key', `The key "${key.name}" failed: ${key.lastError ?? ''}`.trim())
  if (key.state_code !== LifecycleStateCode.Ready) return { later: poll }
  await cds.tx(() => markStep(flow.ID, 'key', 'done').then(() => UPDATE(ProvisioningSteps).set({ status: 'reused' }).where({ provisioning_ID: flow.ID, step: 'key', action: 'reuse' })))

  // verify: a token with the key, unless its certificate is the user's own
  let credentials: Json | undefined
  let unverified = false
  if (key.certificate_ID) unverified = key.verification_code !== VerificationStateCode.ok
  else {
    if (!key.verification_code) {
      credentials = await credentialsOf(key)
      const check = await fetchToken(credentials, {})
      await cds.tx(() => saveVerification(key, check))
      key.verification_code = check.ok ? VerificationStateCode.ok : VerificationStateCode.failed
      key.verifyMessage = check.message
    }
    if (key.verification_code !== VerificationStateCode.ok) return failed(flow.ID, 'verify', `The key "${key.name}" does not work: ${key.verifyMessage ?? 'no token'}`)
  }

  // the consumer view: the fields the seed's consumer needs, never a secret
  credentials ??= await credentialsOf(key)
  const view = consumerView(template?.credentialFields ?? '', credentials, key)

  // the registration
  let registration: Stored<Registration> | undefined
  const { tenant, consumerType } = flow
  if (tenant && consumerType) {
    const found = await cds.tx(() => registrationProblem(key, consumerType, tenant))
    if (found && 'problem' in found) return failed(flow.ID, 'register', messageOf(found.problem))
    registration = found?.same
  }
  const status = unverified ? 'unverified' : 'completed'
  return {
    settle: { state: LifecycleStateCode.Ready, data: { status, consumerView: JSON.stringify(view), registration_ID: registration?.ID ?? null } },
    after: async () => {
      await markStep(flow.ID, 'verify', unverified ? 'unverified' : 'done', unverified ? "own certificate: verify with the ABAP system's private key (ServiceKeys/verify)" : (key.verifyMessage ?? null))
      if (tenant && consumerType && !registration) {
        const ID = cds.utils.uuid()
        await INSERT.into(Registrations).entries({ ID, serviceKey_ID: key.ID, consumerType, tenant, status: unverified ? Registration.status.Pending : Registration.status.Active })
        await UPDATE(Provisionings, flow.ID).with({ registration_ID: ID })
        await markStep(flow.ID, 'register', unverified ? 'waiting' : 'done', unverified ? 'Pending until the key is verified' : null)
      } else if (registration) await markStep(flow.ID, 'register', 'reused')
    }
  }
}

/** A value at a dotted path of the credentials. */
function at(obj: Json, path: string): unknown {
  return path.split('.').reduce<unknown>((o, p) => (o && typeof o === 'object' ? (o as Json)[p] : undefined), obj)
}

/**
 * What the seed's consumer needs, under the seed's names (Template.credentialFields, dotted paths into the
 * credentials): non-secret values as they are, secrets only named, with the actions that reveal them; the token
 * URL the consumer calls (url + /oauth/token, or the cert URL's for X.509 keys).
 */
export function consumerView(fields: string, credentials: Json, key: Pick<ServiceKey, 'ID' | 'tokenUrl'>) {
  const values: Json = {}
  const secrets: string[] = []
  for (const path of fields.split(',').map(f => f.trim()).filter(Boolean)) {
    const leaf = path.split('.').at(-1)!
    if ((SECRET_FIELDS as readonly string[]).includes(leaf)) {
      secrets.push(path)
      continue
    }
    const value = at(credentials, path)
    if (value !== undefined && value !== null && typeof value !== 'object') values[path] = value
  }
  return {
    fields: values,
    tokenUrl: key.tokenUrl ?? null,
    secrets,
    revealCredentials: `POST ${API}/ServiceKeys(${key.ID})/revealCredentials`,
    downloadCredentials: `GET ${API}/ServiceKeys(${key.ID})/downloadCredentials()`
  }
}

// ---- registrations --------------------------------------------------------------------------------

/** Registrations that hold their tenant: active, or waiting for their key's manual verify. */
const HELD = [Registration.status.Active, Registration.status.Pending]

/**
 * Whether `key` may be registered with `consumerType` for `tenant`: Ready, a suitable purpose, and no other key
 * registered for the tenant (tenants compared case-insensitively). `same`: the key is registered there already.
 */
export async function registrationProblem(
  key: Pick<ServiceKey, 'ID' | 'name' | 'state_code' | 'purpose' | 'certificate_ID'>,
  consumerType: string,
  tenant: string
): Promise<{ problem: Problem } | { same: Stored<Registration> } | undefined> {
  if (key.state_code !== LifecycleStateCode.Ready) return { problem: problem(422, 'KEY_NOT_READY', 'serviceKey_ID', [key.name, key.state_code]) }
  const unsuitable = UNSUITABLE_PURPOSES[consumerType]
  if (key.purpose && unsuitable?.includes(key.purpose)) return { problem: problem(422, 'REGISTRATION_PURPOSE_UNSUITABLE', 'serviceKey_ID', [key.name, key.purpose, consumerType]) }
  const undeliverable = deliveryProblem(key, consumerType, tenant) // consumer type destination (srv/destinations/)
  if (undeliverable) return { problem: undeliverable }
  const held = (await SELECT.one
    .from(Registrations)
    .where`consumerType = ${consumerType} and tolower(tenant) = ${tenant.toLowerCase()} and status in ${HELD}`) as Stored<Registration> | undefined
  if (!held) return undefined
  if (held.serviceKey_ID === key.ID) return { same: held }
  const holderId = held.serviceKey_ID
  const holder = holderId ? await SELECT.one.from(ServiceKeys, holderId, k => k.name) : undefined
  return { problem: problem(409, 'REGISTRATION_EXISTS', 'tenant', [consumerType, held.tenant, holder?.name]) }
}

/** A registration's status when it is made: an own certificate's key waits for a manual verify. */
export const registrationStatus = (key: Pick<ServiceKey, 'certificate_ID' | 'verification_code'>) =>
  key.certificate_ID && key.verification_code !== VerificationStateCode.ok ? Registration.status.Pending : Registration.status.Active

/**
 * After a manual verify that worked: the key's pending registrations become active, and the flows that ended
 * `unverified` with it are completed. In the caller's transaction.
 */
export async function keyVerified(key: Pick<ServiceKey, 'ID'>) {
  if (!key.ID) return
  await UPDATE(Registrations).set({ status: Registration.status.Active }).where({ serviceKey_ID: key.ID, status: Registration.status.Pending })
  const flows = (await SELECT.from(Provisionings).columns('ID', 'registration_ID').where({ serviceKey_ID: key.ID, status: 'unverified' })) as Pick<Stored<Provisioning>, 'ID' | 'registration_ID'>[]
  for (const f of flows) {
    await UPDATE(Provisionings, f.ID).with({ status: 'completed' })
    await UPDATE(ProvisioningSteps).set({ status: 'done', finishedAt: now() }).where({ provisioning_ID: f.ID, step: 'verify' })
    if (f.registration_ID) await UPDATE(ProvisioningSteps).set({ status: 'done', finishedAt: now() }).where({ provisioning_ID: f.ID, step: 'register' })
  }
}

/**
 * A key gone from Service Manager behind our back: its registrations become Dangling (the consumer still
 * holds the credential, which no longer works). Answers the registrations marked. In the caller's transaction.
 */
export async function markDangling(key: Pick<ServiceKey, 'ID'>): Promise<Stored<Registration>[]> {
  if (!key.ID) return []
  const regs = (await SELECT.from(Registrations).where({ serviceKey_ID: key.ID, status: { in: HELD } })) as Stored<Registration>[]
  if (regs.length) await UPDATE(Registrations).set({ status: Registration.status.Dangling }).where({ ID: { in: regs.map(r => r.ID) } })
  return regs
}

/**
 * Keys SAP creates automatically, found by a sweep and adopted: Cloud ALM's `<SID>_<client>_<sysno>` keys and
 * any key of a Cloud ALM API instance that this service did not create.
 */
export function isAutomaticKey(name: string, offeringName: string | undefined): boolean {
  return isReservedKeyName(name) || offeringName === 'cloudalm-api'
}

