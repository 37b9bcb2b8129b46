/**
 * X.509 bindings of the Service Manager emulator over real HTTP and HTTPS (mTLS token endpoint).
 * Self-managed certificates come from a test CA of our own (test/fixtures/pki.ts), not the emulator's.
 */
import http from 'http'
import https from 'https'
import { X509Certificate, createPrivateKey } from 'crypto'
import axios, { type AxiosInstance } from 'axios'
import {
  DEV_TENANT_1_CLIENT_ID,
  DEV_TENANT_1_CLIENT_SECRET,
  DEV_SUBACCOUNT_1_ID,
  DEFAULT_TENANTS,
  type Emulator,
  type EmulatorTenant
} from '../emulator'
import { makeCa, makeLeaf, type IssuedCert } from './fixtures/pki'
import { smClient, useEmulators } from './support/emulators'
import { eventually } from './support/eventually'

const DAY = 24 * 60 * 60 * 1000

const { start } = useEmulators()

interface Answer {
  status: number
  data: any
}

/** POST a form over http or https (no connection reuse, so every call presents its own certificate). */
function postForm(url: string, fields: Record<string, string>, tls: { ca?: string; cert?: string; key?: string } = {}): Promise<Answer> {
  const u = new URL(url)
  const body = new URLSearchParams(fields).toString()
  const options: https.RequestOptions = {
    hostname: u.hostname,
    port: u.port,
    path: u.pathname,
    method: 'POST',
    agent: false,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    ...tls
  }
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let data: unknown = text
        try {
          data = JSON.parse(text)
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, data })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** client_credentials over mTLS at certurl, trusting the emulator CA. */
function mtlsToken(e: Emulator, clientid: string, client?: { cert: string; key: string }, certurl = e.certUrl): Promise<Answer> {
  return postForm(`${certurl}/oauth/token`, { grant_type: 'client_credentials', client_id: clientid }, { ca: e.caPem, ...(client ?? {}) })
}

async function createInstance(c: AxiosInstance, name: string, offering: string, plan: string, parameters?: object): Promise<string> {
  const r = await c.post('/v1/service_instances?async=false', { name, service_offering_name: offering, service_plan_name: plan, parameters })
  expect(r.status).toBe(201)
  return r.data.id
}

function bind(c: AxiosInstance, instanceId: string, name: string, parameters: object, async = false) {
  return c.post(`/v1/service_bindings?async=${async}`, { name, service_instance_id: instanceId, parameters })
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g
function pemBlocks(pem: string): string[] {
  return pem.match(PEM_BLOCK) ?? []
}

const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())

/** Checks a generated (service-managed) certificate and returns the leaf. */
function checkGenerated(e: Emulator, oauth: Record<string, any>, keyLength: number, t0: number, t1: number, expectedNotAfter: (t: number) => number) {
  expect(oauth['credential-type']).toBe('x509')
  expect(oauth.certurl).toBe(e.certUrl)
  expect(oauth.certurl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
  expect(oauth.url).toBe(e.url)
  expect(oauth.clientsecret).toBeUndefined()
  expect(oauth.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/)

  const blocks = pemBlocks(oauth.certificate)
  expect(blocks).toHaveLength(2)
  const leaf = new X509Certificate(blocks[0])
  const ca = new X509Certificate(e.caPem)
  expect(new X509Certificate(blocks[1]).fingerprint256).toBe(ca.fingerprint256)
  // chain: signed by the emulator CA
  expect(leaf.checkIssued(ca)).toBe(true)
  expect(leaf.verify(ca.publicKey)).toBe(true)
  expect(leaf.verify(leaf.publicKey)).toBe(false)
  expect(leaf.ca).toBe(false)
  expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']) // EKU clientAuth
  expect(leaf.publicKey.asymmetricKeyType).toBe('rsa')
  expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(keyLength)
  expect(leaf.checkPrivateKey(createPrivateKey(oauth.key))).toBe(true)

  const notBefore = Date.parse(leaf.validFrom)
  const notAfter = Date.parse(leaf.validTo)
  expect(notBefore).toBeLessThanOrEqual(t1)
  expect(notBefore).toBeGreaterThanOrEqual(t0 - 60 * 1000)
  // now + validity exactly (certificates carry whole seconds)
  expect(notAfter).toBeGreaterThanOrEqual(expectedNotAfter(t0) - 2000)
  expect(notAfter).toBeLessThanOrEqual(expectedNotAfter(t1) + 1000)
  return leaf
}

describe('service-managed X.509 certificates', () => {
  test('flat parameters (aicore): RSA 2048, 3 DAYS, chain to caPem, mTLS token; parameters recorded verbatim', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'ai', 'aicore', 'extended')
    const parameters = { 'credential-type': 'x509', x509: { 'key-length': 2048, validity: 3, 'validity-type': 'DAYS' } }
    const t0 = Date.now()
    const r = await bind(c, inst, 'ai-cert', parameters)
    const t1 = Date.now()
    expect(r.status).toBe(201)
    expect(r.data.ready).toBe(true)
    const cred = r.data.credentials
    expect(cred.serviceurls.AI_API_URL).toMatch(/^https:\/\//) // the offering's shape is kept
    expect(typeof cred.clientid).toBe('string')
    checkGenerated(e, cred, 2048, t0, t1, (t) => t + 3 * DAY)

    expect((await c.get(`/v1/service_bindings/${r.data.id}/parameters`)).data).toEqual(parameters)

    const tok = await mtlsToken(e, cred.clientid, { cert: cred.certificate, key: cred.key })
    expect(tok.status).toBe(200)
    expect(tok.data.token_type).toBe('bearer')
    expect(claims(tok.data.access_token)).toMatchObject({ cid: cred.clientid, zid: DEV_SUBACCOUNT_1_ID })
    const rec = e.calls.find((call) => call.mtls && call.path === '/oauth/token')
    expect(rec).toMatchObject({ method: 'POST', status: 200, subaccountId: DEV_SUBACCOUNT_1_ID })
    expect(JSON.stringify(e.calls)).not.toContain('PRIVATE KEY-----\nMII')

    // the plain HTTP endpoint refuses the x509 client
    const plain = await postForm(`${e.url}/oauth/token`, { grant_type: 'client_credentials', client_id: cred.clientid })
    expect(plain.status).toBe(401)
    expect(plain.data.error).toBe('invalid_client')
    expect(plain.data.error_description).toContain('mTLS is required')
    expect(plain.data.error_description).toContain(`${e.certUrl}/oauth/token`)
  })

  test('nested under "xsuaa" on an offering with OAuth data under uaa (cloudalm-api): RSA 4096, 3 DAYS', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'calm', 'cloudalm-api', 'standard')
    const parameters = { xsuaa: { 'credential-type': 'x509', x509: { 'key-length': 4096, validity: 3, 'validity-type': 'DAYS' } } }
    const t0 = Date.now()
    const r = await bind(c, inst, 'calm-cert', parameters)
    const t1 = Date.now()
    expect(r.status).toBe(201)
    const cred = r.data.credentials
    expect(cred.clientid).toBeUndefined()
    expect(cred.certificate).toBeUndefined()
    expect(cred.endpoints.Api).toMatch(/^https:\/\//)
    expect(cred.uaa.xsappname).toBe('calm-api!b2471')
    checkGenerated(e, cred.uaa, 4096, t0, t1, (t) => t + 3 * DAY)
    expect((await c.get(`/v1/service_bindings/${r.data.id}/parameters`)).data).toEqual(parameters)

    const tok = await mtlsToken(e, cred.uaa.clientid, { cert: cred.uaa.certificate, key: cred.uaa.key }, cred.uaa.certurl)
    expect(tok.status).toBe(200)
    expect(typeof tok.data.access_token).toBe('string')
    expect(claims(tok.data.access_token).cid).toBe(cred.uaa.clientid)
  }, 60000)

  test('xsuaa: x509 must be enabled in oauth2-configuration.credential-types; defaults 2048 / 7 DAYS; calendar MONTHS; async create', async () => {
    const e = await start({ operationMs: 200 })
    const c = await smClient(e)
    const plainInst = await createInstance(c, 'xs-plain', 'xsuaa', 'application')
    const refused = await bind(c, plainInst, 'k', { 'credential-type': 'x509' })
    expect(refused.status).toBe(400)
    expect(refused.data.description).toContain('oauth2-configuration.credential-types')

    const inst = await createInstance(c, 'xs-x509', 'xsuaa', 'application', {
      xsappname: 'orders',
      'oauth2-configuration': { 'credential-types': ['binding-secret', 'x509'] }
    })
    // still binding-secret by default (first entry)
    const secretKey = await bind(c, inst, 'secret', {})
    expect(secretKey.status).toBe(201)
    expect(secretKey.data.credentials['credential-type']).toBe('binding-secret')

    let t0 = Date.now()
    const defaults = await bind(c, inst, 'defaults', { 'credential-type': 'x509' })
    let t1 = Date.now()
    expect(defaults.status).toBe(201)
    expect(defaults.data.credentials.xsappname).toBe('orders!t2187')
    checkGenerated(e, defaults.data.credentials, 2048, t0, t1, (t) => t + 7 * DAY)

    // MONTHS are calendar months; async create answers 202 and the operation completes
    t0 = Date.now()
    const r = await bind(c, inst, 'months', { 'credential-type': 'x509', x509: { validity: 2, 'validity-type': 'MONTHS' } }, true)
    t1 = Date.now()
    expect(r.status).toBe(202)
    const location: string = r.headers['location']
    expect(location).toMatch(/^\/v1\/service_bindings\/[0-9a-f-]+\/operations\/[0-9a-f-]+$/)
    const op = await eventually(async () => (await c.get(location)).data, { what: `operation ${location} to end`, until: (o) => o.state !== 'in progress', timeout: 5000, interval: 50 })
    expect(op.state).toBe('succeeded')
    const id = location.split('/')[3]
    const done = (await c.get(`/v1/service_bindings/${id}`)).data
    const plusTwoMonths = (t: number) => {
      const d = new Date(t)
      const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 3, 0)).getUTCDate()
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 2, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds())
    }
    const leaf = checkGenerated(e, done.credentials, 2048, t0, t1, plusTwoMonths)
    const tok = await mtlsToken(e, done.credentials.clientid, { cert: done.credentials.certificate, key: done.credentials.key })
    expect(tok.status).toBe(200)
    expect(leaf.subject).not.toBe(new X509Certificate(pemBlocks(defaults.data.credentials.certificate)[0]).subject)
  })

  test('invalid key-length / validity / validity-type -> 400 BadRequest, nothing created', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'ai', 'aicore', 'extended')
    const cases: Array<[object, string]> = [
      [{ 'key-length': 1024 }, 'key-length must be one of 2048, 4096, 8192'],
      [{ 'key-length': 3072 }, 'key-length'],
      [{ 'key-length': 'big' }, 'key-length'],
      [{ validity: 0 }, 'validity must be a positive integer'],
      [{ validity: -3 }, 'validity must be a positive integer'],
      [{ validity: 1.5 }, 'validity must be a positive integer'],
      [{ validity: 'soon' }, 'validity must be a positive integer'],
      [{ validity: 366, 'validity-type': 'DAYS' }, 'exceeds the maximum of one year'],
      [{ validity: 13, 'validity-type': 'MONTHS' }, 'exceeds the maximum of one year'],
      [{ validity: 2, 'validity-type': 'YEARS' }, 'exceeds the maximum of one year'],
      [{ validity: 3, 'validity-type': 'WEEKS' }, 'validity-type must be one of DAYS, MONTHS, YEARS']
    ]
    for (const [x509, text] of cases) {
      const r = await bind(c, inst, 'bad', { xsuaa: { 'credential-type': 'x509', x509 } })
      expect({ x509, status: r.status, error: r.data.error }).toEqual({ x509, status: 400, error: 'BadRequest' })
      expect(r.data.description).toContain(text)
    }
    const notObject = await bind(c, inst, 'bad', { 'credential-type': 'x509', x509: 'yes' })
    expect(notObject.status).toBe(400)
    expect(notObject.data.description).toContain('x509 must be a JSON object')
    // boundary values are fine
    const year = await bind(c, inst, 'year', { 'credential-type': 'x509', x509: { validity: 1, 'validity-type': 'YEARS' } })
    expect(year.status).toBe(201)
    const max = await bind(c, inst, 'max', { 'credential-type': 'x509', x509: { validity: 365 } })
    expect(max.status).toBe(201)
    expect(e.bindings().map((b) => b.name).sort()).toEqual(['max', 'year'])
  })

  test('401 with a certificate not issued to the binding, without certificate, after revokeBinding and after delete', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'ai', 'aicore', 'extended')
    const r = await bind(c, inst, 'k', { 'credential-type': 'x509' })
    expect(r.status).toBe(201)
    const cred = r.data.credentials
    const own = { cert: cred.certificate, key: cred.key }

    // issued by the emulator CA, but to someone else
    const other = await e.issueClientCertificate({ cn: 'someone-else', days: 3 })
    const otherLeaf = new X509Certificate(other.certPem)
    expect(otherLeaf.verify(new X509Certificate(e.caPem).publicKey)).toBe(true)
    expect(createPrivateKey(other.keyPem).asymmetricKeyType).toBe('rsa')
    const wrong = await mtlsToken(e, cred.clientid, { cert: other.certPem, key: other.keyPem })
    expect(wrong.status).toBe(401)
    expect(wrong.data).toEqual({ error: 'invalid_client', error_description: expect.stringContaining('does not match the binding') })

    const none = await mtlsToken(e, cred.clientid)
    expect(none.status).toBe(401)
    expect(none.data.error_description).toContain('no client certificate')

    expect((await mtlsToken(e, cred.clientid, own)).status).toBe(200)

    e.revokeBinding(r.data.id)
    const revoked = await mtlsToken(e, cred.clientid, own)
    expect(revoked.status).toBe(401)
    expect(revoked.data.error).toBe('invalid_client')
    expect(revoked.data.error_description).toContain('revoked')

    const r2 = await bind(c, inst, 'k2', { 'credential-type': 'x509' })
    const own2 = { cert: r2.data.credentials.certificate, key: r2.data.credentials.key }
    expect((await mtlsToken(e, r2.data.credentials.clientid, own2)).status).toBe(200)
    // another binding's certificate is no good either
    expect((await mtlsToken(e, r2.data.credentials.clientid, own)).status).toBe(401)
    expect((await c.delete(`/v1/service_bindings/${r2.data.id}`)).status).toBe(200)
    const deleted = await mtlsToken(e, r2.data.credentials.clientid, own2)
    expect(deleted.status).toBe(401)
    expect(deleted.data.error).toBe('invalid_client')
  })
})

describe('self-managed X.509 certificates', () => {
  let customerCa: IssuedCert
  beforeAll(async () => {
    customerCa = await makeCa({ subject: 'CN=Customer Issuing CA, O=Customer AG, C=DE' })
  })
  const ABAP_SUBJECT = 'CN=ABC_CLNT100, OU=ABAP, O=Customer AG, C=DE'

  test('seed 000 parameters (hidden, pinned): no certificate and no key in the credentials, token with that certificate only; 409 on reuse', async () => {
    const e = await start()
    const c = await smClient(e)
    const abap = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, eku: ['clientAuth'], days: 365 })
    const parameters = {
      xsuaa: {
        'credential-type': 'x509',
        x509: { certificate: abap.certPem, 'ensure-uniqueness': false, 'certificate-pinning': true, 'hide-certificate': true }
      }
    }
    const inst = await createInstance(c, 'aicore-islm', 'aicore', 'extended')
    const r = await bind(c, inst, 'SAP_COM_0A69_Skey', parameters)
    expect(r.status).toBe(201)
    const cred = r.data.credentials
    expect(cred).toMatchObject({ certurl: e.certUrl, url: e.url, 'credential-type': 'x509' })
    expect(typeof cred.clientid).toBe('string')
    expect(cred.certificate).toBeUndefined()
    expect(cred.key).toBeUndefined()
    expect(cred.clientsecret).toBeUndefined()
    expect(JSON.stringify(cred)).not.toContain('BEGIN')
    expect((await c.get(`/v1/service_bindings/${r.data.id}/parameters`)).data).toEqual(parameters)

    const ok = await mtlsToken(e, cred.clientid, { cert: abap.certPem, key: abap.keyPem })
    expect(ok.status).toBe(200)
    expect(claims(ok.data.access_token).cid).toBe(cred.clientid)

    // same subject and issuer, but another certificate: pinned -> refused
    const sibling = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, eku: ['clientAuth'] })
    const wrong = await mtlsToken(e, cred.clientid, { cert: sibling.certPem, key: sibling.keyPem })
    expect(wrong.status).toBe(401)
    expect(wrong.data.error).toBe('invalid_client')
    expect(wrong.data.error_description).toContain('certificate-pinning')
    // a certificate from the emulator CA is no better
    const emuCert = await e.issueClientCertificate({ cn: 'ABC_CLNT100' })
    expect((await mtlsToken(e, cred.clientid, { cert: emuCert.certPem, key: emuCert.keyPem })).status).toBe(401)

    // plain HTTP refuses
    const plain = await postForm(`${e.url}/oauth/token`, { grant_type: 'client_credentials', client_id: cred.clientid })
    expect(plain.status).toBe(401)
    expect(plain.data.error_description).toContain('mTLS is required')

    // the same certificate twice on one instance -> 409; on another instance it is fine
    const dup = await bind(c, inst, 'again', parameters)
    expect(dup.status).toBe(409)
    expect(dup.data.error).toBe('Conflict')
    expect(dup.data.description).toContain(r.data.id)
    const inst2 = await createInstance(c, 'aicore-2', 'aicore', 'extended')
    expect((await bind(c, inst2, 'SAP_COM_0A69_Skey', parameters)).status).toBe(201)
    // pinned: another certificate with the same DNs on the same instance is fine
    expect((await bind(c, inst, 'sibling', { xsuaa: { 'credential-type': 'x509', x509: { certificate: sibling.certPem } } })).status).toBe(201)

    e.revokeBinding(r.data.id)
    const revoked = await mtlsToken(e, cred.clientid, { cert: abap.certPem, key: abap.keyPem })
    expect(revoked.status).toBe(401)
    expect(revoked.data.error_description).toContain('revoked')
  })

  test('pinning false: renewed certificate with the same DNs and a later notBefore works; others are refused', async () => {
    const e = await start()
    const c = await smClient(e)
    const now = Date.now()
    const registered = await makeLeaf(customerCa, {
      subject: ABAP_SUBJECT,
      eku: ['clientAuth'],
      notBefore: new Date(now - 2 * DAY),
      notAfter: new Date(now + 30 * DAY)
    })
    const inst = await createInstance(c, 'calm', 'cloudalm-api', 'standard')
    const parameters = { xsuaa: { 'credential-type': 'x509', x509: { certificate: registered.certPem, 'certificate-pinning': false } } }
    const r = await bind(c, inst, 'rotating', parameters)
    expect(r.status).toBe(201)
    const uaa = r.data.credentials.uaa
    // hide-certificate defaults to false: the certificate comes back unchanged, never a key
    expect(uaa.certificate).toBe(registered.certPem)
    expect(uaa.key).toBeUndefined()
    expect(uaa.certurl).toBe(e.certUrl)

    const token = (cert: IssuedCert) => mtlsToken(e, uaa.clientid, { cert: cert.certPem, key: cert.keyPem })
    expect((await token(registered)).status).toBe(200)

    const renewed = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) })
    expect(renewed.certPem).not.toBe(registered.certPem)
    expect((await token(renewed)).status).toBe(200)

    const older = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, notBefore: new Date(now - 3 * DAY), notAfter: new Date(now + 30 * DAY) })
    const olderRes = await token(older)
    expect(olderRes.status).toBe(401)
    expect(olderRes.data.error_description).toContain('notBefore')

    const otherSubject = await makeLeaf(customerCa, { subject: 'CN=XYZ_CLNT200, OU=ABAP, O=Customer AG, C=DE', notBefore: new Date(now - DAY) })
    const otherRes = await token(otherSubject)
    expect(otherRes.status).toBe(401)
    expect(otherRes.data.error_description).toContain('subject and issuer DN')

    const otherCa = await makeCa({ subject: 'CN=Another CA, O=Elsewhere, C=DE' })
    const otherIssuer = await makeLeaf(otherCa, { subject: ABAP_SUBJECT, notBefore: new Date(now - DAY) })
    expect((await token(otherIssuer)).status).toBe(401)

    const expired = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, notBefore: new Date(now - DAY), notAfter: new Date(now - 60 * 1000) })
    const expiredRes = await token(expired)
    expect(expiredRes.status).toBe(401)
    expect(expiredRes.data.error_description).toContain('expired')

    // without pinning the subject/issuer pair is unique per instance
    const dup = await bind(c, inst, 'rotating-2', { xsuaa: { 'credential-type': 'x509', x509: { certificate: renewed.certPem, 'certificate-pinning': false } } })
    expect(dup.status).toBe(409)
    expect(dup.data.description).toContain('subject and issuer')
  })

  test('self-managed certificate input: missing, unparsable, expired, private key, mixed with key-length -> 400', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'ai', 'aicore', 'extended')
    const expired = await makeLeaf(customerCa, { subject: ABAP_SUBJECT, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) })
    const valid = await makeLeaf(customerCa, { subject: ABAP_SUBJECT })
    const cases: Array<[unknown, string]> = [
      [{ certificate: '' }, 'x509.certificate must be a PEM'],
      [{ certificate: 42 }, 'x509.certificate must be a PEM'],
      [{ certificate: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n' }, 'could not be parsed'],
      [{ certificate: 'hello' }, 'could not be parsed'],
      [{ certificate: expired.certPem }, 'expired on'],
      [{ certificate: valid.certPem + valid.keyPem }, 'must not contain a private key'],
      [{ certificate: valid.certPem, 'key-length': 2048 }, 'cannot be combined'],
      [{ certificate: valid.certPem, 'certificate-pinning': 'maybe' }, 'certificate-pinning must be a boolean']
    ]
    for (const [x509, text] of cases) {
      const r = await bind(c, inst, 'bad', { 'credential-type': 'x509', x509 })
      expect(r.status).toBe(400)
      expect(r.data.description).toContain(text)
      expect(r.data.description).not.toContain('PRIVATE KEY')
    }
    expect(e.bindings()).toHaveLength(0)
  })
})

describe('mTLS endpoint', () => {
  test('HTTPS with a server certificate from caPem; well-known advertises the mTLS alias; SM tenant with a certificate', async () => {
    const ca = await makeCa({ subject: 'CN=Ops CA, O=Customer AG' })
    const opsCert = await makeLeaf(ca, { cn: 'sm-client', eku: ['clientAuth'] })
    const tenants: EmulatorTenant[] = DEFAULT_TENANTS.map((t) => ({ ...t, entitled: [...t.entitled] }))
    tenants[0].certificate = opsCert.certPem
    const e = await start({ tenants })

    expect(e.certUrl).toBe(`https://127.0.0.1:${e.tlsPort}`)
    const caCert = new X509Certificate(e.caPem)
    expect(caCert.ca).toBe(true)
    expect(caCert.checkIssued(caCert)).toBe(true)

    // the server certificate chains to caPem: without `ca` the client refuses it
    await expect(postForm(`${e.certUrl}/oauth/token`, { grant_type: 'client_credentials', client_id: 'x' })).rejects.toThrow(
      /self[- ]signed|unable to (get|verify)/i
    )

    const wk = await axios.get(`${e.url}/.well-known/openid-configuration`, { proxy: false })
    expect(wk.data.mtls_endpoint_aliases).toEqual({ token_endpoint: `${e.certUrl}/oauth/token` })

    const tok = await mtlsToken(e, DEV_TENANT_1_CLIENT_ID, { cert: opsCert.certPem, key: opsCert.keyPem })
    expect(tok.status).toBe(200)
    const list = await axios.get(`${e.url}/v1/service_instances`, {
      proxy: false,
      validateStatus: () => true,
      headers: { Authorization: `Bearer ${tok.data.access_token}` }
    })
    expect(list.status).toBe(200)
    // the secret keeps working on the plain endpoint
    const secret = await postForm(`${e.url}/oauth/token`, {
      grant_type: 'client_credentials',
      client_id: DEV_TENANT_1_CLIENT_ID,
      client_secret: DEV_TENANT_1_CLIENT_SECRET
    })
    expect(secret.status).toBe(200)
    // another certificate for the tenant client: refused
    const stranger = await makeLeaf(ca, { cn: 'sm-client' })
    expect((await mtlsToken(e, DEV_TENANT_1_CLIENT_ID, { cert: stranger.certPem, key: stranger.keyPem })).status).toBe(401)
    // unknown client
    const unknown = await mtlsToken(e, 'sb-nobody', { cert: opsCert.certPem, key: opsCert.keyPem })
    expect(unknown.status).toBe(401)
    expect(unknown.data.error).toBe('invalid_client')
    // the cert host serves no SM API
    const v1 = await postForm(`${e.certUrl}/v1/service_instances`, {}, { ca: e.caPem })
    expect(v1.status).toBe(404)

    await e.close()
    await expect(mtlsToken(e, DEV_TENANT_1_CLIENT_ID, { cert: opsCert.certPem, key: opsCert.keyPem })).rejects.toThrow(/ECONNREFUSED/)
    await expect(postForm(`${e.url}/oauth/token`, {})).rejects.toThrow(/ECONNREFUSED/)
  })
})
