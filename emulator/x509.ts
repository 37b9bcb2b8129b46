/**
 * X.509 bindings (credential-type "x509"), for every offering: the binding parameters are read from
 * CredentialRequest.oauthParameters (flat, or the "xsuaa" object of wrapper services) and the OAuth
 * block goes where the offering's credential shape says (flat or under `uaa`).
 *
 * - service-managed: {"x509": {"key-length": 2048|4096|8192, "validity": n, "validity-type": "DAYS"|"MONTHS"|"YEARS"}}
 *   (defaults 2048 / 7 / DAYS, at most one year). The emulator's CA issues the client certificate;
 *   the credentials carry certificate (leaf + CA) and key.
 * - self-managed: {"x509": {"certificate": PEM, "certificate-pinning": true, "hide-certificate": false,
 *   "ensure-uniqueness": false}}. The chain is not checked; the credentials never carry a key.
 *
 * Tokens: POST {certurl}/oauth/token over mTLS, see checkPresentedCertificate().
 */
import { X509Certificate } from 'node:crypto'
import type { ClientRegistration, CredentialFactory, CredentialRequest, IssuedCredentials, X509Registration } from './credentials'
import { SmError, badRequest, conflict } from './errors'
import { newId } from './ids'

export const X509_KEY_LENGTHS = [2048, 4096, 8192] as const
export const X509_VALIDITY_TYPES = ['DAYS', 'MONTHS', 'YEARS'] as const
export type ValidityType = (typeof X509_VALIDITY_TYPES)[number]
/** Longest validity per unit: one year in all. */
export const X509_MAX_VALIDITY: Record<ValidityType, number> = { DAYS: 365, MONTHS: 12, YEARS: 1 }
/** notBefore of generated certificates lies this far before the request (clock skew). */
export const NOT_BEFORE_SKEW_MS = 5000

const DAY_MS = 24 * 60 * 60 * 1000
const PRIVATE_KEY = /-----BEGIN [^\r\n-]*PRIVATE KEY[^\r\n-]*-----/
const FIRST_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/

export interface ManagedX509Parameters {
  mode: 'service-managed'
  keyLength: number
  validity: number
  validityType: ValidityType
}

export interface SelfManagedX509Parameters {
  mode: 'self-managed'
  /** the certificate parameter as received */
  pem: string
  /** leaf (first certificate of the PEM) */
  cert: X509Certificate
  notBefore: Date
  notAfter: Date
  pinning: boolean
  hideCertificate: boolean
  ensureUniqueness: boolean
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

function quoted(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v)
}

function flag(x509: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const v = x509[name]
  if (v === undefined || v === null) return fallback
  if (v === true || v === 'true') return true
  if (v === false || v === 'false') return false
  throw badRequest(`x509.${name} must be a boolean, got ${quoted(v)}`)
}

function integer(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v)
  return undefined
}

/** UTC calendar arithmetic; the day is clamped to the end of a shorter target month (Jan 31 + 1 month = Feb 28/29). */
function addMonths(from: Date, months: number): Date {
  const y = from.getUTCFullYear()
  const m = from.getUTCMonth() + months
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return new Date(
    Date.UTC(y, m, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds())
  )
}

/** notAfter of a service-managed certificate: DAYS = 24 h units, MONTHS/YEARS = calendar months/years. */
export function validityEnd(from: Date, validity: number, type: ValidityType): Date {
  if (type === 'DAYS') return new Date(from.getTime() + validity * DAY_MS)
  return addMonths(from, type === 'MONTHS' ? validity : validity * 12)
}

/** Node prints "Jan  1 00:00:00 2024 GMT"; Date.parse understands it. */
function certDate(value: string, what: string): Date {
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) throw badRequest(`x509.certificate: could not read its ${what} date`)
  return d
}

/** Parse and validate the x509 binding parameters (400 BadRequest on anything invalid). */
export function parseX509Parameters(oauthParameters: Record<string, unknown>, now: Date): ManagedX509Parameters | SelfManagedX509Parameters {
  const raw = oauthParameters.x509
  if (raw !== undefined && raw !== null && !isObject(raw)) throw badRequest(`x509 must be a JSON object, got ${quoted(raw)}`)
  const x509: Record<string, unknown> = raw ?? {}

  if (x509.certificate !== undefined) {
    const managedOnly = ['key-length', 'validity', 'validity-type'].filter((k) => x509[k] !== undefined)
    if (managedOnly.length) {
      throw badRequest(`x509.${managedOnly.join(', x509.')} cannot be combined with x509.certificate (self-managed certificate)`)
    }
    const pem = x509.certificate
    if (typeof pem !== 'string' || pem.trim() === '') throw badRequest('x509.certificate must be a PEM-encoded X.509 certificate')
    if (PRIVATE_KEY.test(pem)) throw badRequest('x509.certificate must not contain a private key: pass only the certificate')
    const block = FIRST_CERT.exec(pem)?.[0]
    let cert: X509Certificate
    try {
      if (!block) throw new Error('no PEM certificate block')
      cert = new X509Certificate(block)
    } catch {
      throw badRequest('x509.certificate could not be parsed as a PEM-encoded X.509 certificate')
    }
    const notBefore = certDate(cert.validFrom, 'notBefore')
    const notAfter = certDate(cert.validTo, 'notAfter')
    if (notAfter.getTime() < now.getTime()) throw badRequest(`x509.certificate expired on ${notAfter.toISOString()}`)
    if (notBefore.getTime() > now.getTime()) throw badRequest(`x509.certificate is not valid before ${notBefore.toISOString()}`)
    return {
      mode: 'self-managed',
      pem,
      cert,
      notBefore,
      notAfter,
      pinning: flag(x509, 'certificate-pinning', true),
      hideCertificate: flag(x509, 'hide-certificate', false),
      ensureUniqueness: flag(x509, 'ensure-uniqueness', false)
    }
  }

  const keyLengthRaw = x509['key-length'] ?? 2048
  const keyLength = integer(keyLengthRaw)
  if (keyLength === undefined || !(X509_KEY_LENGTHS as readonly number[]).includes(keyLength)) {
    throw badRequest(`x509.key-length must be one of ${X509_KEY_LENGTHS.join(', ')}, got ${quoted(keyLengthRaw)}`)
  }
  const typeRaw = x509['validity-type'] ?? 'DAYS'
  if (typeof typeRaw !== 'string' || !(X509_VALIDITY_TYPES as readonly string[]).includes(typeRaw)) {
    throw badRequest(`x509.validity-type must be one of ${X509_VALIDITY_TYPES.join(', ')}, got ${quoted(typeRaw)}`)
  }
  const validityType = typeRaw as ValidityType
  const validityRaw = x509.validity ?? 7
  const validity = integer(validityRaw)
  if (validity === undefined || validity < 1) throw badRequest(`x509.validity must be a positive integer, got ${quoted(validityRaw)}`)
  if (validity > X509_MAX_VALIDITY[validityType]) {
    throw badRequest(
      `x509.validity of ${validity} ${validityType} exceeds the maximum of one year ` +
        `(${X509_MAX_VALIDITY.DAYS} DAYS, ${X509_MAX_VALIDITY.MONTHS} MONTHS or ${X509_MAX_VALIDITY.YEARS} YEARS)`
    )
  }
  return { mode: 'service-managed', keyLength, validity, validityType }
}

/**
 * Each certificate once per xsuaa instance (with ensure-uniqueness: once per plan in the subaccount):
 * the same certificate (SHA-256) is always a conflict; the same subject + issuer DN is one when either
 * binding does not pin the certificate (it would accept the other's certificates).
 */
function checkUnique(req: CredentialRequest, p: SelfManagedX509Parameters): void {
  const fingerprint = p.cert.fingerprint256
  for (const peer of req.peers) {
    const sameScope = peer.instanceId === req.instance.id || (p.ensureUniqueness && peer.planId === req.instance.planId)
    if (!sameScope) continue
    for (const c of peer.clients) {
      const reg = c.x509
      if (!reg || reg.source !== 'self-managed') continue
      const where = peer.instanceId === req.instance.id ? 'on this service instance' : `on service instance ${peer.instanceId} (ensure-uniqueness)`
      if (reg.fingerprint256 === fingerprint) {
        throw conflict(`the certificate is already used by service binding ${peer.bindingId} ${where}`)
      }
      if ((!p.pinning || !reg.pinning) && reg.subject === p.cert.subject && reg.issuer === p.cert.issuer) {
        throw conflict(
          `a certificate with the same subject and issuer DN is already used by service binding ${peer.bindingId} ${where} ` +
            '(without certificate-pinning the subject/issuer pair must be unique)'
        )
      }
    }
  }
}

function oauthBlock(req: CredentialRequest, clientid: string): Record<string, unknown> {
  return { clientid, certurl: req.emulatorCertUrl, url: req.emulatorUrl, 'credential-type': 'x509' }
}

/** Credential factory for credential-type "x509". */
export const x509Factory: CredentialFactory = (req, tools) => {
  const now = new Date(tools.now?.() ?? Date.now())
  const p = parseX509Parameters(req.oauthParameters, now)
  const clientid = tools.newClientId()

  if (p.mode === 'self-managed') {
    checkUnique(req, p)
    const reg: ClientRegistration = {
      clientid,
      certificate: p.pem,
      x509: {
        source: 'self-managed',
        fingerprint256: p.cert.fingerprint256,
        subject: p.cert.subject,
        issuer: p.cert.issuer,
        notBefore: p.notBefore.getTime(),
        notAfter: p.notAfter.getTime(),
        pinning: p.pinning
      }
    }
    const block = oauthBlock(req, clientid)
    if (!p.hideCertificate) block.certificate = p.pem
    return { credentials: tools.render(block), clients: [reg] }
  }

  const notBefore = new Date(now.getTime() - NOT_BEFORE_SKEW_MS)
  const notAfter = validityEnd(now, p.validity, p.validityType)
  const subject = `CN=${newId()}, OU=${req.tenant.subaccountId}, OU=SAP BTP Clients (emulator), O=SAP SE, L=${tools.vars.region}, C=DE`
  return tools.ca.issueClientCertificate({ subject, keyLength: p.keyLength, notBefore, notAfter }).then((issued): IssuedCredentials => {
    const reg: ClientRegistration = {
      clientid,
      certificate: issued.chainPem,
      x509: {
        source: 'service-managed',
        fingerprint256: issued.fingerprint256,
        subject: issued.subject,
        issuer: issued.issuer,
        notBefore: issued.notBefore.getTime(),
        notAfter: issued.notAfter.getTime(),
        pinning: true
      }
    }
    const block = { ...oauthBlock(req, clientid), certificate: issued.chainPem, key: issued.keyPem }
    return { credentials: tools.render(block), clients: [reg] }
  })
}

/**
 * Does the certificate presented at the mTLS endpoint authenticate a client with this registration?
 * Returns undefined when it does, else the reason (for error_description).
 */
export function checkPresentedCertificate(reg: X509Registration, cert: X509Certificate | undefined, now: number): string | undefined {
  if (!cert) return 'no client certificate was presented: the token endpoint of an x509 client requires mTLS with the binding certificate'
  if (reg.pinning) {
    if (cert.fingerprint256 !== reg.fingerprint256) {
      return reg.source === 'service-managed'
        ? 'the client certificate does not match the binding: it is not the certificate the emulator issued for this client'
        : 'the client certificate does not match the binding: certificate-pinning requires exactly the registered certificate'
    }
  } else {
    if (cert.subject !== reg.subject || cert.issuer !== reg.issuer) {
      return 'the client certificate does not match the binding: subject and issuer DN must equal those of the registered certificate'
    }
    const nb = new Date(cert.validFrom).getTime()
    if (!(nb >= reg.notBefore)) {
      return 'the client certificate does not match the binding: it was issued before the registered certificate (notBefore is earlier)'
    }
  }
  const notBefore = new Date(cert.validFrom).getTime()
  const notAfter = new Date(cert.validTo).getTime()
  if (now > notAfter) return `the client certificate expired on ${new Date(notAfter).toISOString()}`
  if (now < notBefore) return `the client certificate is not valid before ${new Date(notBefore).toISOString()}`
  return undefined
}

/** Registration of a pinned certificate (tenant SM clients configured with `certificate`). */
export function pinnedRegistration(pem: string): X509Registration {
  const block = FIRST_CERT.exec(pem)?.[0]
  if (!block) throw new SmError(500, 'InternalError', 'tenant certificate is not a PEM certificate')
  const cert = new X509Certificate(block)
  return {
    source: 'self-managed',
    fingerprint256: cert.fingerprint256,
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: new Date(cert.validFrom).getTime(),
    notAfter: new Date(cert.validTo).getTime(),
    pinning: true
  }
}
