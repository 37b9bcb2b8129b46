import cds from '@sap/cds'
import https from 'node:https'
import path from 'node:path'
import tls from 'node:tls'
import { startJwtIssuer, type JwtIssuer, type TokenRequest } from './fixtures/jwt-issuer'
import { API, PLANS, SUB1, SUB2, settle, type Client } from './helpers'

/**
 * Production authentication (`kind: 'xsuaa'`, @sap/xssec) with real signed tokens: the server validates
 * them against the JWKS of a local issuer (test/fixtures/jwt-issuer.ts) exactly as against XSUAA.
 */

const XSAPPNAME = 'service-key-manager-test!t4711'
const CLIENTID = `sb-${XSAPPNAME}`
const GUID1 = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'
const GUID2 = '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72'

let issuer: JwtIssuer
let trusted: typeof https.globalAgent.options.ca
let adminToken: string

// all declared before cds.test: they run before the server starts, and before it stops
beforeAll(async () => {
  issuer = await startJwtIssuer()
  // xssec fetches the JWKS through Node's default https agent: trust the issuer's certificate for this suite
  trusted = https.globalAgent.options.ca
  https.globalAgent.options.ca = [...tls.rootCertificates, issuer.caPem]
  // the production auth kind, bound to the local issuer instead of an XSUAA instance
  Object.assign(cds.env.requires, {
    auth: {
      kind: 'xsuaa',
      credentials: { clientid: CLIENTID, xsappname: XSAPPNAME, uaadomain: issuer.uaadomain, url: issuer.url, identityzone: 'test' }
    }
  })
  adminToken = await tokenFor(['Administrator', 'Provisioner', 'CredentialReader', 'Viewer'])
}, 60000)
afterAll(() => settle(bearer(adminToken)))
afterAll(async () => {
  https.globalAgent.options.ca = trusted
  await issuer?.close()
})
const app = cds.test(path.join(__dirname, '..'))

/** A user token of our application with the given roles (scopes) and, optionally, Subaccount values. */
function tokenFor(roles: string[], subaccounts?: string[], more: TokenRequest = {}) {
  return issuer.token({
    ...more,
    claims: {
      scope: ['openid', ...roles.map(r => `${XSAPPNAME}.${r}`)],
      aud: [XSAPPNAME, CLIENTID],
      cid: CLIENTID,
      azp: CLIENTID,
      ...(subaccounts ? { 'xs.user.attributes': { Subaccount: subaccounts } } : {}),
      ...more.claims
    }
  })
}

function bearer(token?: string): Client {
  const cfg = { validateStatus: () => true, headers: token ? { authorization: `Bearer ${token}` } : {} }
  return {
    get: (url: string) => app.axios.get(url, cfg),
    post: (url: string, body: unknown) => app.axios.post(url, body, cfg),
    patch: (url: string, body: unknown) => app.axios.patch(url, body, cfg),
    delete: (url: string) => app.axios.delete(url, cfg)
  }
}

const guids = async (client: Client) => {
  const res = await client.get(`${API}/Subaccounts?$select=subaccountId`)
  return { status: res.status, guids: res.status === 200 ? res.data.value.map((r: { subaccountId: string }) => r.subaccountId).sort() : undefined }
}

describe('tokens are validated', () => {
  test('a valid token is accepted, after the JWKS was fetched from the issuer', async () => {
    expect(await guids(bearer(await tokenFor(['Viewer'])))).toEqual({ status: 200, guids: [GUID1, GUID2] })
    expect(await issuer.jwksRequests()).toBeGreaterThan(0)
  })

  test('no token -> 401', async () => {
    expect((await bearer().get(`${API}/Subaccounts`)).status).toBe(401)
  })

  test('the mocked users of development do not exist here -> 401', async () => {
    const res = await app.axios.get(`${API}/Subaccounts`, { auth: { username: 'admin', password: 'admin' }, validateStatus: () => true })
    expect(res.status).toBe(401)
  })

  test.each([
    ['expired', () => tokenFor(['Viewer'], undefined, { expiresIn: -120 })],
    ['not yet valid', () => tokenFor(['Viewer'], undefined, { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } })],
    ['for another application', () => issuer.token({ scope: ['openid', 'other-app!t9.Viewer'], aud: ['other-app!t9', 'sb-other-app!t9'], cid: 'sb-other-app!t9' })],
    ['signed with another key', () => tokenFor(['Viewer'], undefined, { forged: true })],
    ['tampered with after signing', async () => {
      const [header, payload, signature] = (await tokenFor(['Viewer'])).split('.')
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
      claims.scope.push(`${XSAPPNAME}.Administrator`)
      return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.')
    }],
    ['not a JWT', async () => 'not-a-jwt']
  ])('a token %s -> 401', async (_what, make) => {
    expect((await bearer(await make()).get(`${API}/Subaccounts`)).status).toBe(401)
  })

  test.each([
    ['no scope of this application', () => tokenFor([])],
    ['a scope named like ours, of another application', () => tokenFor([], undefined, { claims: { scope: ['openid', 'other-app!t9.Administrator'] } })]
  ])('a valid token with %s -> 403', async (_what, make) => {
    expect((await bearer(await make()).get(`${API}/Subaccounts`)).status).toBe(403)
  })
})

describe('scopes and the Subaccount attribute from the token', () => {
  test('Viewer reads, but may not create', async () => {
    const viewer = bearer(await tokenFor(['Viewer']))
    expect((await viewer.get(`${API}/ServiceInstances`)).status).toBe(200)
    const res = await viewer.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-by-viewer' })
    expect(res.status).toBe(403)
  })

  test('Subaccount = [subaccount 1] sees subaccount 1 only', async () => {
    const viewer = bearer(await tokenFor(['Viewer'], [GUID1]))
    expect(await guids(viewer)).toEqual({ status: 200, guids: [GUID1] })
    expect((await viewer.get(`${API}/Subaccounts(${SUB2})`)).status).toBe(404)
    const plans = await viewer.get(`${API}/ServicePlans?$expand=subaccount($select=subaccountId)`)
    expect([...new Set(plans.data.value.map((p: { subaccount: { subaccountId: string } }) => p.subaccount.subaccountId))]).toEqual([GUID1])
  })

  test('Subaccount = [both] sees both; no attribute sees all', async () => {
    expect(await guids(bearer(await tokenFor(['Viewer'], [GUID1, GUID2])))).toEqual({ status: 200, guids: [GUID1, GUID2] })
    expect(await guids(bearer(await tokenFor(['Viewer'])))).toEqual({ status: 200, guids: [GUID1, GUID2] })
  })

  test('Subaccount = [] (an empty list, as an identity provider may send it) grants no subaccount', async () => {
    const viewer = bearer(await tokenFor(['Viewer', 'Provisioner'], []))
    expect(await guids(viewer)).toEqual({ status: 200, guids: [] })
    expect((await viewer.get(`${API}/Subaccounts(${SUB1})`)).status).toBe(404)
    const instances = await viewer.get(`${API}/ServiceInstances?$select=ID&$count=true`)
    expect({ status: instances.status, count: instances.data['@odata.count'] }).toEqual({ status: 200, count: 0 })
    const create = await viewer.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-empty-list' })
    expect(create.status).toBe(403)
    expect((await viewer.get(`${API}/Me`)).data).toMatchObject({ limitedToSubaccounts: true })
  })

  test('a client-credentials token (no named user) reaches no subaccount, whatever its scopes', async () => {
    const token = await issuer.token({
      grant_type: 'client_credentials',
      scope: ['uaa.resource', `${XSAPPNAME}.Viewer`, `${XSAPPNAME}.Provisioner`],
      aud: [XSAPPNAME, CLIENTID],
      cid: CLIENTID,
      azp: CLIENTID,
      sub: CLIENTID
    })
    const system = bearer(token)
    expect(await guids(system)).toEqual({ status: 200, guids: [] })
    expect((await system.get(`${API}/ServiceKeys?$select=ID`)).data.value).toEqual([])
    const create = await system.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-by-client' })
    expect(create.status).toBe(403)
    // a named user with the same scopes and no attribute reaches every subaccount
    expect(await guids(bearer(await tokenFor(['Viewer', 'Provisioner'])))).toEqual({ status: 200, guids: [GUID1, GUID2] })
  })

  test('a Provisioner of subaccount 1 creates there, and nowhere else', async () => {
    const provisioner = bearer(await tokenFor(['Provisioner', 'Viewer'], [GUID1]))
    const inside = await provisioner.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-inside' })
    expect(inside.status).toBe(201)
    expect(inside.data.createdBy).toBe('jwt-user')
    const outside = await provisioner.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'jwt-outside' })
    expect(outside.status).toBe(403)
  })

  test('an Administrator of subaccount 1 cannot sync subaccount 2', async () => {
    const administrator = bearer(await tokenFor(['Administrator'], [GUID1]))
    expect((await administrator.post(`${API}/Subaccounts(${SUB2})/syncCatalog`, {})).status).toBe(403)
    expect((await administrator.post(`${API}/Subaccounts(${SUB1})/syncCatalog`, {})).status).toBe(200)
  })
})
