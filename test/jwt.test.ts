import cds from '@sap/cds'
import https from 'node:https'
import tls from 'node:tls'
import { startJwtIssuer, type JwtIssuer, type TokenRequest } from './fixtures/jwt-issuer'
import { API, PLANS, SUB1, SUB2, users, type Client } from './helpers'
import { useApp } from './support/app'

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

// declared before useApp (cds.test): it runs before the server starts
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
const { app } = useApp({ settleAs: () => bearer(adminToken) })
// after the server stopped
afterAll(async () => {
  // as it was: without the option at all when it had none (later suites in this worker share the agent)
  if (trusted === undefined) delete https.globalAgent.options.ca
  else https.globalAgent.options.ca = trusted
  await issuer?.close()
})

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
    const res = await app.axios.get(`${API}/Subaccounts`, { auth: users.admin, validateStatus: () => true })
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
    ['not a JWT', () => Promise.resolve('not-a-jwt')]
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

describe('technical users of other applications (client-credentials tokens, ConsumerApps)', () => {
  // a consumer application with its own XSUAA instance: our scopes reach its tokens as granted authorities
  const CONSUMER = 'skm-consumer-test!t815'
  const CONSUMER_CLIENT = `sb-${CONSUMER}`
  const admin = () => bearer(adminToken)

  /** A client-credentials token of the consumer application with the given scopes of ours. */
  const consumerToken = (roles: string[], clientId = CONSUMER_CLIENT) =>
    issuer.token({
      grant_type: 'client_credentials',
      scope: ['uaa.resource', ...roles.map(r => `${XSAPPNAME}.${r}`)],
      aud: [...(roles.length ? [XSAPPNAME] : []), clientId],
      cid: clientId,
      azp: clientId,
      sub: clientId,
      client_id: clientId
    })

  const mapApp = async (clientId: string, subaccounts: string[]) => {
    const app = await admin().post(`${API}/ConsumerApps`, { clientId, description: 'consumer of the JWT suite' })
    expect(app.status).toBe(201)
    for (const subaccount_ID of subaccounts) expect((await admin().post(`${API}/ConsumerAppSubaccounts`, { app_ID: app.data.ID, subaccount_ID })).status).toBe(201)
    return app.data.ID as string
  }
  const unmap = async (id: string) => expect((await admin().delete(`${API}/ConsumerApps(${id})`)).status).toBe(204)

  test('without our authority in its token: refused, mapped or not', async () => {
    const id = await mapApp(CONSUMER_CLIENT, [SUB1])
    try {
      // XSUAA puts our xsappname into the audience only with a scope of ours: a token for someone else
      expect((await bearer(await consumerToken([])).get(`${API}/Subaccounts`)).status).toBe(401)
      // for us, but without a scope of ours
      const noScope = await issuer.token({ grant_type: 'client_credentials', scope: ['uaa.resource'], aud: [XSAPPNAME, CONSUMER_CLIENT], cid: CONSUMER_CLIENT, azp: CONSUMER_CLIENT, sub: CONSUMER_CLIENT })
      expect((await bearer(noScope).get(`${API}/Subaccounts`)).status).toBe(403)
    } finally {
      await unmap(id)
    }
  })

  test('with the authority but not mapped: reaches no subaccount', async () => {
    const client = bearer(await consumerToken(['Viewer', 'Provisioner']))
    expect(await guids(client)).toEqual({ status: 200, guids: [] })
    const create = await client.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-unmapped' })
    expect(create.status).toBe(403)
    expect((await client.get(`${API}/Me`)).data).toMatchObject({ limitedToSubaccounts: true })
  })

  test('mapped to subaccount 1: reads and creates there as its client ID, and nowhere else', async () => {
    const id = await mapApp(CONSUMER_CLIENT, [SUB1])
    try {
      const client = bearer(await consumerToken(['Viewer', 'Provisioner']))
      expect(await guids(client)).toEqual({ status: 200, guids: [GUID1] })
      expect((await client.get(`${API}/Subaccounts(${SUB2})`)).status).toBe(404)
      const inside = await client.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-by-consumer' })
      expect(inside.status).toBe(201)
      expect(inside.data.createdBy).toBe(CONSUMER_CLIENT)
      const outside = await client.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'jwt-by-consumer' })
      expect(outside.status).toBe(403)
      // the mapping grants subaccounts, not roles: a Viewer-only token still may not create
      const viewer = bearer(await consumerToken(['Viewer']))
      expect((await viewer.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'jwt-consumer-viewer' })).status).toBe(403)
      // another application's token with the same scopes is not mapped
      expect(await guids(bearer(await consumerToken(['Viewer'], 'sb-another-consumer!t816')))).toEqual({ status: 200, guids: [] })
    } finally {
      await unmap(id)
    }
    // the entry gone, the same token reaches nothing again
    expect(await guids(bearer(await consumerToken(['Viewer'])))).toEqual({ status: 200, guids: [] })
  })

  test('mapped by its xsappname to both subaccounts; an entry without subaccounts reaches none', async () => {
    const id = await mapApp(CONSUMER, [SUB1, SUB2])
    try {
      expect(await guids(bearer(await consumerToken(['Viewer'])))).toEqual({ status: 200, guids: [GUID1, GUID2] })
    } finally {
      await unmap(id)
    }
    const empty = await mapApp(CONSUMER_CLIENT, [])
    try {
      expect(await guids(bearer(await consumerToken(['Viewer'])))).toEqual({ status: 200, guids: [] })
    } finally {
      await unmap(empty)
    }
  })

  test('this application\'s own client is never mapped', async () => {
    const id = await mapApp(CLIENTID, [SUB1])
    try {
      const own = await issuer.token({ grant_type: 'client_credentials', scope: ['uaa.resource', `${XSAPPNAME}.Viewer`], aud: [XSAPPNAME, CLIENTID], cid: CLIENTID, azp: CLIENTID, sub: CLIENTID })
      expect(await guids(bearer(own))).toEqual({ status: 200, guids: [] })
    } finally {
      await unmap(id)
    }
  })

  test('the mapping: Administrators only, within their own subaccounts; one entry per application', async () => {
    expect((await bearer(await tokenFor(['Viewer', 'Provisioner'])).get(`${API}/ConsumerApps`)).status).toBe(403)
    expect((await bearer(await consumerToken(['Viewer', 'Provisioner'])).post(`${API}/ConsumerApps`, { clientId: 'sb-self-made!t1' })).status).toBe(403)
    const id = await mapApp(CONSUMER_CLIENT, [])
    try {
      const again = await admin().post(`${API}/ConsumerApps`, { clientId: CONSUMER })
      expect([again.status, again.data.error?.code]).toEqual([409, 'CONSUMER_APP_EXISTS'])
      const invalid = await admin().post(`${API}/ConsumerApps`, { clientId: 'has spaces' })
      expect([invalid.status, invalid.data.error?.code]).toEqual([400, 'CONSUMER_APP_CLIENT_ID_INVALID'])
      // a change keeps its own client ID, and may not take another application's
      expect((await admin().patch(`${API}/ConsumerApps(${id})`, { clientId: CONSUMER_CLIENT, description: 'renamed' })).status).toBe(200)
      const other = await admin().post(`${API}/ConsumerApps`, { clientId: 'sb-other-consumer!t817' })
      expect(other.status).toBe(201)
      const taken = await admin().patch(`${API}/ConsumerApps(${other.data.ID})`, { clientId: CONSUMER })
      expect([taken.status, taken.data.error?.code]).toEqual([409, 'CONSUMER_APP_EXISTS'])
      await unmap(other.data.ID)
      const limited = bearer(await tokenFor(['Administrator'], [GUID1]))
      expect((await limited.post(`${API}/ConsumerAppSubaccounts`, { app_ID: id, subaccount_ID: SUB2 })).status).toBe(403)
      expect((await limited.post(`${API}/ConsumerAppSubaccounts`, { app_ID: id, subaccount_ID: SUB1 })).status).toBe(201)
      const twice = await admin().post(`${API}/ConsumerAppSubaccounts`, { app_ID: id, subaccount_ID: SUB1 })
      expect([twice.status, twice.data.error?.code]).toEqual([409, 'CONSUMER_APP_SUBACCOUNT_EXISTS'])
      // the limited Administrator sees only the subaccounts within reach of the mapping
      expect((await admin().post(`${API}/ConsumerAppSubaccounts`, { app_ID: id, subaccount_ID: SUB2 })).status).toBe(201)
      const seen = await limited.get(`${API}/ConsumerApps(${id})?$expand=subaccounts($select=subaccount_ID)`)
      expect(seen.data.subaccounts.map((s: { subaccount_ID: string }) => s.subaccount_ID)).toEqual([SUB1])
    } finally {
      await unmap(id)
    }
  })
})
