/**
 * ServiceManagerClient against a scripted local HTTP server (not the emulator): every test decides exactly
 * what the "SM" and the "XSUAA" answer, and asserts what the client sent.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import express, { type Request, type Response } from 'express'
import {
  ServiceManagerClient,
  ServiceManagerError,
  fieldQuery,
  labelQuery,
  parseRetryAfter,
  normalizeSMCredentials,
  type ClientOptions,
  type SMCredentials
} from '../srv/service-manager'

const SECRET = 'S3cr3t-$ecret+/=value'
const CLIENT_ID = 'sb-4a7f!b123|service-manager!b1'

interface Recorded {
  method: string
  path: string
  url: string
  query: Record<string, unknown>
  headers: http.IncomingHttpHeaders
  body: string
  at: number
}

type Handler = (req: Request, res: Response) => void

let server: http.Server
let base: string
let sm: Handler
let tokenHandler: Handler
let tokenCalls: Recorded[]
let smCalls: Recorded[]
let issued: string[]

function record(req: Request): Recorded {
  return {
    method: req.method,
    path: req.path,
    url: req.originalUrl,
    query: req.query,
    headers: req.headers,
    body: typeof req.body === 'string' ? req.body : '',
    at: Date.now()
  }
}

/** Default XSUAA: a fresh token per call. */
const issueToken: Handler = (_req, res) => {
  const t = `tok-${issued.length + 1}-abcdef`
  issued.push(t)
  res.json({ access_token: t, token_type: 'bearer', expires_in: 43199 })
}

beforeAll(async () => {
  const app = express()
  app.use(express.text({ type: () => true }))
  app.post(/\/oauth\/token$/, (req, res) => {
    tokenCalls.push(record(req))
    tokenHandler(req, res)
  })
  app.use((req, res) => {
    smCalls.push(record(req))
    sm(req, res)
  })
  server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  tokenCalls = []
  smCalls = []
  issued = []
  tokenHandler = issueToken
  sm = (_req, res) => {
    res.status(500).json({ error: 'NotScripted', description: 'no handler for this test' })
  }
})

function creds(extra: Partial<SMCredentials> = {}): SMCredentials {
  return { sm_url: `${base}//`, url: `${base}/uaa/`, clientid: CLIENT_ID, clientsecret: SECRET, ...extra }
}

function client(opts: ClientOptions = {}, c: SMCredentials = creds()): ServiceManagerClient {
  return new ServiceManagerClient(c, { pollInitialMs: 10, pollMaxMs: 40, retryBaseMs: 5, timeoutMs: 3000, ...opts })
}

async function caught(p: Promise<unknown>): Promise<ServiceManagerError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceManagerError)
    return e as ServiceManagerError
  }
  throw new Error('expected a ServiceManagerError, nothing was thrown')
}

const bearer = (r: Recorded) => String(r.headers.authorization ?? '')
const instance = (id: string, name = id) => ({ id, name, service_plan_id: 'plan-1', ready: true })

/** Assert that nothing in an error can leak a credential or a token. */
function expectNoSecrets(e: unknown): void {
  const texts = [JSON.stringify(e), String((e as Error).message), inspect(e, { depth: 10 }), String((e as Error).stack)]
  for (const t of texts) {
    expect(t).not.toContain(SECRET)
    for (const tok of issued) expect(t).not.toContain(tok)
  }
}

// ------------------------------------------------------------------------------------------ token

describe('token', () => {
  test('form-encodes client id and secret in the body, caches the token, sends bearer + headers', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client({ correlationId: 'corr-42' })
    await c.getInstance('i-1')
    await c.getInstance('i-1')

    expect(tokenCalls).toHaveLength(1)
    const t = tokenCalls[0]
    expect(t.path).toBe('/uaa/oauth/token')
    expect(t.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    expect(t.body).toContain('grant_type=client_credentials')
    expect(t.body).toContain('client_id=sb-4a7f%21b123%7Cservice-manager%21b1')
    expect(t.body).toContain(`client_secret=${encodeURIComponent(SECRET)}`)
    expect(t.headers.authorization).toBeUndefined()
    const form = new URLSearchParams(t.body)
    expect(form.get('client_id')).toBe(CLIENT_ID)
    expect(form.get('client_secret')).toBe(SECRET)

    expect(smCalls).toHaveLength(2)
    for (const r of smCalls) {
      expect(r.path).toBe('/v1/service_instances/i-1') // trailing slashes of sm_url stripped
      expect(bearer(r)).toBe(`Bearer ${issued[0]}`)
      expect(r.headers.accept).toBe('application/json')
      expect(r.headers['x-correlationid']).toBe('corr-42')
    }
  })

  test('generates one correlation id per client when none is given', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client()
    await c.getInstance('i-1')
    await c.getInstance('i-1')
    const ids = smCalls.map((r) => r.headers['x-correlationid'])
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(ids[1]).toBe(ids[0])
    expect(c.correlationId).toBe(ids[0])
  })

  test('concurrent callers share one token request', async () => {
    tokenHandler = (req, res) => setTimeout(() => issueToken(req, res), 50)
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client()
    await Promise.all([1, 2, 3, 4, 5].map(() => c.getInstance('i-1')))
    expect(tokenCalls).toHaveLength(1)
    expect(smCalls).toHaveLength(5)
  })

  test('refreshes shortly before expiry (within 5 min of expires_in)', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client()
    const t0 = Date.now()
    await c.getInstance('i-1')
    const spy = jest.spyOn(Date, 'now')
    try {
      spy.mockReturnValue(t0 + (43199 - 301) * 1000)
      await c.getInstance('i-1')
      expect(tokenCalls).toHaveLength(1)
      spy.mockReturnValue(t0 + (43199 - 299) * 1000 + 1000)
      await c.getInstance('i-1')
      expect(tokenCalls).toHaveLength(2)
    } finally {
      spy.mockRestore()
    }
    expect(bearer(smCalls[2])).toBe(`Bearer ${issued[1]}`)
  })

  test('on SM 401 drops the token, fetches one new token and retries once', async () => {
    sm = (req, res) => {
      if (req.headers.authorization === `Bearer ${issued[0]}`) res.status(401).json({ error: 'Unauthorized' })
      else res.json(instance('i-1'))
    }
    const c = client()
    const got = await c.getInstance('i-1')
    expect(got?.id).toBe('i-1')
    expect(tokenCalls).toHaveLength(2)
    expect(smCalls.map(bearer)).toEqual([`Bearer ${issued[0]}`, `Bearer ${issued[1]}`])
    await c.getInstance('i-1')
    expect(tokenCalls).toHaveLength(2) // the refreshed token is cached
  })

  test('a second 401 is thrown, not retried again, and is not retryable', async () => {
    sm = (_req, res) => {
      res.status(401).json({ error: 'Unauthorized', description: 'token rejected' })
    }
    const e = await caught(client().createInstance({ name: 'x', service_plan_id: 'p' }))
    expect(tokenCalls).toHaveLength(2)
    expect(smCalls).toHaveLength(2)
    expect(e.status).toBe(401)
    expect(e.code).toBe('Unauthorized')
    expect(e.retryable).toBe(false)
    expectNoSecrets(e)
  })

  test('a rotated secret: the token endpoint refuses the old one, the credentials are read again and the call goes on', async () => {
    const NEW_SECRET = 'n3w-$ecret'
    tokenHandler = (req, res) => {
      if (new URLSearchParams(req.body).get('client_secret') === NEW_SECRET) issueToken(req, res)
      else res.status(401).json({ error: 'invalid_client', error_description: 'Bad credentials' })
    }
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    let renewals = 0
    const c = client({
      renew: () => {
        renewals++
        return Promise.resolve(creds({ clientsecret: NEW_SECRET }))
      }
    })
    expect((await c.getInstance('i-1'))?.id).toBe('i-1')
    expect(renewals).toBe(1)
    expect(tokenCalls.map(t => new URLSearchParams(t.body).get('client_secret'))).toEqual([SECRET, NEW_SECRET])
    // from now on the new credentials are used, without asking again
    await c.getInstance('i-1')
    expect([renewals, tokenCalls.length]).toEqual([1, 2])
  })

  test('SM refuses a fresh token too (a revoked client): the credentials are read again once', async () => {
    sm = (req, res) => {
      if (req.headers.authorization === `Bearer ${issued[2]}`) res.json(instance('i-1'))
      else res.status(401).json({ error: 'Unauthorized' })
    }
    let renewals = 0
    const c = client({
      renew: () => {
        renewals++
        return Promise.resolve(creds({ clientid: 'sb-rebound!b1|service-manager!b1' }))
      }
    })
    expect((await c.getInstance('i-1'))?.id).toBe('i-1')
    expect(renewals).toBe(1)
    expect(tokenCalls.map(t => new URLSearchParams(t.body).get('client_id'))).toEqual([CLIENT_ID, CLIENT_ID, 'sb-rebound!b1|service-manager!b1'])
  })

  test('read again but unchanged: the 401 is thrown, not repeated', async () => {
    tokenHandler = (_req, res) => {
      res.status(401).json({ error: 'invalid_client', error_description: 'Bad credentials' })
    }
    let renewals = 0
    const c = client({
      renew: () => {
        renewals++
        return Promise.resolve(creds())
      }
    })
    const e = await caught(c.getInstance('i-1'))
    expect([e.code, e.status, renewals, tokenCalls.length]).toEqual(['TokenError', 401, 1, 1])
    expectNoSecrets(e)
  })

  test('useCredentials switches to other credentials for the next call, and ignores the same ones', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client()
    await c.getInstance('i-1')
    c.useCredentials(creds())
    await c.getInstance('i-1')
    expect(tokenCalls).toHaveLength(1) // same credentials: the cached token stays
    c.useCredentials(creds({ clientsecret: 'other-secret' }))
    await c.getInstance('i-1')
    expect(tokenCalls.map(t => new URLSearchParams(t.body).get('client_secret'))).toEqual([SECRET, 'other-secret'])
    expect(c.authentication).toBe('secret')
  })

  test('XSUAA error -> TokenError with error_description, no secret anywhere', async () => {
    tokenHandler = (_req, res) => {
      res.status(401).json({ error: 'invalid_client', error_description: `Bad credentials for ${SECRET}` })
    }
    const e = await caught(client().listInstances())
    expect(e.code).toBe('TokenError')
    expect(e.status).toBe(401)
    expect(e.retryable).toBe(false)
    expect(e.description).toBe('Bad credentials for ***')
    expect(smCalls).toHaveLength(0)
    expectNoSecrets(e)
  })

  test('XSUAA 503 -> TokenError retryable', async () => {
    tokenHandler = (_req, res) => {
      res.status(503).send('upstream down')
    }
    const e = await caught(client().getInstance('i-1'))
    expect(e.code).toBe('TokenError')
    expect(e.retryable).toBe(true)
  })

  test('X.509 credentials: token from certurl, client id without secret', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const c = client(
      {},
      { sm_url: base, clientid: CLIENT_ID, certificate: 'CERT-PEM', key: 'KEY-PEM', certurl: `${base}/cert`, url: `${base}/uaa` }
    )
    await c.getInstance('i-1')
    expect(tokenCalls).toHaveLength(1)
    expect(tokenCalls[0].path).toBe('/cert/oauth/token')
    const form = new URLSearchParams(tokenCalls[0].body)
    expect(form.get('client_id')).toBe(CLIENT_ID)
    expect(form.has('client_secret')).toBe(false)
  })

  test('incomplete credentials are rejected naming only the missing fields', () => {
    expect(() => new ServiceManagerClient({ sm_url: base, clientid: CLIENT_ID, url: base })).toThrow(/missing clientsecret/)
    expect(
      () => new ServiceManagerClient({ sm_url: base, clientid: CLIENT_ID, certificate: 'C', key: SECRET })
    ).toThrow(/missing certurl/)
    try {
      new ServiceManagerClient({ sm_url: base, clientid: CLIENT_ID, certificate: 'C', key: SECRET })
    } catch (e) {
      expectNoSecrets(e)
    }
  })

  test('normalizeSMCredentials accepts certUrl (camelCase) and a nested uaa object', () => {
    expect(
      normalizeSMCredentials({ sm_url: 'https://sm', clientid: 'c', certificate: 'C', key: 'K', certUrl: 'https://x.cert' })
    ).toEqual({ sm_url: 'https://sm', clientid: 'c', certificate: 'C', key: 'K', certurl: 'https://x.cert' })
    expect(normalizeSMCredentials({ sm_url: 'https://sm', uaa: { clientid: 'c', clientsecret: 's', url: 'https://u' } })).toEqual({
      sm_url: 'https://sm',
      clientid: 'c',
      clientsecret: 's',
      url: 'https://u'
    })
  })
})

// ------------------------------------------------------------------------------------------ lists

describe('lists and queries', () => {
  test('pages through all pages following token, keeping queries and max_items', async () => {
    const pages: Record<string, { items: unknown[]; token?: string }> = {
      '': { items: [instance('a'), instance('b')], token: 'cGFnZTI=' },
      'cGFnZTI=': { items: [instance('c'), instance('d')], token: 'cGFnZTM=' },
      'cGFnZTM=': { items: [instance('e')] }
    }
    sm = (req, res) => {
      res.json({ num_items: 5, ...pages[typeof req.query.token === 'string' ? req.query.token : ''] })
    }
    const list = await client().listInstances({
      fieldQuery: [{ key: 'name', op: 'eq', value: 'x' }],
      labelQuery: "managed_by eq 'us'",
      maxItems: 2,
      attachLastOperations: true
    })
    expect(list.map((i) => i.id)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(smCalls).toHaveLength(3)
    expect(smCalls.map((r) => r.query.token)).toEqual([undefined, 'cGFnZTI=', 'cGFnZTM='])
    for (const r of smCalls) {
      expect(r.path).toBe('/v1/service_instances')
      expect(r.query.max_items).toBe('2')
      expect(r.query.fieldQuery).toBe("name eq 'x'")
      expect(r.query.labelQuery).toBe("managed_by eq 'us'")
      expect(r.query.attach_last_operations).toBe('true')
    }
  })

  test('offerings/plans do not send attach_last_operations; default page size is sent', async () => {
    sm = (_req, res) => {
      res.json({ items: [{ id: 'o1', name: 'xsuaa' }] })
    }
    const list = await client().listOfferings({ attachLastOperations: true })
    expect(list).toEqual([{ id: 'o1', name: 'xsuaa' }])
    expect(smCalls[0].path).toBe('/v1/service_offerings')
    expect(smCalls[0].query.max_items).toBe('100')
    expect(smCalls[0].query.attach_last_operations).toBeUndefined()
  })

  test('a rejected paging token (400 TokenInvalid) restarts the listing once', async () => {
    let run = 0
    sm = (req, res) => {
      const token = req.query.token
      if (!token) {
        run++
        return void res.json({ items: [instance('a')], token: run === 1 ? 'stale' : 'fresh' })
      }
      if (token === 'stale') return void res.status(400).json({ error: 'TokenInvalid', description: 'invalid token' })
      res.json({ items: [instance('b')] })
    }
    const list = await client().listBindings()
    expect(list.map((i) => i.id)).toEqual(['a', 'b'])
    expect(smCalls.map((r) => r.query.token)).toEqual([undefined, 'stale', undefined, 'fresh'])
  })

  test('a 404 on a page token restarts once; a second failure is thrown', async () => {
    sm = (req, res) => {
      if (!req.query.token) return void res.json({ items: [instance('a')], token: 'gone' })
      res.status(404).json({ error: 'NotFound', description: 'token expired' })
    }
    const e = await caught(client().listPlans())
    expect(smCalls).toHaveLength(4)
    expect(e.status).toBe(404)
    expect(e.path).toBe('/v1/service_plans')
  })

  test('a 400 on the first page is not a paging problem: thrown at once', async () => {
    sm = (_req, res) => {
      res.status(400).json({ error: 'BadRequest', description: 'bad fieldQuery' })
    }
    const e = await caught(client().listInstances({ fieldQuery: 'nonsense' }))
    expect(smCalls).toHaveLength(1)
    expect(e.status).toBe(400)
    expect(e.code).toBe('BadRequest')
    expect(e.retryable).toBe(false)
  })

  test('query values are escaped and URL-encoded as one value', async () => {
    sm = (_req, res) => {
      res.json({ items: [] })
    }
    await client().listInstances({
      fieldQuery: [
        { key: 'name', op: 'eq', value: "it's" },
        { key: 'service_offering_id', op: 'in', value: ['a&b=c', 'd'] }
      ],
      labelQuery: [{ key: 'owner', op: 'eq', value: 'cap admin' }]
    })
    const r = smCalls[0]
    expect(r.query.fieldQuery).toBe("name eq 'it''s' and service_offering_id in ('a&b=c', 'd')")
    expect(r.query.labelQuery).toBe("owner eq 'cap admin'")
    expect(r.url).toContain('fieldQuery=name%20eq%20%27it%27%27s%27%20and%20service_offering_id%20in%20%28%27a%26b%3Dc%27%2C%20%27d%27%29')
    expect(r.url).not.toMatch(/[ ']/)
    expect(Object.keys(r.query).sort()).toEqual(['fieldQuery', 'labelQuery', 'max_items'])
  })

  test('query builder: literals, operators, validation', () => {
    expect(
      fieldQuery([
        { key: 'ready', op: 'eq', value: true },
        { key: 'num', op: 'gt', value: -5 },
        { key: 'created_at', op: 'ge', value: new Date('2025-01-02T03:04:05Z') },
        { key: 'context/clusterid', op: 'ne', value: "o'k" },
        { key: 'name', op: 'notin', value: ['x'] },
        { key: 'description', op: 'contains', value: 'db' }
      ])
    ).toBe(
      "ready eq true and num gt -5 and created_at ge 2025-01-02T03:04:05.000Z and context/clusterid ne 'o''k' and name notin ('x') and description contains 'db'"
    )
    expect(labelQuery([{ key: 'a.b-c_d', op: 'in', value: ['1', '2'] }])).toBe("a.b-c_d in ('1', '2')")
    const bad = [
      () => labelQuery([{ key: 'k', op: 'eq', value: 'line\nbreak' }]),
      () => fieldQuery([{ key: 'name', op: 'eq', value: 'x\r' }]),
      () => labelQuery([{ key: 'bad key', op: 'eq', value: 'v' }]),
      () => labelQuery([{ key: 'k', op: 'eq', value: 'a' }, { key: 'k', op: 'ne', value: 'b' }]),
      () => labelQuery([{ key: 'k', op: 'gt', value: 1 }]),
      () => fieldQuery([{ key: "name' or 1", op: 'eq', value: 'v' }]),
      () => fieldQuery([{ key: 'name', op: 'in', value: [] }]),
      () => fieldQuery([{ key: 'name', op: 'eq', value: ['a', 'b'] }]),
      () => fieldQuery([{ key: 'n', op: 'eq', value: Number.NaN }])
    ]
    for (const f of bad) {
      let err: unknown
      try {
        f()
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ServiceManagerError)
      expect((err as ServiceManagerError).code).toBe('InvalidQuery')
      expect((err as ServiceManagerError).retryable).toBe(false)
    }
  })
})

// ------------------------------------------------------------------------------------------ create / delete

describe('create, update and delete', () => {
  test('createInstance 201 -> done with resource; headers, async=true and JSON body', async () => {
    sm = (req, res) => {
      res.status(201).json({ ...instance('inst-1', 'orders'), labels: JSON.parse(req.body).labels })
    }
    const r = await client().createInstance({
      name: 'orders',
      service_plan_id: 'plan-1',
      parameters: { xsappname: 'orders' },
      labels: { managed_by: ['cap'] }
    })
    expect(r).toEqual({ kind: 'done', id: 'inst-1', resource: expect.objectContaining({ id: 'inst-1', name: 'orders' }) })
    const call = smCalls[0]
    expect(call.method).toBe('POST')
    expect(call.path).toBe('/v1/service_instances')
    expect(call.query).toEqual({ async: 'true' })
    expect(call.headers['content-type']).toMatch(/^application\/json/)
    expect(call.headers.accept).toBe('application/json')
    expect(JSON.parse(call.body)).toEqual({
      name: 'orders',
      service_plan_id: 'plan-1',
      parameters: { xsappname: 'orders' },
      labels: { managed_by: ['cap'] }
    })
  })

  test('createInstance 202 -> accepted with the id parsed from the relative Location', async () => {
    sm = (_req, res) => {
      res.status(202).set('Location', '/v1/service_instances/7c0b-11/operations/op-9').json({})
    }
    const r = await client().createInstance(
      { name: 'orders', service_offering_name: 'xsuaa', service_plan_name: 'application' },
      { async: true }
    )
    expect(r).toEqual({ kind: 'accepted', id: '7c0b-11', location: '/v1/service_instances/7c0b-11/operations/op-9' })
  })

  test('createInstance validates the plan choice before calling SM', async () => {
    const e = await caught(
      client().createInstance({ name: 'x', service_plan_id: 'p', service_offering_name: 'o', service_plan_name: 'n' })
    )
    expect(e.code).toBe('InvalidArgument')
    const e2 = await caught(client().createInstance({ name: 'x', service_offering_name: 'o' }))
    expect(e2.code).toBe('InvalidArgument')
    expect(smCalls).toHaveLength(0)
  })

  test('createBinding sends async=false by default; 201 and 202 both handled', async () => {
    let n = 0
    sm = (_req, res) => {
      if (n++ === 0) res.status(201).json({ id: 'b-1', name: 'key', service_instance_id: 'i-1', credentials: { clientid: 'x' } })
      else res.status(202).set('Location', '/v1/service_bindings/b-2/operations/o-2').json({})
    }
    const c = client()
    const r1 = await c.createBinding({ name: 'key', service_instance_id: 'i-1', parameters: { 'credential-type': 'x509' } })
    expect(r1.kind).toBe('done')
    expect(r1.kind === 'done' && r1.resource?.credentials).toEqual({ clientid: 'x' })
    const r2 = await c.createBinding({ name: 'key2', service_instance_id: 'i-1' }, { async: true })
    expect(r2).toEqual({ kind: 'accepted', id: 'b-2', location: '/v1/service_bindings/b-2/operations/o-2' })
    expect(smCalls.map((r) => r.query.async)).toEqual(['false', 'true'])
  })

  test('202 without Location is an InvalidResponse (retryable: look the object up)', async () => {
    sm = (_req, res) => {
      res.status(202).json({})
    }
    const e = await caught(client().createInstance({ name: 'x', service_plan_id: 'p' }))
    expect(e.code).toBe('InvalidResponse')
    expect(e.retryable).toBe(true)
  })

  test('updateInstanceLabels PATCHes label ops with async sent explicitly', async () => {
    sm = (_req, res) => {
      res.status(200).json(instance('i-1'))
    }
    const r = await client().updateInstanceLabels('i-1', [
      { op: 'remove', key: 'old' },
      { op: 'add', key: 'owner', values: ['cap'] }
    ])
    expect(r.kind).toBe('done')
    expect(smCalls[0].method).toBe('PATCH')
    expect(smCalls[0].query).toEqual({ async: 'false' })
    expect(smCalls[0].headers['content-type']).toMatch(/^application\/json/)
    expect(JSON.parse(smCalls[0].body)).toEqual({
      labels: [
        { op: 'remove', key: 'old' },
        { op: 'add', key: 'owner', values: ['cap'] }
      ]
    })
    const e = await caught(client().updateInstanceLabels('i-1', [{ op: 'add', key: 'k', values: ['a\nb'] }]))
    expect(e.code).toBe('InvalidQuery')
  })

  test.each([
    [200, 'done'],
    [404, 'done'],
    [410, 'done']
  ])('deleteInstance %i -> %s', async (status, kind) => {
    sm = (_req, res) => {
      res.status(status).json(status === 200 ? {} : { error: 'NotFound' })
    }
    const r = await client().deleteInstance('i-1')
    expect(r).toEqual({ kind, id: 'i-1' })
    expect(smCalls[0].method).toBe('DELETE')
    expect(smCalls[0].query).toEqual({ async: 'true' })
    expect(smCalls[0].headers['content-type']).toBeUndefined()
  })

  test('deleteBinding: async=false by default, 404 = done', async () => {
    sm = (_req, res) => {
      res.status(404).json({ error: 'NotFound' })
    }
    expect(await client().deleteBinding('b-1')).toEqual({ kind: 'done', id: 'b-1' })
    expect(smCalls[0].path).toBe('/v1/service_bindings/b-1')
    expect(smCalls[0].query).toEqual({ async: 'false' })
  })

  test('a router 404 (unknown_route) on delete is NOT done but a retryable 503', async () => {
    sm = (_req, res) => {
      res.status(404).set('X-Cf-RouterError', 'unknown_route').send('404 Not Found: Requested route does not exist.')
    }
    const e = await caught(client().deleteInstance('i-1'))
    expect(e.status).toBe(503)
    expect(e.code).toBe('ServiceUnavailable')
    expect(e.retryable).toBe(true)
  })

  test('getInstance: 404 -> undefined; unknown_route 404 -> 503 retryable', async () => {
    let route = false
    sm = (_req, res) => {
      if (route) res.status(404).set('X-Cf-RouterError', 'unknown_route').end()
      else res.status(404).json({ error: 'NotFound', description: 'not found' })
    }
    const c = client({ getRetries: 0 })
    expect(await c.getInstance('nope')).toBeUndefined()
    route = true
    const e = await caught(c.getInstance('nope'))
    expect(e.status).toBe(503)
    expect(e.retryable).toBe(true)
    expect(e.path).toBe('/v1/service_instances/nope')
  })

  test('the throttle hook runs before every SM call (not before token calls)', async () => {
    sm = (_req, res) => {
      res.json(instance('i-1'))
    }
    const seen: string[] = []
    const c = client({
      throttle: ({ method, path }) => {
        seen.push(`${method} ${path} ${smCalls.length}`)
        return Promise.resolve()
      }
    })
    await c.getInstance('i-1')
    await c.getBinding('b-1')
    expect(seen).toEqual(['GET /v1/service_instances/i-1 0', 'GET /v1/service_bindings/b-1 1'])
  })
})

// ------------------------------------------------------------------------------------------ operations

describe('operations', () => {
  const LOC = '/v1/service_instances/i-1/operations/op-1'

  function scriptOps(states: Array<number | Record<string, unknown>>, after?: (r: Request, res: Response) => void): void {
    sm = (req, res) => {
      const i = smCalls.length - 1
      const step = states[Math.min(i, states.length - 1)]
      if (after && i >= states.length) return after(req, res)
      if (typeof step === 'number') return void res.status(step).set('Retry-After', '0').json({ error: 'TooManyRequests' })
      res.json({ id: 'op-1', resource_id: 'i-1', resource_type: '/v1/service_instances', ...step })
    }
  }

  test('polls in progress/pending until succeeded, with doubling backoff capped at pollMaxMs', async () => {
    scriptOps([
      { type: 'CREATE', state: 'in progress' },
      { type: 'CREATE', state: 'pending' },
      { type: 'CREATE', state: 'in progress' },
      { type: 'CREATE', state: 'in progress' },
      { type: 'CREATE', state: 'in progress' },
      { type: 'CREATE', state: 'succeeded' }
    ])
    const c = client({ pollInitialMs: 40, pollMaxMs: 100 })
    const op = await c.waitForOperation(LOC, { deadline: Date.now() + 10_000 })
    expect(op.state).toBe('succeeded')
    expect(smCalls).toHaveLength(6)
    expect(smCalls.every((r) => r.path === LOC)).toBe(true)
    const gaps = smCalls.slice(1).map((r, i) => r.at - smCalls[i].at)
    // expected waits 40, 80, 100, 100, 100 (uncapped would be 160, 320)
    expect(gaps[0]).toBeGreaterThanOrEqual(35)
    expect(gaps[1]).toBeGreaterThanOrEqual(75)
    expect(gaps[2]).toBeGreaterThanOrEqual(95)
    expect(gaps[3]).toBeGreaterThanOrEqual(95)
    // capped: 100 + 100; uncapped the last two waits would be at least 320 + 640 (a wide margin for a busy machine)
    expect(gaps[3] + gaps[4]).toBeLessThan(600)
  })

  test('getOperation returns the operation document', async () => {
    scriptOps([{ type: 'delete', state: 'in progress' }])
    const op = await client().getOperation(LOC)
    expect(op).toMatchObject({ id: 'op-1', type: 'delete', state: 'in progress' })
  })

  test('429 while polling counts as in progress', async () => {
    scriptOps([429, 429, { type: 'create', state: 'succeeded' }])
    const op = await client().waitForOperation(LOC, { deadline: Date.now() + 10_000 })
    expect(op.state).toBe('succeeded')
    expect(smCalls).toHaveLength(3)
  })

  test('429 while polling waits at least Retry-After', async () => {
    let n = 0
    sm = (_req, res) => {
      if (n++ === 0) res.status(429).set('Retry-After', '1').json({ description: 'slow down' })
      else res.json({ id: 'op-1', type: 'create', state: 'succeeded' })
    }
    await client().waitForOperation(LOC, { deadline: Date.now() + 10_000 })
    expect(smCalls[1].at - smCalls[0].at).toBeGreaterThanOrEqual(950)
  })

  test.each([
    ['object', { error: 'BrokerError', description: 'quota exceeded' }, 'quota exceeded', 'BrokerError', undefined],
    [
      'array (first wins)',
      [
        { error: 'First', description: 'the first error' },
        { error: 'Second', description: 'a later retry' }
      ],
      'the first error',
      'First',
      undefined
    ],
    [
      'broker_error PascalCase',
      { error: 'ServiceBrokerErr', description: 'outer text', broker_error: { StatusCode: 400, ErrorMessage: 'BadRequest', Description: 'broker says no' } },
      'broker says no',
      'ServiceBrokerErr',
      400
    ],
    [
      'brokerError camelCase inside an array',
      [{ error: 'X', brokerError: { statusCode: 409, errorMessage: 'Conflict', description: 'camel text' } }],
      'camel text',
      'X',
      409
    ],
    ['errors as JSON string', JSON.stringify({ error: 'S', description: 'from string' }), 'from string', 'S', undefined]
  ])('failed operation, errors as %s -> OperationFailed with first error', async (_label, errors, description, inner, brokerStatus) => {
    scriptOps([{ type: 'create', state: 'in progress' }, { type: 'create', state: 'failed', errors, description: 'op text' }])
    const e = await caught(client().waitForOperation(LOC, { deadline: Date.now() + 10_000 }))
    expect(e.code).toBe('OperationFailed')
    expect(e.description).toBe(description)
    expect(e.operationError).toBe(inner)
    expect(e.brokerError?.statusCode).toBe(brokerStatus)
    expect(e.retryable).toBe(false)
    expect(e.message).toContain(description)
    expect(smCalls).toHaveLength(2)
  })

  test('failed operation without errors falls back to the operation description', async () => {
    scriptOps([{ type: 'update', state: 'FAILED', description: 'plan change rejected' }])
    const e = await caught(client().waitForOperation(LOC, { deadline: Date.now() + 10_000 }))
    expect(e.code).toBe('OperationFailed')
    expect(e.description).toBe('plan change rejected')
  })

  test('deadline passed -> OperationTimeout, retryable, after polling until the deadline', async () => {
    scriptOps([{ type: 'create', state: 'in progress' }])
    const started = Date.now()
    const e = await caught(client({ pollInitialMs: 20, pollMaxMs: 50 }).waitForOperation(LOC, { deadline: started + 300 }))
    const elapsed = Date.now() - started
    expect(e.code).toBe('OperationTimeout')
    expect(e.retryable).toBe(true)
    expect(e.path).toBe(LOC)
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(5000) // stops at the deadline, not much later (generous for a busy machine)
    expect(smCalls.length).toBeGreaterThanOrEqual(4)
  })

  test('abort signal stops polling', async () => {
    scriptOps([{ type: 'create', state: 'in progress' }])
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 80)
    const e = await caught(client({ pollInitialMs: 30, pollMaxMs: 30 }).waitForOperation(LOC, { deadline: Date.now() + 10_000, signal: ac.signal }))
    expect(e.code).toBe('Aborted')
  })

  test('404 on the operation of a delete issued by this client = succeeded', async () => {
    let n = 0
    sm = (req, res) => {
      if (req.method === 'DELETE') return void res.status(202).set('Location', '/v1/service_instances/i-9/operations/d-1').json({})
      if (n++ === 0) return void res.json({ id: 'd-1', type: 'DELETE', state: 'in progress' })
      res.status(404).json({ error: 'NotFound' })
    }
    const c = client()
    const r = await c.deleteInstance('i-9')
    expect(r).toEqual({ kind: 'accepted', id: 'i-9', location: '/v1/service_instances/i-9/operations/d-1' })
    if (r.kind !== 'accepted') throw new Error('expected accepted')
    const op = await c.waitForOperation(r.location, { deadline: Date.now() + 10_000 })
    expect(op).toMatchObject({ id: 'd-1', state: 'succeeded', resource_id: 'i-9' })
    expect(op.type.toLowerCase()).toBe('delete')
  })

  test('404 on an operation: done with expectDelete, an error otherwise', async () => {
    sm = (_req, res) => {
      res.status(404).json({ error: 'NotFound', description: 'operation not found' })
    }
    const loc = '/v1/service_bindings/b-1/operations/o-7'
    const op = await client().waitForOperation(loc, { deadline: Date.now() + 1000, expectDelete: true })
    expect(op).toMatchObject({ id: 'o-7', state: 'succeeded', resource_id: 'b-1', resource_type: '/v1/service_bindings' })
    const e = await caught(client().waitForOperation(loc, { deadline: Date.now() + 1000 }))
    expect(e.status).toBe(404)
    expect(e.retryable).toBe(false)
  })

  test('a Location on another host is refused without sending the token there', async () => {
    const e = await caught(client().getOperation('https://evil.example.com/v1/service_instances/i/operations/o'))
    expect(e.code).toBe('InvalidArgument')
    const e2 = await caught(client().getOperation('/v2/../etc'))
    expect(e2.code).toBe('InvalidArgument')
    expect(smCalls).toHaveLength(0)
    expect(tokenCalls).toHaveLength(0)
  })

  test('an absolute Location on our own SM is accepted', async () => {
    scriptOps([{ type: 'create', state: 'succeeded' }])
    const op = await client().getOperation(`${base}${LOC}`)
    expect(op.state).toBe('succeeded')
    expect(smCalls[0].path).toBe(LOC)
  })
})

// ------------------------------------------------------------------------------------------ errors

describe('error mapping', () => {
  test.each([
    [400, 'BadRequest', false],
    [403, 'Forbidden', false],
    [404, 'NotFound', false],
    [408, 'RequestTimeout', true],
    [409, 'Conflict', false],
    [412, 'ConcurrentResourceUpdate', true],
    [422, 'ConcurrentOperationInProgress', true],
    [429, 'TooManyRequests', true],
    [500, 'InternalError', true],
    [502, 'BadGateway', true],
    [503, 'ServiceUnavailable', true]
  ])('POST answered %i -> code %s, retryable %s, no client-side retry', async (status, code, retryable) => {
    sm = (_req, res) => {
      res.status(status).set('Retry-After', '7').json({ error: code, description: `text ${status}` })
    }
    const e = await caught(client().createInstance({ name: 'x', service_plan_id: 'p' }))
    expect(smCalls).toHaveLength(1)
    expect(e.status).toBe(status)
    expect(e.code).toBe(code)
    expect(e.description).toBe(`text ${status}`)
    expect(e.retryable).toBe(retryable)
    expect(e.retryAfterMs).toBe(7000)
    expect(e.method).toBe('POST')
    expect(e.path).toBe('/v1/service_instances')
    expect(e.message).toContain(String(status))
  })

  test('error without a body gets a code from the status; broker_error description preferred', async () => {
    let n = 0
    sm = (_req, res) => {
      if (n++ === 0) res.status(502).end()
      else res.status(400).json({ error: 'BrokerError', description: 'generic', brokerError: { description: 'the broker detail' } })
    }
    const c = client()
    const e1 = await caught(c.createBinding({ name: 'k', service_instance_id: 'i' }))
    expect(e1.code).toBe('BadGateway')
    expect(e1.retryable).toBe(true)
    const e2 = await caught(c.createBinding({ name: 'k', service_instance_id: 'i' }))
    expect(e2.description).toBe('the broker detail')
    expect(e2.retryable).toBe(false)
  })

  test('connection reset -> NetworkError, retryable', async () => {
    sm = (req) => {
      req.socket.destroy()
    }
    const e = await caught(client().createInstance({ name: 'x', service_plan_id: 'p' }))
    expect(e.code).toBe('NetworkError')
    expect(e.status).toBeUndefined()
    expect(e.retryable).toBe(true)
    expect(smCalls).toHaveLength(1)
    expectNoSecrets(e)
  })

  test('request timeout -> Timeout, retryable', async () => {
    sm = () => {
      /* never answer */
    }
    const e = await caught(client({ timeoutMs: 150 }).deleteInstance('i-1'))
    expect(e.code).toBe('Timeout')
    expect(e.retryable).toBe(true)
  })

  test('GETs are retried on 503/429/network errors, honouring Retry-After', async () => {
    let n = 0
    sm = (req, res) => {
      n++
      if (n === 1) res.status(503).json({ error: 'ServiceUnavailable' })
      else if (n === 2) res.status(429).set('Retry-After', '0').json({})
      else if (n === 3) req.socket.destroy()
      else res.json(instance('i-1'))
    }
    const got = await client().getInstance('i-1')
    expect(got?.id).toBe('i-1')
    expect(smCalls).toHaveLength(4)
  })

  test('GET retries are capped (getRetries) and a long Retry-After is handed to the caller', async () => {
    sm = (_req, res) => {
      res.status(503).json({ error: 'ServiceUnavailable' })
    }
    const e = await caught(client({ getRetries: 2 }).listInstances())
    expect(smCalls).toHaveLength(3)
    expect(e.status).toBe(503)

    smCalls = []
    sm = (_req, res) => {
      res.status(429).set('Retry-After', '120').json({ description: 'rate limited' })
    }
    const e2 = await caught(client({ getRetries: 3 }).getInstance('i-1'))
    expect(smCalls).toHaveLength(1)
    expect(e2.status).toBe(429)
    expect(e2.retryAfterMs).toBe(120_000)
    expect(e2.retryable).toBe(true)
  })

  test('GETs are not retried on other statuses', async () => {
    sm = (_req, res) => {
      res.status(500).json({ error: 'InternalError' })
    }
    const e = await caught(client().getBinding('b'))
    expect(smCalls).toHaveLength(1)
    expect(e.retryable).toBe(true)
  })

  test('no error leaks the client secret or the bearer token', async () => {
    const errors: unknown[] = []
    sm = (req, res) => {
      // a hostile/buggy server echoing what it received
      res.status(400).json({ error: 'BadRequest', description: `got ${req.headers.authorization} and ${SECRET}` })
    }
    const c = client()
    errors.push(await caught(c.createInstance({ name: 'x', service_plan_id: 'p' })))
    sm = (req, res) => {
      res.status(200).json({
        id: 'o',
        type: 'create',
        state: 'failed',
        errors: { error: 'E', description: `echo ${req.headers.authorization}`, broker_error: { Description: SECRET } }
      })
    }
    errors.push(await caught(c.waitForOperation('/v1/service_instances/i/operations/o', { deadline: Date.now() + 1000 })))
    sm = (req) => {
      req.socket.destroy()
    }
    errors.push(await caught(c.deleteBinding('b')))
    tokenHandler = (req, res) => {
      res.status(400).json({ error: 'invalid_request', error_description: `body was ${req.body}` })
    }
    errors.push(await caught(client().getInstance('i')))
    expect(issued.length).toBeGreaterThan(0)
    for (const e of errors) expectNoSecrets(e)
    expect((errors[0] as ServiceManagerError).description).toBe('got Bearer *** and ***')
  })
})

// ------------------------------------------------------------------------------------------ Retry-After

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 9, 21, 7, 27, 0) // Wed, 21 Oct 2026 07:27:00 GMT

  test('delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
  })

  test('HTTP-date (IMF-fixdate and obsolete forms)', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(60_000)
    expect(parseRetryAfter('Wednesday, 21-Oct-26 07:28:30 GMT', now)).toBe(90_000)
    expect(parseRetryAfter('Wed Oct 21 07:27:10 2026', now)).toBe(10_000)
  })

  test('Go-style timestamp', () => {
    expect(parseRetryAfter('2026-10-21 07:29:00 +0000 UTC', now)).toBe(120_000)
    expect(parseRetryAfter('2026-10-21 09:29:00 +0200 CEST', now)).toBe(120_000)
    expect(parseRetryAfter('2026-10-21 07:27:01.5 +0000 UTC', now)).toBe(1_500)
  })

  test('past dates -> 0', () => {
    expect(parseRetryAfter('Tue, 20 Oct 2026 07:28:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('2024-11-11 14:59:33 +0000 UTC', now)).toBe(0)
  })

  test('garbage -> undefined', () => {
    for (const v of [undefined, '', 'soon', 'foo 12', '-5', '1.5', '12abc', 'Wed, 32 Oct 2026 07:28:00 GMT', '2026-13-01 00:00:00 +0000 UTC'])
      expect(parseRetryAfter(v, now)).toBeUndefined()
  })
})
