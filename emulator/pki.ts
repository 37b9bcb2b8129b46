/**
 * The emulator's local PKI: a CA created at start (kept in memory only) that issues the HTTPS server
 * certificate of the mTLS token endpoint and the client certificates of service-managed X.509 bindings.
 *
 * Keys are generated with node:crypto (generateKeyPair, async: RSA 8192 takes a while but does not
 * block the event loop); certificates are built with @peculiar/x509 over node's WebCrypto.
 */
import { X509Certificate, generateKeyPair, randomBytes, webcrypto, type KeyObject } from 'node:crypto'
import type * as PeculiarX509 from '@peculiar/x509'
import { loadPeculiarX509 } from '../srv/lib/certificates'

/** @peculiar/x509, loaded the one way the project loads it (with the Reflect metadata API it needs). */
const x509Lib = loadPeculiarX509

const cryptoImpl = webcrypto as unknown as Crypto
const DAY_MS = 24 * 60 * 60 * 1000

export type KeySpec = { type: 'rsa'; bits: number } | { type: 'ec' }

interface KeyMaterial {
  /** PKCS#8 PEM of the private key */
  keyPem: string
  publicKey: CryptoKey
  privateKey: CryptoKey
  signingAlgorithm: Algorithm | EcdsaParams
}

function nodeKeyPair(spec: KeySpec): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => (err ? reject(err) : resolve({ publicKey, privateKey }))
    if (spec.type === 'rsa') generateKeyPair('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 }, done)
    else generateKeyPair('ec', { namedCurve: 'prime256v1' }, done)
  })
}

async function newKeys(spec: KeySpec): Promise<KeyMaterial> {
  const { publicKey, privateKey } = await nodeKeyPair(spec)
  const importAlg = spec.type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256' }
  const subtle = cryptoImpl.subtle
  return {
    keyPem: normalizePem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    publicKey: await subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), importAlg, true, ['verify']),
    privateKey: await subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), importAlg, false, ['sign']),
    signingAlgorithm: spec.type === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : ({ name: 'ECDSA', hash: 'SHA-256' })
  }
}

function normalizePem(pem: string): string {
  const text = pem.replace(/\r\n/g, '\n').trim()
  return `${text}\n`
}

function toPem(der: ArrayBuffer | Buffer, label: string): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64')
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`
}

/** Random positive serial number, 16 bytes, hex. */
function randomSerial(): string {
  const b = randomBytes(16)
  b[0] = (b[0] & 0x7f) | 0x01
  return b.toString('hex')
}

/** Certificates carry whole seconds: truncate so the returned dates equal the encoded ones. */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000)
}

export interface IssueOptions {
  /** subject DN in @peculiar/x509 string form, e.g. 'CN=abc, O=Acme' */
  subject: string
  key: KeySpec
  notBefore: Date
  notAfter: Date
  usage: 'client' | 'server'
  dnsNames?: string[]
  ipAddresses?: string[]
}

export interface IssuedCertificate {
  /** PEM of the leaf only */
  certPem: string
  /** PEM of leaf then issuing CA */
  chainPem: string
  /** PKCS#8 PEM private key */
  keyPem: string
  cert: X509Certificate
  /** SHA-256 fingerprint as node prints it (upper-case hex with colons) */
  fingerprint256: string
  notBefore: Date
  notAfter: Date
}

/** An in-memory certificate authority. */
export class LocalCa {
  private constructor(
    /** PEM of the CA certificate */
    readonly pem: string,
    readonly cert: X509Certificate,
    private readonly peculiarCert: PeculiarX509.X509Certificate,
    private readonly keys: KeyMaterial
  ) {}

  static async create(opts: { commonName?: string; organization?: string; years?: number; key?: KeySpec } = {}): Promise<LocalCa> {
    const x509 = x509Lib()
    const keys = await newKeys(opts.key ?? { type: 'ec' })
    const now = Date.now()
    const name = `CN=${opts.commonName ?? `SAP Service Manager Emulator Local CA ${randomBytes(4).toString('hex')}`}, O=${opts.organization ?? 'Emulator (dev only)'}`
    const caCert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: name,
        issuer: name,
        // backdated so that backdated leaf certificates (tests) still lie inside the CA validity
        notBefore: wholeSeconds(new Date(now - 400 * DAY_MS)),
        notAfter: wholeSeconds(new Date(now + (opts.years ?? 10) * 365 * DAY_MS)),
        publicKey: keys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: keys.signingAlgorithm,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, cryptoImpl)
        ]
      },
      cryptoImpl
    )
    const pem = toPem(caCert.rawData, 'CERTIFICATE')
    return new LocalCa(pem, new X509Certificate(pem), caCert, keys)
  }

  /** Issue an end-entity certificate with a fresh key pair. */
  async issue(o: IssueOptions): Promise<IssuedCertificate> {
    const x509 = x509Lib()
    const keys = await newKeys(o.key)
    const flags = x509.KeyUsageFlags
    const keyUsage = o.key.type === 'rsa' ? flags.digitalSignature | flags.keyEncipherment : flags.digitalSignature
    const extensions: PeculiarX509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsage, true),
      new x509.ExtendedKeyUsageExtension([o.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, cryptoImpl),
      await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey, false, cryptoImpl)
    ]
    const altNames = [
      ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value }))
    ]
    if (altNames.length) extensions.push(new x509.SubjectAlternativeNameExtension(altNames))
    const notBefore = wholeSeconds(o.notBefore)
    const notAfter = wholeSeconds(o.notAfter)
    if (notAfter.getTime() <= notBefore.getTime()) throw new Error('notAfter must be later than notBefore')
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: o.subject,
        issuer: this.peculiarCert.subjectName,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: this.keys.privateKey,
        signingAlgorithm: this.keys.signingAlgorithm,
        extensions
      },
      cryptoImpl
    )
    const certPem = toPem(leaf.rawData, 'CERTIFICATE')
    const cert = new X509Certificate(certPem)
    return {
      certPem,
      chainPem: certPem + this.pem,
      keyPem: keys.keyPem,
      cert,
      fingerprint256: cert.fingerprint256,
      notBefore,
      notAfter
    }
  }

  /** Whether `cert` carries a valid signature of this CA (validity dates are not checked). */
  signed(cert: X509Certificate): boolean {
    try {
      return cert.checkIssued(this.cert) && cert.verify(this.cert.publicKey)
    } catch {
      return false
    }
  }
}
