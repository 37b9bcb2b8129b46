/**
 * Binding credentials. The shape of a service's credentials is data (catalog.ts CredentialShape);
 * the OAuth client part depends on the credential-type and is built by a pluggable factory:
 * 'binding-secret' (default) is implemented here, 'x509' in x509.ts; more can be registered through
 * EmulatorOptions.credentialTypes without touching the shapes.
 */
import type { CatalogOffering, CatalogPlan, CredentialShape } from './catalog'
import { SmError } from './errors'
import { newId, randomToken } from './ids'
import { x509Factory } from './x509'

export const DEFAULT_REGION = 'eu10'

export interface CredentialRequest {
  emulatorUrl: string
  /** base URL of the emulator's mTLS token endpoint (https://127.0.0.1:<tlsPort>) */
  emulatorCertUrl: string
  tenant: { subaccountId: string; subdomain: string }
  offering?: CatalogOffering
  plan?: CatalogPlan
  shape: CredentialShape
  instance: { id: string; name: string; planId: string; parameters: Record<string, unknown> }
  binding: { id: string; name: string; parameters: Record<string, unknown> }
  /** parameters that configure the OAuth client: binding parameters.xsuaa when present, else parameters */
  oauthParameters: Record<string, unknown>
  credentialType: string
  /** the OAuth clients of the other bindings of the subaccount (for uniqueness checks) */
  peers: PeerBinding[]
}

export interface PeerBinding {
  bindingId: string
  instanceId: string
  planId: string
  clients: ClientRegistration[]
}

/** How an X.509 client proves its identity at the mTLS token endpoint. */
export interface X509Registration {
  /** service-managed: issued by the emulator CA; self-managed: supplied by the consumer */
  source: 'service-managed' | 'self-managed'
  /** SHA-256 fingerprint of the registered/issued leaf certificate (node format, AB:CD:...) */
  fingerprint256: string
  /** subject and issuer DN of the registered leaf (node format) */
  subject: string
  issuer: string
  notBefore: number
  notAfter: number
  /** true = exactly this certificate; false = any certificate with the same subject and issuer DN issued on/after notBefore */
  pinning: boolean
}

/** An OAuth client the emulator's token endpoint must know about. */
export interface ClientRegistration {
  clientid: string
  /** absent = the client cannot authenticate with a secret */
  clientsecret?: string
  /** PEM client certificate (chain) as registered */
  certificate?: string
  /** present = the client authenticates with this certificate over mTLS only */
  x509?: X509Registration
}

export interface IssuedCredentials {
  credentials: Record<string, unknown>
  clients: ClientRegistration[]
}

export interface CredentialTools {
  /** placeholder values for this binding */
  vars: Record<string, string>
  /** fill the shape template and merge the OAuth block at shape.oauthPath */
  render(oauthBlock: Record<string, unknown>): Record<string, unknown>
  /** fresh client id: sb-<uuid>!b<n>|<xsappname> */
  newClientId(): string
  newSecret(): string
  /** the emulator's local CA */
  ca: CertificateIssuer
  /** the emulator's time (its clock may be moved by tests): what certificate validity is measured from */
  now?: () => number
}

export interface CertificateIssuer {
  issueClientCertificate(o: { subject: string; keyLength: number; notBefore: Date; notAfter: Date }): Promise<{
    certPem: string
    /** leaf then CA */
    chainPem: string
    keyPem: string
    fingerprint256: string
    subject: string
    issuer: string
    notBefore: Date
    notAfter: Date
  }>
}

/**
 * Builds the OAuth block of a binding's credentials. Validation errors must be thrown synchronously
 * (SmError); slow work (key generation) may be returned as a promise.
 */
export type CredentialFactory = (req: CredentialRequest, tools: CredentialTools) => IssuedCredentials | Promise<IssuedCredentials>

/** Default: client id + secret, token via url + /oauth/token. Honors "hide-secret": "true". */
export const bindingSecretFactory: CredentialFactory = (req, tools) => {
  const clientid = tools.newClientId()
  const clientsecret = tools.newSecret()
  const hideSecret = req.oauthParameters['hide-secret']
  const hide = hideSecret === true || hideSecret === 'true'
  const block: Record<string, unknown> = { clientid }
  if (!hide) block.clientsecret = clientsecret
  block.url = req.emulatorUrl
  return { credentials: tools.render(block), clients: [{ clientid, clientsecret }] }
}

export const DEFAULT_CREDENTIAL_FACTORIES: Record<string, CredentialFactory> = {
  'binding-secret': bindingSecretFactory,
  x509: x509Factory
}

/** Generic shape for plans that are not in the catalog (e.g. planted "foreign" instances). */
export const GENERIC_SHAPE: CredentialShape = {
  oauthPath: [],
  xsappname: '{{offering}}!b{{brokerNo}}',
  brokerNo: 1,
  template: { identityzone: '{{subdomain}}', tenantid: '{{subaccountId}}' }
}

const PLACEHOLDER = /\{\{(\w+)\}\}/g

export function fillTemplate(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return value.replace(PLACEHOLDER, (m, name: string) => vars[name] ?? m)
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, vars))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = fillTemplate(v, vars)
    return out
  }
  return value
}

function render(shape: CredentialShape, vars: Record<string, string>, block: Record<string, unknown>) {
  const creds = fillTemplate(shape.template, vars) as Record<string, unknown>
  if (shape.oauthPath.length === 0) return { ...block, ...creds, ...block }
  let parent: Record<string, unknown> = creds
  for (const part of shape.oauthPath.slice(0, -1)) {
    if (!parent[part] || typeof parent[part] !== 'object') parent[part] = {}
    parent = parent[part] as Record<string, unknown>
  }
  const last = shape.oauthPath[shape.oauthPath.length - 1]
  const existing = (parent[last] && typeof parent[last] === 'object' ? parent[last] : {}) as Record<string, unknown>
  parent[last] = { ...block, ...existing, ...block }
  return creds
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

/** Parameters that configure the OAuth client of a binding (wrapper services nest them under "xsuaa"). */
export function oauthParametersOf(parameters: Record<string, unknown>): Record<string, unknown> {
  return isObject(parameters.xsuaa) ? parameters.xsuaa : parameters
}

/** oauth2-configuration.credential-types of an instance (flat, or nested under "xsuaa" for wrapper services). */
export function instanceCredentialTypes(instanceParams: Record<string, unknown>): string[] | undefined {
  for (const params of [instanceParams, oauthParametersOf(instanceParams)]) {
    const oauthCfg = params['oauth2-configuration']
    if (isObject(oauthCfg) && Array.isArray(oauthCfg['credential-types'])) {
      const types = oauthCfg['credential-types'].filter((t): t is string => typeof t === 'string' && t !== '')
      if (types.length > 0) return types
    }
  }
  return undefined
}

/**
 * credential-type of a new binding: explicit binding parameter, else the first entry of the instance's
 * oauth2-configuration.credential-types (xsuaa), else the first type the plan/offering accepts by
 * default, else 'binding-secret'.
 */
export function credentialTypeOf(
  bindingParams: Record<string, unknown>,
  instanceParams: Record<string, unknown>,
  defaults?: string[]
): string {
  const explicit = oauthParametersOf(bindingParams)['credential-type']
  if (typeof explicit === 'string' && explicit) return explicit
  return instanceCredentialTypes(instanceParams)?.[0] ?? defaults?.[0] ?? 'binding-secret'
}

/** credential-types a binding of this instance may use; undefined = every registered type. */
export function allowedCredentialTypes(req: Pick<CredentialRequest, 'instance' | 'offering' | 'plan'>): string[] | undefined {
  return instanceCredentialTypes(req.instance.parameters) ?? req.plan?.credentialTypes ?? req.offering?.credentialTypes
}

function sanitizeAppName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100) || 'app'
}

export function credentialVars(req: Omit<CredentialRequest, 'oauthParameters'>): Record<string, string> {
  const url = new URL(req.emulatorUrl)
  const appParam = req.instance.parameters.xsappname
  const vars: Record<string, string> = {
    subaccountId: req.tenant.subaccountId,
    subdomain: req.tenant.subdomain,
    region: DEFAULT_REGION,
    uaaUrl: req.emulatorUrl,
    certUrl: req.emulatorCertUrl,
    uaaDomain: url.host,
    instanceId: req.instance.id,
    instanceName: req.instance.name,
    bindingId: req.binding.id,
    bindingName: req.binding.name,
    appName: sanitizeAppName(typeof appParam === 'string' ? appParam : req.instance.name),
    credentialType: req.credentialType,
    brokerNo: String(req.shape.brokerNo),
    offering: req.offering?.name ?? 'unknown',
    plan: req.plan?.name ?? 'unknown'
  }
  vars.xsappname = fillTemplate(req.shape.xsappname, vars) as string
  return vars
}

/**
 * Build the credentials for a binding with the factory of its credential-type (400 if unknown or not
 * enabled for the instance). Returns a promise when the factory works asynchronously.
 */
export function issueCredentials(
  req: Omit<CredentialRequest, 'oauthParameters'>,
  factories: Record<string, CredentialFactory>,
  ca: CertificateIssuer,
  now: () => number = Date.now
): IssuedCredentials | Promise<IssuedCredentials> {
  const factory = factories[req.credentialType]
  if (!factory) {
    throw new SmError(400, 'BadRequest', `credential-type '${req.credentialType}' is not supported`)
  }
  const allowed = allowedCredentialTypes(req)
  if (allowed && !allowed.includes(req.credentialType)) {
    throw new SmError(
      400,
      'BadRequest',
      `credential-type '${req.credentialType}' is not enabled for service instance ${req.instance.id}: ` +
        `allowed are ${allowed.map((t) => `'${t}'`).join(', ')} (instance parameter oauth2-configuration.credential-types, e.g. ["binding-secret","x509"])`
    )
  }
  const vars = credentialVars(req)
  const tools: CredentialTools = {
    vars,
    render: (block) => render(req.shape, vars, block),
    newClientId: () => `sb-${newId()}!b${req.shape.brokerNo}|${vars.xsappname}`,
    newSecret: () => `${newId()}$${randomToken(24)}`,
    ca,
    now
  }
  return factory({ ...req, oauthParameters: oauthParametersOf(req.binding.parameters) }, tools)
}
