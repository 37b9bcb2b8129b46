/**
 * The emulator's UAA part: OAuth clients (tenant SM clients and binding clients), token issuing
 * (client_credentials) and bearer-token verification.
 *
 * Tokens are JWT-shaped (header.payload.signature, HS256 with a per-run random key) so consumers can
 * decode claims like exp/zid, but the emulator verifies them by lookup: unknown = invalid.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual, type X509Certificate } from 'crypto'
import type { EmulatorTenant } from './types'
import type { ClientRegistration, X509Registration } from './credentials'
import { newId } from './ids'
import { checkPresentedCertificate, pinnedRegistration } from './x509'

export type ClientKind = 'tenant' | 'binding'

export interface Principal {
  clientid: string
  kind: ClientKind
  subaccountId: string
  bindingId?: string
}

export type CertificateAuth = { ok: true; principal: Principal } | { ok: false; description: string }

export interface TokenInfo extends Principal {
  expiresAt: number
}

interface BindingClient {
  reg: ClientRegistration
  bindingId: string
  subaccountId: string
  revoked: boolean
}

const SM_SCOPES = [
  'service-manager!b1.subaccount.service_instance.manage',
  'service-manager!b1.subaccount.service_instance.read',
  'service-manager!b1.subaccount.service_binding.manage',
  'service-manager!b1.subaccount.service_binding.read',
  'service-manager!b1.subaccount.service_plan.read',
  'service-manager!b1.subaccount.service_offering.read'
]

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

function b64url(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url')
}

export class TokenService {
  private tokens = new Map<string, TokenInfo>()
  private clients = new Map<string, BindingClient>()
  private readonly signingKey = randomBytes(32)

  constructor(
    private readonly tenants: () => EmulatorTenant[],
    private readonly ttlSeconds: number,
    private readonly issuerUrl: () => string
  ) {}

  registerBindingClients(bindingId: string, subaccountId: string, regs: ClientRegistration[]): void {
    for (const reg of regs) this.clients.set(reg.clientid, { reg, bindingId, subaccountId, revoked: false })
  }

  /** Forget the binding's clients and invalidate tokens issued to them (binding deleted). */
  removeBindingClients(bindingId: string): void {
    for (const [id, c] of this.clients) if (c.bindingId === bindingId) this.clients.delete(id)
    this.dropTokens((t) => t.bindingId === bindingId)
  }

  /** The binding's clients stop authenticating (401 invalid_client); their tokens become invalid. */
  revokeBinding(bindingId: string): boolean {
    let found = false
    for (const c of this.clients.values()) {
      if (c.bindingId === bindingId) {
        c.revoked = true
        found = true
      }
    }
    this.dropTokens((t) => t.bindingId === bindingId)
    return found
  }

  clearBindingClients(): void {
    this.clients.clear()
    this.dropTokens((t) => t.kind === 'binding')
  }

  /** Tokens issued to a client stop working (its credentials were rotated). */
  revokeClientTokens(clientid: string): void {
    this.dropTokens((t) => t.clientid === clientid)
  }

  private dropTokens(pred: (t: TokenInfo) => boolean): void {
    for (const [tok, info] of this.tokens) if (pred(info)) this.tokens.delete(tok)
  }

  /** Who a client id belongs to (no secret check); used to attribute recorded token calls. */
  lookupClient(clientid: string): Principal | undefined {
    const tenant = this.tenants().find((t) => t.clientid === clientid)
    if (tenant) return { clientid, kind: 'tenant', subaccountId: tenant.subaccountId }
    const c = this.clients.get(clientid)
    if (c) return { clientid, kind: 'binding', subaccountId: c.subaccountId, bindingId: c.bindingId }
    return undefined
  }

  /** Whether the client authenticates with an X.509 certificate (mTLS only). */
  usesCertificate(clientid: string): boolean {
    return !!this.clients.get(clientid)?.reg.x509
  }

  /** The certificate registration of a client: binding x509 clients, or tenants configured with a certificate. */
  private certificateOf(clientid: string): { reg: X509Registration; principal: Principal; revoked: boolean } | undefined {
    const tenant = this.tenants().find((t) => t.clientid === clientid)
    if (tenant) {
      if (!tenant.certificate) return undefined
      return { reg: pinnedRegistration(tenant.certificate), principal: { clientid, kind: 'tenant', subaccountId: tenant.subaccountId }, revoked: false }
    }
    const c = this.clients.get(clientid)
    if (!c?.reg.x509) return undefined
    return { reg: c.reg.x509, principal: { clientid, kind: 'binding', subaccountId: c.subaccountId, bindingId: c.bindingId }, revoked: c.revoked }
  }

  /**
   * mTLS client authentication: the client id must belong to a certificate client and the presented
   * certificate must match its registration (see x509.checkPresentedCertificate).
   */
  authenticateCertificate(clientid: string, cert: X509Certificate | undefined, now: number): CertificateAuth {
    const known = this.certificateOf(clientid)
    if (!known) {
      if (this.lookupClient(clientid)) {
        return { ok: false, description: `client ${clientid} does not authenticate with a certificate: send its client_secret` }
      }
      return { ok: false, description: 'Bad credentials: unknown client (its binding may have been deleted)' }
    }
    if (known.revoked) return { ok: false, description: 'the binding of this client was revoked' }
    const problem = checkPresentedCertificate(known.reg, cert, now)
    return problem ? { ok: false, description: problem } : { ok: true, principal: known.principal }
  }

  /** Check client id + secret; undefined when unknown, wrong secret, revoked or secret-less client. */
  authenticate(clientid: string, secret: string): Principal | undefined {
    const tenant = this.tenants().find((t) => t.clientid === clientid)
    if (tenant) {
      return sameSecret(tenant.clientsecret, secret) ? { clientid, kind: 'tenant', subaccountId: tenant.subaccountId } : undefined
    }
    const c = this.clients.get(clientid)
    if (!c || c.revoked || c.reg.clientsecret === undefined || !sameSecret(c.reg.clientsecret, secret)) return undefined
    return { clientid, kind: 'binding', subaccountId: c.subaccountId, bindingId: c.bindingId }
  }

  issue(p: Principal, now: number): Record<string, unknown> {
    const jti = newId().replace(/-/g, '')
    const iat = Math.floor(now / 1000)
    const exp = iat + this.ttlSeconds
    const scope = p.kind === 'tenant' ? SM_SCOPES : ['uaa.resource']
    const payload = {
      jti,
      iss: `${this.issuerUrl()}/oauth/token`,
      sub: p.clientid,
      client_id: p.clientid,
      cid: p.clientid,
      azp: p.clientid,
      grant_type: 'client_credentials',
      zid: p.subaccountId,
      ext_attr: { subaccountid: p.subaccountId, enhancer: 'XSUAA' },
      scope,
      aud: scope.map((s) => s.split('.')[0]),
      iat,
      exp
    }
    const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT', kid: 'emulator' })}.${b64url(payload)}`
    const sig = createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')
    const token = `${unsigned}.${sig}`
    this.tokens.set(token, { ...p, expiresAt: now + this.ttlSeconds * 1000 })
    return { access_token: token, token_type: 'bearer', expires_in: this.ttlSeconds, scope: scope.join(' '), jti }
  }

  verify(token: string, now: number): TokenInfo | undefined {
    const info = this.tokens.get(token)
    if (!info) return undefined
    if (info.expiresAt <= now) {
      this.tokens.delete(token)
      return undefined
    }
    return info
  }
}
