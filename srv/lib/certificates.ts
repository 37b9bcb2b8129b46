/**
 * Certificate facts from PEM input.
 *
 * Customers upload the client certificate of an ABAP system as PEM text
 * (optionally followed by its issuing chain, leaf first). This module turns
 * that text into a small set of facts and rejects anything that is not a
 * plain, currently valid, properly ordered certificate chain.
 *
 * Pure module: no I/O, no CAP dependencies. Errors never contain any of the
 * input text (in particular never a pasted private key).
 */
import { X509Certificate as NodeX509Certificate } from 'node:crypto'
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata API: the polyfill is loaded first
import 'reflect-metadata'
import * as PeculiarX509 from '@peculiar/x509'
// the generated type only (this module stays free of CAP at run time: the emulators use it too)
import type { ExpiryStateCode } from '#cds-models/btp/provisioning'

export const MAX_PEM_BYTES = 64 * 1024

export type CertificateErrorCode =
  | 'CERT_NOT_PEM'
  | 'CERT_INVALID_BASE64'
  | 'CERT_PRIVATE_KEY'
  | 'CERT_UNPARSABLE'
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_TOO_LARGE'
  | 'CERT_CHAIN_ORDER'
  | 'CERT_EMPTY'

export interface CertificateFacts {
  /** Subject DN of the leaf, RDNs in certificate order joined with ", " (RFC 2253 escaping) */
  subject: string
  /** Issuer DN of the leaf, same format as subject */
  issuer: string
  /** Serial number, hex, upper case */
  serialNumber: string
  notBefore: Date
  notAfter: Date
  /** SHA-256 fingerprint of the leaf, upper-case hex with colons (AB:CD:...) */
  fingerprintSha256: string
  /** 'RSA' | 'RSA-PSS' | 'EC' | 'Ed25519' | 'Ed448' | 'DSA' | ... */
  keyAlgorithm: string
  /** RSA/DSA modulus bits or EC curve bits */
  keySize?: number
  /** EC curve, NIST name where one exists (P-256, P-384, P-521), else the OpenSSL name */
  curve?: string
  /** usable for TLS client authentication (EKU and keyUsage permit it) */
  clientAuth: boolean
  selfSigned: boolean
  chainLength: number
  /** normalized PEM of the whole chain: certificates only, 64-char lines, \n line endings, trailing \n */
  pem: string
}

/** Message arguments: positions, sizes and dates, never input text. */
export type CertificateErrorArgs = (string | number)[]

const MESSAGES: Record<CertificateErrorCode, (args: CertificateErrorArgs) => string> = {
  CERT_EMPTY: () => 'No certificate was provided.',
  CERT_TOO_LARGE: (a) => `The certificate input exceeds the maximum size of ${a[0]} bytes.`,
  CERT_PRIVATE_KEY: () => 'The input contains a private key. Upload only the public certificate.',
  CERT_NOT_PEM: () => 'The input is not a PEM-encoded certificate.',
  CERT_INVALID_BASE64: (a) => `Certificate ${a[0]} does not contain valid Base64 data.`,
  CERT_UNPARSABLE: (a) => `Certificate ${a[0]} could not be parsed as an X.509 certificate.`,
  CERT_CHAIN_ORDER: (a) =>
    `The issuer of certificate ${a[0]} does not match the subject of certificate ${a[1]}. Provide the chain leaf first.`,
  CERT_EXPIRED: (a) => `The certificate expired on ${a[0]}.`,
  CERT_NOT_YET_VALID: (a) => `The certificate is not valid before ${a[0]}.`,
}

/**
 * Rejected certificate input. `code` is stable (use it for i18n lookups),
 * `args` are the placeholder values of the message. Neither the message nor
 * the args ever contain input text.
 */
export class CertificateInputError extends Error {
  readonly code: CertificateErrorCode
  readonly args: CertificateErrorArgs

  constructor(code: CertificateErrorCode, args: CertificateErrorArgs = []) {
    super(MESSAGES[code](args))
    this.name = 'CertificateInputError'
    this.code = code
    this.args = args
  }

  toJSON(): { name: string; code: CertificateErrorCode; message: string; args: CertificateErrorArgs } {
    return { name: this.name, code: this.code, message: this.message, args: this.args }
  }
}

// ---------------------------------------------------------------------------
// @peculiar/x509
// ---------------------------------------------------------------------------

type PeculiarX509Module = typeof PeculiarX509

/** @peculiar/x509, with the Reflect metadata polyfill it needs (imported above, before it). */
export function loadPeculiarX509(): PeculiarX509Module {
  return PeculiarX509
}

// ---------------------------------------------------------------------------
// PEM handling
// ---------------------------------------------------------------------------

const PRIVATE_KEY_MARKER = /-----BEGIN [^\r\n-]*PRIVATE KEY[^\r\n-]*-----/i
const CERT_BEGIN = /-----BEGIN CERTIFICATE-----/g
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const OID_ANY_EKU = '2.5.29.37.0'

function toPem(der: Buffer): string {
  const b64 = der.toString('base64')
  const lines: string[] = []
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64))
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

/** Extracts DER bodies of all CERTIFICATE blocks; throws on malformed PEM/Base64. */
function extractDerBlocks(text: string): Buffer[] {
  const blocks = [...text.matchAll(CERT_BLOCK)]
  const begins = text.match(CERT_BEGIN)?.length ?? 0
  // none at all, or a BEGIN without matching END (truncated / nested paste)
  if (blocks.length === 0 || begins !== blocks.length) throw new CertificateInputError('CERT_NOT_PEM')

  return blocks.map((m, i) => {
    const body = m[1].replace(/\s+/g, '')
    if (!BASE64_BODY.test(body) || body.length % 4 !== 0) {
      throw new CertificateInputError('CERT_INVALID_BASE64', [i + 1])
    }
    return Buffer.from(body, 'base64')
  })
}

function parseDer(der: Buffer, position: number): NodeX509Certificate {
  let cert: NodeX509Certificate
  try {
    cert = new NodeX509Certificate(der)
  } catch {
    throw new CertificateInputError('CERT_UNPARSABLE', [position])
  }
  // OpenSSL silently ignores trailing bytes after the certificate; we don't.
  if (!cert.raw.equals(der)) throw new CertificateInputError('CERT_UNPARSABLE', [position])
  return cert
}

// ---------------------------------------------------------------------------
// Facts
// ---------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
// OpenSSL ASN1_TIME_print format, e.g. "Jan  1 00:00:00 2024 GMT"
const OPENSSL_TIME = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? (\d{4}) GMT$/

function parseOpenSslTime(value: string, fallback: () => Date): Date {
  const m = OPENSSL_TIME.exec(value)
  const month = m ? MONTHS.indexOf(m[1]) : -1
  if (!m || month < 0) return fallback()
  const ms = m[6] ? Math.round(Number(`0.${m[6]}`) * 1000) : 0
  return new Date(Date.UTC(Number(m[7]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), ms))
}

/** Node prints one RDN per line; join them into a single-line DN. */
function dn(nodeName: string): string {
  return nodeName.split('\n').filter(Boolean).join(', ')
}

const KEY_TYPE_NAMES: Record<string, string> = {
  rsa: 'RSA',
  'rsa-pss': 'RSA-PSS',
  dsa: 'DSA',
  dh: 'DH',
  ec: 'EC',
  ed25519: 'Ed25519',
  ed448: 'Ed448',
  x25519: 'X25519',
  x448: 'X448',
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  'P-256': { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  'P-384': { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
  'P-521': { name: 'P-521', bits: 521 },
}

function keyFacts(cert: NodeX509Certificate): Pick<CertificateFacts, 'keyAlgorithm' | 'keySize' | 'curve'> {
  let type: string | undefined
  let details: { modulusLength?: number; namedCurve?: string } | undefined
  try {
    type = cert.publicKey.asymmetricKeyType
    details = cert.publicKey.asymmetricKeyDetails
  } catch {
    // key type unsupported by this OpenSSL build
  }
  if (!type) return { keyAlgorithm: 'unknown' }

  const facts: Pick<CertificateFacts, 'keyAlgorithm' | 'keySize' | 'curve'> = {
    keyAlgorithm: KEY_TYPE_NAMES[type] ?? type.toUpperCase(),
  }
  if (details?.modulusLength) facts.keySize = details.modulusLength
  if (type === 'ec' && details?.namedCurve) {
    const known = CURVES[details.namedCurve]
    facts.curve = known?.name ?? details.namedCurve
    // secp256k1, brainpoolP384r1, sect283k1, prime192v1, ...
    const bits = known?.bits ?? Number(/^(?:secp|sect|brainpoolP|prime|c2[pt]nb)(\d+)/.exec(details.namedCurve)?.[1])
    if (bits) facts.keySize = bits
  }
  return facts
}

function usableForClientAuth(leaf: PeculiarX509.X509Certificate): boolean {
  const x509 = loadPeculiarX509()
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension)
  if (eku && !eku.usages.some((u) => u === OID_CLIENT_AUTH || u === OID_ANY_EKU)) return false
  const keyUsage = leaf.getExtension(x509.KeyUsagesExtension)
  if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.digitalSignature) === 0) return false
  return true
}

function isSelfSigned(cert: NodeX509Certificate): boolean {
  if (cert.subject !== cert.issuer) return false
  try {
    return cert.verify(cert.publicKey)
  } catch {
    return false
  }
}

/**
 * Parses PEM text holding a client certificate, optionally followed by its
 * chain (leaf first), and returns facts about the leaf.
 *
 * @throws CertificateInputError for every kind of unacceptable input
 */
export function parseCertificatePem(input: string, opts: { now?: Date; maxBytes?: number } = {}): CertificateFacts {
  const maxBytes = opts.maxBytes ?? MAX_PEM_BYTES
  if (input === undefined || input === null) throw new CertificateInputError('CERT_EMPTY')
  if (typeof input !== 'string') throw new CertificateInputError('CERT_NOT_PEM')
  // size first, before any parsing; string length is a lower bound for the UTF-8 size
  if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) {
    throw new CertificateInputError('CERT_TOO_LARGE', [maxBytes])
  }

  const text = input.trim()
  if (!text) throw new CertificateInputError('CERT_EMPTY')
  if (PRIVATE_KEY_MARKER.test(text)) throw new CertificateInputError('CERT_PRIVATE_KEY')

  const ders = extractDerBlocks(text)
  const certs = ders.map((der, i) => parseDer(der, i + 1))

  for (let i = 0; i + 1 < certs.length; i++) {
    if (certs[i].issuer !== certs[i + 1].subject) throw new CertificateInputError('CERT_CHAIN_ORDER', [i + 1, i + 2])
  }

  const leaf = certs[0]
  let leafExt: PeculiarX509.X509Certificate
  try {
    leafExt = new (loadPeculiarX509().X509Certificate)(leaf.raw)
  } catch {
    throw new CertificateInputError('CERT_UNPARSABLE', [1])
  }

  const notBefore = parseOpenSslTime(leaf.validFrom, () => leafExt.notBefore)
  const notAfter = parseOpenSslTime(leaf.validTo, () => leafExt.notAfter)
  const now = opts.now ?? new Date()
  if (now.getTime() > notAfter.getTime()) throw new CertificateInputError('CERT_EXPIRED', [notAfter.toISOString()])
  if (now.getTime() < notBefore.getTime()) {
    throw new CertificateInputError('CERT_NOT_YET_VALID', [notBefore.toISOString()])
  }

  let clientAuth: boolean
  try {
    clientAuth = usableForClientAuth(leafExt)
  } catch {
    throw new CertificateInputError('CERT_UNPARSABLE', [1])
  }

  return {
    subject: dn(leaf.subject),
    issuer: dn(leaf.issuer),
    serialNumber: leaf.serialNumber.toUpperCase(),
    notBefore,
    notAfter,
    fingerprintSha256: leaf.fingerprint256.toUpperCase(),
    ...keyFacts(leaf),
    clientAuth,
    selfSigned: isSelfSigned(leaf),
    chainLength: certs.length,
    pem: certs.map((c) => toPem(c.raw)).join(''),
  }
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Validity status of a certificate for display (criticality as used by
 * Fiori elements: 3 positive, 2 critical, 1 negative).
 *
 * - daysLeft: whole days until notAfter, rounded down (negative once expired)
 * - expired:  now > notAfter (a certificate is valid up to and including notAfter)
 * - expiring: not expired and daysLeft <= warnDays
 * - valid:    otherwise
 */
export function certificateStatus(
  notAfter: Date,
  opts: { now?: Date; warnDays: number },
): { status: ExpiryStateCode; criticality: 3 | 2 | 1; daysLeft: number } {
  const end = notAfter instanceof Date ? notAfter.getTime() : NaN
  if (Number.isNaN(end)) throw new RangeError('notAfter must be a valid Date')
  if (!Number.isFinite(opts.warnDays) || opts.warnDays < 0) throw new RangeError('warnDays must be a non-negative number')

  const msLeft = end - (opts.now ?? new Date()).getTime()
  const daysLeft = Math.floor(msLeft / DAY_MS)
  if (msLeft < 0) return { status: 'expired', criticality: 1, daysLeft }
  if (daysLeft <= opts.warnDays) return { status: 'expiring', criticality: 2, daysLeft }
  return { status: 'valid', criticality: 3, daysLeft }
}
