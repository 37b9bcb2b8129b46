import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto'
import {
  CertificateErrorCode,
  CertificateInputError,
  MAX_PEM_BYTES,
  certificateStatus,
  loadPeculiarX509,
  parseCertificatePem,
} from '../srv/lib/certificates'
import { chainPem, EKU, IssuedCert, KeyUsage, makeCa, makeLeaf, toPem } from './fixtures/pki'

const DAY = 24 * 60 * 60 * 1000
/** fixed reference time; all fixture validities are relative to it */
const NOW = new Date('2030-06-15T12:00:00.000Z')
const NOT_BEFORE = new Date('2030-01-01T00:00:00.000Z')
const NOT_AFTER = new Date('2031-01-01T00:00:00.000Z')

function fingerprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':')
}

function captureError(fn: () => unknown): CertificateInputError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(CertificateInputError)
    return e as CertificateInputError
  }
  throw new Error('expected parseCertificatePem to throw')
}

function expectCode(input: string, code: CertificateErrorCode, opts: { now?: Date; maxBytes?: number } = { now: NOW }) {
  const err = captureError(() => parseCertificatePem(input, opts))
  expect(err.code).toBe(code)
  return err
}

/** PEM body of a block with its lines joined */
function base64Body(pem: string): string {
  return pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '')
}

let root: IssuedCert
let intermediate: IssuedCert
let rsaLeaf: IssuedCert // RSA 2048, clientAuth EKU, issued by intermediate
let ecLeaf: IssuedCert // EC P-256, no EKU, issued by root
let serverOnly: IssuedCert
let expired: IssuedCert
let notYetValid: IssuedCert
let selfSigned: IssuedCert

beforeAll(async () => {
  root = await makeCa({ subject: 'CN=Test Root CA, O=Acme Trust, C=DE', notBefore: new Date('2029-01-01T00:00:00Z'), days: 3650 })
  intermediate = await makeCa({ cn: 'Test Issuing CA', issuer: root, key: 'EC', notBefore: new Date('2029-01-01T00:00:00Z') })
  rsaLeaf = await makeLeaf(intermediate, {
    subject: 'CN=ABC Client, O=Acme\\, Inc., C=DE',
    serialNumber: '0a1b2c3d4e5f',
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    eku: ['clientAuth'],
    key: { type: 'RSA', rsaBits: 2048 },
  })
  ecLeaf = await makeLeaf(root, { cn: 'EC Client', key: { type: 'EC', curve: 'P-256' }, notBefore: NOT_BEFORE, notAfter: NOT_AFTER })
  serverOnly = await makeLeaf(root, { cn: 'server.example.test', key: 'EC', eku: ['serverAuth'], now: NOW })
  expired = await makeLeaf(root, { cn: 'expired', key: 'EC', notBefore: new Date('2029-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') })
  notYetValid = await makeLeaf(root, { cn: 'future', key: 'EC', notBefore: new Date('2031-01-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') })
  selfSigned = await makeLeaf(null, { cn: 'ABC Self Signed', key: 'EC', now: NOW })
})

describe('parseCertificatePem – facts', () => {
  test('RSA 2048 leaf with clientAuth EKU: every field', () => {
    const facts = parseCertificatePem(rsaLeaf.certPem, { now: NOW })
    const node = new NodeX509Certificate(rsaLeaf.der)

    expect(facts.subject).toBe('CN=ABC Client, O=Acme\\, Inc., C=DE')
    expect(facts.issuer).toBe('CN=Test Issuing CA')
    expect(facts.serialNumber).toBe('0A1B2C3D4E5F')
    expect(facts.serialNumber).toBe(node.serialNumber.toUpperCase())
    expect(facts.notBefore).toEqual(NOT_BEFORE)
    expect(facts.notAfter).toEqual(NOT_AFTER)
    expect(facts.fingerprintSha256).toBe(node.fingerprint256)
    expect(facts.fingerprintSha256).toBe(fingerprintOf(rsaLeaf.der))
    expect(facts.fingerprintSha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(facts.keyAlgorithm).toBe('RSA')
    expect(facts.keySize).toBe(2048)
    expect(facts.curve).toBeUndefined()
    expect(facts.clientAuth).toBe(true)
    expect(facts.selfSigned).toBe(false)
    expect(facts.chainLength).toBe(1)
    expect(facts.pem).toBe(rsaLeaf.certPem)
  })

  test('EC P-256 leaf: key facts, issuer DN in certificate order', () => {
    const facts = parseCertificatePem(ecLeaf.certPem, { now: NOW })
    expect(facts.keyAlgorithm).toBe('EC')
    expect(facts.keySize).toBe(256)
    expect(facts.curve).toBe('P-256')
    expect(facts.subject).toBe('CN=EC Client')
    expect(facts.issuer).toBe('CN=Test Root CA, O=Acme Trust, C=DE')
    expect(facts.fingerprintSha256).toBe(new NodeX509Certificate(ecLeaf.der).fingerprint256)
    expect(facts.clientAuth).toBe(true) // no EKU, keyUsage digitalSignature
  })

  test('other key types: P-384, Ed25519', async () => {
    const p384 = parseCertificatePem((await makeLeaf(root, { key: { type: 'EC', curve: 'P-384' } })).certPem)
    expect([p384.keyAlgorithm, p384.keySize, p384.curve]).toEqual(['EC', 384, 'P-384'])

    const ed = parseCertificatePem((await makeLeaf(root, { key: 'Ed25519' })).certPem)
    expect(ed.keyAlgorithm).toBe('Ed25519')
    expect(ed.keySize).toBeUndefined()
    expect(ed.curve).toBeUndefined()
  })

  test('uses the current time when no `now` is given', async () => {
    const current = await makeLeaf(root, { key: 'EC' }) // now - 1 day .. now + 365 days
    expect(parseCertificatePem(current.certPem).chainLength).toBe(1)
    const past = await makeLeaf(root, { key: 'EC', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })
    expectCode(past.certPem, 'CERT_EXPIRED', {})
  })

  describe('clientAuth', () => {
    const cases: Array<[string, { eku?: string[]; keyUsage?: number | null }, boolean]> = [
      ['no EKU, keyUsage digitalSignature', {}, true],
      ['no EKU, no keyUsage', { keyUsage: null }, true],
      ['EKU clientAuth', { eku: ['clientAuth'] }, true],
      ['EKU clientAuth (OID), no keyUsage', { eku: [EKU.clientAuth], keyUsage: null }, true],
      ['EKU serverAuth only', { eku: ['serverAuth'] }, false],
      ['EKU serverAuth + clientAuth', { eku: ['serverAuth', 'clientAuth'] }, true],
      ['EKU anyExtendedKeyUsage', { eku: ['any'] }, true],
      ['EKU codeSigning + emailProtection', { eku: ['codeSigning', 'emailProtection'] }, false],
      ['EKU clientAuth but keyUsage keyEncipherment only', { eku: ['clientAuth'], keyUsage: KeyUsage.keyEncipherment }, false],
      ['no EKU, keyUsage keyAgreement only', { keyUsage: KeyUsage.keyAgreement }, false],
      ['no EKU, keyUsage digitalSignature + nonRepudiation', { keyUsage: KeyUsage.digitalSignature | KeyUsage.nonRepudiation }, true],
    ]
    test.each(cases)('%s -> %s', async (_name, opts, expected) => {
      const leaf = await makeLeaf(root, { key: 'EC', now: NOW, ...opts })
      expect(parseCertificatePem(leaf.certPem, { now: NOW }).clientAuth).toBe(expected)
    })

    test('serverAuth-only fixture is not usable for client auth', () => {
      expect(parseCertificatePem(serverOnly.certPem, { now: NOW }).clientAuth).toBe(false)
    })
  })

  describe('selfSigned', () => {
    test('self-signed leaf', () => {
      const facts = parseCertificatePem(selfSigned.certPem, { now: NOW })
      expect(facts.selfSigned).toBe(true)
      expect(facts.subject).toBe('CN=ABC Self Signed')
      expect(facts.issuer).toBe(facts.subject)
    })

    test('root CA on its own', () => {
      expect(parseCertificatePem(root.certPem, { now: NOW }).selfSigned).toBe(true)
    })

    test('same subject and issuer name but signed by another key is not self-signed', async () => {
      const ca = await makeCa({ cn: 'Same Name', key: 'EC' })
      const leaf = await makeLeaf(ca, { cn: 'Same Name', key: 'EC' })
      const facts = parseCertificatePem(leaf.certPem)
      expect(facts.subject).toBe(facts.issuer)
      expect(facts.selfSigned).toBe(false)
    })
  })

  describe('normalization', () => {
    test('CRLF, surrounding text, indentation and other wrapping are normalized away', () => {
      const body = base64Body(rsaLeaf.certPem)
      const messy =
        '\r\n  Hello, here is the certificate of system ABC:\r\n' +
        '-----BEGIN CERTIFICATE-----\r\n' +
        body.match(/.{1,76}/g)!.map((l) => `   ${l}\t`).join('\r\n') +
        '\r\n-----END CERTIFICATE-----\r\nRegards, Basis team\r\n\r\n'
      const facts = parseCertificatePem(messy, { now: NOW })
      expect(facts.pem).toBe(rsaLeaf.certPem)
      expect(facts.pem).not.toContain('\r')
      expect(facts.pem).not.toMatch(/Hello|Regards/)
      expect(facts.fingerprintSha256).toBe(fingerprintOf(rsaLeaf.der))
    })

    test('normalized PEM has 64-character lines and re-parses to the same facts', () => {
      const facts = parseCertificatePem(chainPem(rsaLeaf, intermediate, root).replace(/\n/g, '\r\n'), { now: NOW })
      const lines = facts.pem.split('\n')
      expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----')
      expect(lines[lines.length - 1]).toBe('')
      for (const line of lines.filter((l) => !l.startsWith('-----') && l)) expect(line.length).toBeLessThanOrEqual(64)
      expect(parseCertificatePem(facts.pem, { now: NOW })).toEqual(facts)
    })

    test('other PEM blocks (e.g. a CSR) next to the certificate are dropped', () => {
      const csr = toPem(Buffer.from('not really a csr'), 'CERTIFICATE REQUEST')
      const facts = parseCertificatePem(csr + ecLeaf.certPem, { now: NOW })
      expect(facts.pem).toBe(ecLeaf.certPem)
      expect(facts.chainLength).toBe(1)
    })
  })
})

describe('parseCertificatePem – chain', () => {
  test('leaf, intermediate, root', () => {
    const input = chainPem(rsaLeaf, intermediate, root)
    const facts = parseCertificatePem(input, { now: NOW })
    expect(facts.chainLength).toBe(3)
    expect(facts.pem).toBe(input)
    // facts describe the leaf
    expect(facts.subject).toBe('CN=ABC Client, O=Acme\\, Inc., C=DE')
    expect(facts.fingerprintSha256).toBe(fingerprintOf(rsaLeaf.der))
    expect(facts.keyAlgorithm).toBe('RSA')
    expect(facts.selfSigned).toBe(false)
  })

  test('leaf and intermediate without root', () => {
    expect(parseCertificatePem(chainPem(rsaLeaf, intermediate), { now: NOW }).chainLength).toBe(2)
  })

  test('reversed chain (root first) -> CERT_CHAIN_ORDER', () => {
    const err = expectCode(chainPem(root, intermediate, rsaLeaf), 'CERT_CHAIN_ORDER')
    expect(err.args).toEqual([1, 2])
  })

  test('root and intermediate swapped -> CERT_CHAIN_ORDER at position 2', () => {
    const err = expectCode(chainPem(rsaLeaf, root, intermediate), 'CERT_CHAIN_ORDER')
    expect(err.args).toEqual([1, 2])
    const err2 = expectCode(chainPem(intermediate, intermediate), 'CERT_CHAIN_ORDER')
    expect(err2.args).toEqual([1, 2])
  })

  test('missing intermediate -> CERT_CHAIN_ORDER', () => {
    expectCode(chainPem(rsaLeaf, root), 'CERT_CHAIN_ORDER')
  })

  test('unrelated second certificate -> CERT_CHAIN_ORDER at position 2', () => {
    const err = expectCode(chainPem(rsaLeaf, intermediate, selfSigned), 'CERT_CHAIN_ORDER')
    expect(err.args).toEqual([2, 3])
  })
})

describe('parseCertificatePem – validity', () => {
  test('expired -> CERT_EXPIRED with notAfter ISO', () => {
    const err = expectCode(expired.certPem, 'CERT_EXPIRED')
    expect(err.args).toEqual(['2030-01-01T00:00:00.000Z'])
    expect(err.message).toContain('2030-01-01T00:00:00.000Z')
  })

  test('not yet valid -> CERT_NOT_YET_VALID with notBefore ISO', () => {
    const err = expectCode(notYetValid.certPem, 'CERT_NOT_YET_VALID')
    expect(err.args).toEqual(['2031-01-01T00:00:00.000Z'])
  })

  test('boundaries: valid at exactly notBefore and notAfter, invalid one second outside', () => {
    expect(parseCertificatePem(rsaLeaf.certPem, { now: NOT_BEFORE }).notBefore).toEqual(NOT_BEFORE)
    expect(parseCertificatePem(rsaLeaf.certPem, { now: NOT_AFTER }).notAfter).toEqual(NOT_AFTER)
    expectCode(rsaLeaf.certPem, 'CERT_NOT_YET_VALID', { now: new Date(NOT_BEFORE.getTime() - 1000) })
    expectCode(rsaLeaf.certPem, 'CERT_EXPIRED', { now: new Date(NOT_AFTER.getTime() + 1000) })
  })

  test('only the leaf validity is checked', () => {
    // root and intermediate start 2029; leaf 2030 – at NOW all valid; expired leaf in a chain still fails
    expectCode(chainPem(expired, root), 'CERT_EXPIRED')
  })
})

describe('parseCertificatePem – input errors', () => {
  test('CERT_EMPTY', () => {
    expectCode('', 'CERT_EMPTY')
    expectCode('  \r\n\t \n', 'CERT_EMPTY')
    expect(captureError(() => parseCertificatePem(undefined as unknown as string)).code).toBe('CERT_EMPTY')
  })

  test('CERT_TOO_LARGE is checked first, in UTF-8 bytes', () => {
    const err = expectCode('x'.repeat(MAX_PEM_BYTES + 1), 'CERT_TOO_LARGE')
    expect(err.args).toEqual([MAX_PEM_BYTES])
    // 40 000 characters but 80 000 bytes
    expectCode('ä'.repeat(40_000), 'CERT_TOO_LARGE')
    // even a private key is reported as too large (no parsing happens)
    expectCode(rsaLeaf.keyPem + ' '.repeat(MAX_PEM_BYTES), 'CERT_TOO_LARGE')
    // whitespace counts too: size is checked before trimming
    expectCode(rsaLeaf.certPem + ' '.repeat(MAX_PEM_BYTES), 'CERT_TOO_LARGE')
  })

  test('maxBytes option, inclusive boundary', () => {
    const pem = rsaLeaf.certPem
    expect(parseCertificatePem(pem, { now: NOW, maxBytes: pem.length }).chainLength).toBe(1)
    const err = expectCode(pem, 'CERT_TOO_LARGE', { now: NOW, maxBytes: pem.length - 1 })
    expect(err.args).toEqual([pem.length - 1])
  })

  test('CERT_NOT_PEM', () => {
    expectCode('hello world', 'CERT_NOT_PEM')
    // bare base64 of the DER (no armor)
    expectCode(base64Body(rsaLeaf.certPem), 'CERT_NOT_PEM')
    // raw DER pasted as text
    expectCode(rsaLeaf.der.toString('latin1'), 'CERT_NOT_PEM')
    // other PEM types only
    expectCode(toPem(Buffer.from('abc'), 'CERTIFICATE REQUEST'), 'CERT_NOT_PEM')
    expectCode(toPem(Buffer.from('abc'), 'PUBLIC KEY'), 'CERT_NOT_PEM')
    // truncated paste: BEGIN without END
    expectCode(rsaLeaf.certPem.replace('-----END CERTIFICATE-----', ''), 'CERT_NOT_PEM')
    expectCode(rsaLeaf.certPem + '-----BEGIN CERTIFICATE-----\nMIIB', 'CERT_NOT_PEM')
  })

  test('CERT_INVALID_BASE64', () => {
    const body = base64Body(rsaLeaf.certPem)
    const wrap = (b: string) => `-----BEGIN CERTIFICATE-----\n${b}\n-----END CERTIFICATE-----\n`
    expect(expectCode(wrap(body.slice(0, 40) + '!*' + body.slice(42)), 'CERT_INVALID_BASE64').args).toEqual([1])
    expectCode(wrap(body.slice(0, -1)), 'CERT_INVALID_BASE64') // bad length
    expectCode(wrap(body.slice(0, 40) + '=' + body.slice(41)), 'CERT_INVALID_BASE64') // padding in the middle
    expectCode(wrap(body.replace(/\+/g, '-').replace(/\//g, '_') + 'AAA-'), 'CERT_INVALID_BASE64') // base64url
    const second = expectCode(intermediate.certPem + wrap('ä' + body.slice(1)), 'CERT_INVALID_BASE64')
    expect(second.args).toEqual([2])
  })

  test('CERT_UNPARSABLE', () => {
    expect(expectCode(toPem(Buffer.from('hello world, this is not DER'), 'CERTIFICATE'), 'CERT_UNPARSABLE').args).toEqual([1])
    // trailing bytes after a valid certificate
    expectCode(toPem(Buffer.concat([rsaLeaf.der, Buffer.from([0, 1, 2])]), 'CERTIFICATE'), 'CERT_UNPARSABLE')
    // truncated DER
    expectCode(toPem(rsaLeaf.der.subarray(0, rsaLeaf.der.length - 10), 'CERTIFICATE'), 'CERT_UNPARSABLE')
    // empty block
    expectCode('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----', 'CERT_UNPARSABLE')
    // second certificate broken
    const err = expectCode(rsaLeaf.certPem + toPem(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), 'CERTIFICATE'), 'CERT_UNPARSABLE')
    expect(err.args).toEqual([2])
  })

  test('error objects', () => {
    const err = expectCode('nope', 'CERT_NOT_PEM')
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('CertificateInputError')
    expect(err.args).toEqual([])
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: 'CertificateInputError',
      code: 'CERT_NOT_PEM',
      message: err.message,
      args: [],
    })
  })

  test('messages never echo the input', () => {
    const marker = 'SECRET-MARKER-12345'
    const inputs: Array<[string, CertificateErrorCode]> = [
      [`${marker} ${marker}`, 'CERT_NOT_PEM'],
      [`-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----`, 'CERT_INVALID_BASE64'],
      [toPem(Buffer.from(marker), 'CERTIFICATE'), 'CERT_UNPARSABLE'],
      [`${marker}\n${expired.certPem}`, 'CERT_EXPIRED'],
      [`${marker}\n${chainPem(root, rsaLeaf)}`, 'CERT_CHAIN_ORDER'],
    ]
    for (const [input, code] of inputs) {
      const err = expectCode(input, code)
      const serialized = [err.message, JSON.stringify(err), String(err), err.stack ?? ''].join('\n')
      expect(serialized).not.toContain(marker)
      expect(serialized).not.toContain(Buffer.from(marker).toString('base64').slice(0, 16))
    }
  })
})

describe('parseCertificatePem – private keys', () => {
  const keyHeaders = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'OPENSSH PRIVATE KEY']

  function expectNoLeak(err: CertificateInputError, keyPem: string) {
    const serialized = [err.message, JSON.stringify(err), String(err), err.stack ?? '', JSON.stringify(err.args)].join('\n')
    const body = base64Body(keyPem)
    // no 16-character slice of the key material appears anywhere
    for (let i = 0; i + 16 <= body.length; i += 8) expect(serialized).not.toContain(body.slice(i, i + 16))
    expect(serialized).not.toContain('PRIVATE KEY-----')
  }

  test('a pasted PKCS#8 key alone', () => {
    const err = expectCode(rsaLeaf.keyPem, 'CERT_PRIVATE_KEY')
    expect(err.args).toEqual([])
    expectNoLeak(err, rsaLeaf.keyPem)
  })

  test.each(keyHeaders)('%s block next to a valid certificate (either order, CRLF)', (label) => {
    const keyPem = rsaLeaf.keyPem.replace(/PRIVATE KEY/g, label)
    for (const input of [rsaLeaf.certPem + keyPem, keyPem + rsaLeaf.certPem, (rsaLeaf.certPem + keyPem).replace(/\n/g, '\r\n')]) {
      const err = expectCode(input, 'CERT_PRIVATE_KEY')
      expectNoLeak(err, keyPem)
    }
  })

  test('private key wins over other errors', () => {
    expectCode(expired.certPem + ecLeaf.keyPem, 'CERT_PRIVATE_KEY')
    expectCode('garbage\n' + ecLeaf.keyPem, 'CERT_PRIVATE_KEY')
  })
})

describe('certificateStatus', () => {
  const at = (ms: number) => new Date(NOW.getTime() + ms)
  const status = (notAfter: Date, warnDays = 30) => certificateStatus(notAfter, { now: NOW, warnDays })

  test('valid beyond the warning window', () => {
    expect(status(at(31 * DAY))).toEqual({ status: 'valid', criticality: 3, daysLeft: 31 })
    expect(status(at(400 * DAY))).toEqual({ status: 'valid', criticality: 3, daysLeft: 400 })
  })

  test('expiring at the warnDays boundary', () => {
    expect(status(at(31 * DAY - 1))).toEqual({ status: 'expiring', criticality: 2, daysLeft: 30 })
    expect(status(at(30 * DAY))).toEqual({ status: 'expiring', criticality: 2, daysLeft: 30 })
    expect(status(at(29 * DAY + 1))).toEqual({ status: 'expiring', criticality: 2, daysLeft: 29 })
    expect(status(at(1))).toEqual({ status: 'expiring', criticality: 2, daysLeft: 0 })
    // still valid at exactly notAfter
    expect(status(at(0))).toEqual({ status: 'expiring', criticality: 2, daysLeft: 0 })
  })

  test('expired', () => {
    expect(status(at(-1))).toEqual({ status: 'expired', criticality: 1, daysLeft: -1 })
    expect(status(at(-10 * DAY))).toEqual({ status: 'expired', criticality: 1, daysLeft: -10 })
  })

  test('warnDays 0 only warns during the last day', () => {
    expect(status(at(DAY), 0)).toEqual({ status: 'valid', criticality: 3, daysLeft: 1 })
    expect(status(at(DAY / 2), 0)).toEqual({ status: 'expiring', criticality: 2, daysLeft: 0 })
  })

  test('defaults to the current time and works with parsed facts', () => {
    expect(certificateStatus(new Date(Date.now() + 100 * DAY + 60_000), { warnDays: 30 })).toEqual({
      status: 'valid',
      criticality: 3,
      daysLeft: 100,
    })
    const facts = parseCertificatePem(rsaLeaf.certPem, { now: NOW })
    expect(certificateStatus(facts.notAfter, { now: new Date('2030-12-10T00:00:00Z'), warnDays: 30 })).toEqual({
      status: 'expiring',
      criticality: 2,
      daysLeft: 22,
    })
  })

  test('rejects invalid arguments', () => {
    expect(() => certificateStatus(new Date('nope'), { now: NOW, warnDays: 30 })).toThrow(RangeError)
    expect(() => certificateStatus(at(DAY), { now: NOW, warnDays: -1 })).toThrow(RangeError)
    expect(() => certificateStatus(at(DAY), { now: NOW, warnDays: NaN })).toThrow(RangeError)
  })
})

describe('loadPeculiarX509', () => {
  test('returns the one library instance, ready to parse', () => {
    const x509 = loadPeculiarX509()
    expect(loadPeculiarX509()).toBe(x509)
    expect(typeof x509.X509Certificate).toBe('function')
    expect(typeof (Reflect as unknown as Record<string, unknown>).getMetadata).toBe('function')
  })
})
