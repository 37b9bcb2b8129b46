import { X509Certificate } from 'node:crypto'
import { API, PLANS, SUB1, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'
import { chainPem, makeCa, makeLeaf, type IssuedCert } from './fixtures/pki'

const { admin, emu } = useApp()

let ca: IssuedCert
let abap: IssuedCert
let aicore: { ID: string; smId: string }

const DAY = 86400000

beforeAll(async () => {
  ca = await makeCa({ cn: 'ACME ABAP Client CA' })
  abap = await makeLeaf(ca, { cn: 'ABC client 100', eku: ['clientAuth'], days: 180 })
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.aicoreExtended, name: 'aicore-genai' })
  aicore = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
})

async function certificateCount(): Promise<number> {
  const res = await admin.get(`${API}/Certificates?$count=true&$top=0`)
  return res.data['@odata.count']
}

describe('certificate uploads', () => {
  const upload = (pem: string, name?: string) => admin.post(`${API}/Certificates`, { pem, name })

  test('a PEM chain (leaf first) is parsed into facts; only the public part is stored', async () => {
    const leaf = await makeLeaf(ca, { cn: 'XYZ client 200', eku: ['clientAuth'], days: 90 })
    const res = await upload(chainPem(leaf, ca), 'XYZ 200')
    expect(res.status).toBe(201)
    const node = new X509Certificate(leaf.certPem)
    expect(res.data).toMatchObject({
      name: 'XYZ 200',
      subject: 'CN=XYZ client 200',
      issuer: 'CN=ACME ABAP Client CA',
      fingerprint: node.fingerprint256,
      serialNumber: node.serialNumber.toUpperCase(),
      keyAlgorithm: 'RSA',
      keySize: 2048,
      clientAuth: true,
      expiry_code: 'valid'
    })
    expect(Date.parse(res.data.notAfter)).toBe(Date.parse(node.validTo))
    const read = await admin.get(`${API}/Certificates(${res.data.ID})`)
    expect(read.data.daysLeft).toBeGreaterThanOrEqual(88)
    expect(read.data.pem).toContain('-----BEGIN CERTIFICATE-----')
    expect(read.data.pem).not.toContain('PRIVATE KEY')
  })

  test.each([
    ['plain text', () => 'this is not a certificate', 'CERT_NOT_PEM'],
    ['garbage base64', () => '-----BEGIN CERTIFICATE-----\nMII$$$%%%!!!\n-----END CERTIFICATE-----', 'CERT_INVALID_BASE64'],
    ['nothing', () => '', 'CERT_EMPTY'],
    ['a huge file', () => `-----BEGIN CERTIFICATE-----\n${'QUFB'.repeat(20000)}\n-----END CERTIFICATE-----`, 'CERT_TOO_LARGE']
  ])('%s -> 400 with its code, nothing stored', async (_what, pem, code) => {
    const before = await certificateCount()
    const res = await upload(pem())
    expect([res.status, res.data.error?.code]).toEqual([400, code])
    expect(await certificateCount()).toBe(before)
  })

  test('a private key pasted instead of a certificate is rejected, never stored or echoed', async () => {
    const before = await certificateCount()
    const res = await upload(abap.keyPem)
    expect([res.status, res.data.error?.code]).toEqual([400, 'CERT_PRIVATE_KEY'])
    const body = abap.keyPem.split('\n')[1]
    expect(JSON.stringify(res.data)).not.toContain(body)
    expect(await certificateCount()).toBe(before)
    const withCert = await upload(`${abap.certPem}\n${abap.keyPem}`)
    expect([withCert.status, withCert.data.error?.code]).toEqual([400, 'CERT_PRIVATE_KEY'])
    expect(await certificateCount()).toBe(before)
  })

  test('expired and not-yet-valid certificates are rejected', async () => {
    const expired = await makeLeaf(ca, { cn: 'old', notBefore: new Date(Date.now() - 400 * DAY), notAfter: new Date(Date.now() - DAY) })
    const future = await makeLeaf(ca, { cn: 'future', notBefore: new Date(Date.now() + 10 * DAY), days: 100 })
    const before = await certificateCount()
    expect((await upload(expired.certPem)).data.error.code).toBe('CERT_EXPIRED')
    expect((await upload(future.certPem)).data.error.code).toBe('CERT_NOT_YET_VALID')
    expect(await certificateCount()).toBe(before)
  })

  test('the same certificate twice -> 409 CERT_DUPLICATE', async () => {
    const once = await makeLeaf(ca, { cn: 'twice', eku: ['clientAuth'] })
    expect((await upload(once.certPem)).status).toBe(201)
    const again = await upload(once.certPem)
    expect([again.status, again.data.error?.code]).toEqual([409, 'CERT_DUPLICATE'])
  })

  test('a certificate expiring within the warning window shows as expiring', async () => {
    const soon = await makeLeaf(ca, { cn: 'soon', eku: ['clientAuth'], days: 10 })
    const res = await upload(soon.certPem)
    expect(res.data.expiry_code).toBe('expiring')
    const state = await admin.get(`${API}/Certificates(${res.data.ID})?$expand=expiry`)
    expect(state.data.expiry.criticality).toBe(2)
  })
})

describe('X.509 service keys', () => {
  test('seed 000: own certificate -> the exact xsuaa parameters, Ready, verified over mutual TLS', async () => {
    const cert = await admin.post(`${API}/Certificates`, { pem: abap.certPem, name: 'ABC client 100' })
    expect(cert.status).toBe(201)
    const res = await admin.post(`${API}/ServiceKeys`, {
      instance_ID: aicore.ID,
      name: 'SAP_COM_0A69_Skey',
      credentialType: 'x509',
      certificate_ID: cert.data.ID
    })
    expect(res.status).toBe(201)
    const key = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')

    const post = emu.calls.find(c => c.method === 'POST' && c.path === '/v1/service_bindings' && c.body?.name === 'SAP_COM_0A69_Skey')!
    expect(post.body.parameters).toEqual({
      xsuaa: {
        'credential-type': 'x509',
        x509: { certificate: cert.data.pem, 'ensure-uniqueness': false, 'certificate-pinning': true, 'hide-certificate': true }
      }
    })
    expect(key.credentialType).toBe('x509')
    expect(key.certFingerprint).toBe(cert.data.fingerprint)
    expect(Date.parse(key.expiresAt)).toBe(Date.parse(cert.data.notAfter))
    expect(key.tokenUrl).toBe(`${emu.certUrl}/oauth/token`)
    expect(key.verification_code).toBeNull() // the private key stays with its owner

    const noKey = await admin.post(`${API}/ServiceKeys(${key.ID})/verify`, {})
    expect([noKey.status, noKey.data.error?.code]).toEqual([400, 'PRIVATE_KEY_REQUIRED'])
    const other = await makeLeaf(ca, { cn: 'other' })
    const wrongKey = await admin.post(`${API}/ServiceKeys(${key.ID})/verify`, { privateKey: other.keyPem })
    expect([wrongKey.status, wrongKey.data.error?.code]).toEqual([400, 'PRIVATE_KEY_INVALID'])

    const sent = Date.now()
    const verified = await admin.post(`${API}/ServiceKeys(${key.ID})/verify`, { privateKey: abap.keyPem })
    const took = Date.now() - sent
    expect(verified.status).toBe(200)
    expect(verified.data).toMatchObject({ verification_code: 'ok', verifyStatus: 200 })
    // the token call's time, measured within this request
    expect(Number.isInteger(verified.data.verifyLatency)).toBe(true)
    expect(verified.data.verifyLatency).toBeLessThanOrEqual(took)
    expect(JSON.stringify(verified.data)).not.toContain(abap.keyPem.split('\n')[1])
  })

  test('a generated certificate: notAfter as requested, verified right after creation, expiry visible', async () => {
    const res = await admin.post(`${API}/ServiceKeys`, {
      instance_ID: aicore.ID,
      name: 'generated-3d',
      credentialType: 'x509',
      keyLength: 2048,
      validity: 3,
      validityType: 'DAYS'
    })
    expect(res.status).toBe(201)
    const requestedAt = Date.now()
    const key = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, row => row.state_code !== 'Creating' && row.verification_code !== null)
    expect(key.state_code).toBe('Ready')
    expect(Math.abs(Date.parse(key.expiresAt) - (requestedAt + 3 * DAY))).toBeLessThan(60000)
    expect(key.verification_code).toBe('ok')
    expect(key.expiry_code).toBe('expiring') // 3 days is inside the 30-day warning window
    const post = emu.calls.find(c => c.method === 'POST' && c.body?.name === 'generated-3d')!
    expect(post.body.parameters).toEqual({ xsuaa: { 'credential-type': 'x509', x509: { 'key-length': 2048, validity: 3, 'validity-type': 'DAYS' } } })
    const binding = emu.bindings().find(b => b.id === key.smId)
    const issued = new X509Certificate(binding.credentials.certificate)
    expect(key.certFingerprint).toBe(issued.fingerprint256)
  })

  test.each([
    [{ keyLength: 1024 }, 'KEY_LENGTH_INVALID'],
    [{ validity: 0 }, 'VALIDITY_INVALID'],
    [{ validity: 13, validityType: 'MONTHS' }, 'VALIDITY_INVALID'],
    [{ validityType: 'WEEKS' }, 'VALIDITY_INVALID']
  ])('generated certificate options %j -> 400 %s', async (options, code) => {
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: aicore.ID, name: 'bad-x509', credentialType: 'x509', ...options })
    expect([res.status, res.data.error?.code]).toEqual([400, code])
    expect(emu.calls.some(c => c.method === 'POST' && c.body?.name === 'bad-x509')).toBe(false)
  })

  test('a certificate only for x509 keys, and not an expired one', async () => {
    const cert = await admin.post(`${API}/Certificates`, { pem: (await makeLeaf(ca, { cn: 'secret-type', eku: ['clientAuth'] })).certPem })
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: aicore.ID, name: 'wrong-type', certificate_ID: cert.data.ID })
    expect([res.status, res.data.error?.code]).toEqual([400, 'CERTIFICATE_ONLY_FOR_X509'])
    const serverOnly = await admin.post(`${API}/Certificates`, { pem: (await makeLeaf(ca, { cn: 'server only', eku: ['serverAuth'] })).certPem })
    expect(serverOnly.data.clientAuth).toBe(false)
    const res2 = await admin.post(`${API}/ServiceKeys`, { instance_ID: aicore.ID, name: 'server-cert', credentialType: 'x509', certificate_ID: serverOnly.data.ID })
    expect([res2.status, res2.data.error?.code]).toEqual([422, 'CERT_NOT_CLIENT_AUTH'])
  })

  test('a certificate used by a key cannot be deleted', async () => {
    const certs = await admin.get(`${API}/Certificates?$filter=name eq 'ABC client 100'`)
    const res = await admin.delete(`${API}/Certificates(${certs.data.value[0].ID})`)
    expect([res.status, res.data.error?.code]).toEqual([409, 'CERT_IN_USE'])
  })
})
