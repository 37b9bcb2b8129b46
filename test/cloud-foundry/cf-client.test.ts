import axios from 'axios'
import { startCfEmulator, DEV_CF_PASSWORD, DEV_CF_USER, type CfEmulator } from '../../emulator/cf'
import { CloudFoundryClient } from '../../srv/cloud-foundry/client'
import { ServiceManagerError } from '../../srv/service-manager/errors'
import type { ThrottleOutcome, ThrottleRequest } from '../../srv/service-manager/types'

/** The CF client against the CF emulator over HTTP: token, paging, label selectors, jobs, errors, rate limits. */

let cf: CfEmulator
beforeAll(async () => {
  cf = await startCfEmulator({ tokenTtlSeconds: 2, rateLimit: { limit: 1000, windowMs: 60_000 } })
})
afterAll(() => cf.close())
beforeEach(() => cf.reset())

/** how far the clients' clock (their tokens' lifetime) is ahead of the wall clock */
let ahead = 0
beforeEach(() => (ahead = 0))
const client = (o: Partial<{ password: string; pageSize: number }> = {}) =>
  new CloudFoundryClient(
    { api: cf.url, username: DEV_CF_USER, password: o.password ?? DEV_CF_PASSWORD },
    { pageSize: o.pageSize ?? 50, retryBaseMs: 10, now: () => Date.now() + ahead }
  )
const tokenCalls = () => cf.calls.filter(c => c.path === '/uaa/oauth/token')

async function devSpace(c: CloudFoundryClient) {
  const [org] = await c.list('/v3/organizations', { names: 'acme-integration' })
  const [space] = await c.list('/v3/spaces', { organization_guids: org.guid, names: 'dev' })
  const [plan] = await c.list('/v3/service_plans', { names: 'default', service_offering_names: 'integration-assessment', space_guids: space.guid })
  return { space: space.guid, plan: plan.guid }
}
const instanceBody = (name: string, where: { space: string; plan: string }, labels: Record<string, string> = {}) => ({
  type: 'managed',
  name,
  relationships: { space: { data: { guid: where.space } }, service_plan: { data: { guid: where.plan } } },
  metadata: { labels }
})
async function expectError(p: Promise<unknown>): Promise<ServiceManagerError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e).toBeInstanceOf(ServiceManagerError)
  return e as ServiceManagerError
}

test('password grant of the cf client: one token for many calls, a new one after it ends; a wrong password is not retried', async () => {
  const c = client()
  await c.list('/v3/organizations')
  await c.list('/v3/spaces')
  expect(tokenCalls()).toHaveLength(1)
  expect(tokenCalls()[0].body).toMatchObject({ grant_type: 'password', username: DEV_CF_USER, password: '***' })
  expect(await c.userGuid()).toBe(cf.users[0].guid)
  // the 2 s token is still good 1.5 s on, and fetched again before it ends (1.7 s on)
  ahead = 1500
  await c.list('/v3/organizations')
  expect(tokenCalls()).toHaveLength(1)
  ahead = 1700
  await c.list('/v3/organizations')
  expect(tokenCalls()).toHaveLength(2)

  const wrong = await expectError(client({ password: 'not-it' }).list('/v3/organizations'))
  expect([wrong.code, wrong.status, wrong.retryable]).toEqual(['TokenError', 401, false])
  expect(JSON.stringify(wrong)).not.toContain('not-it')
})

test('without a valid token the v3 API answers 401 CF-InvalidAuthToken; a 401 makes the client fetch a token and try once more', async () => {
  const bare = await axios.get(`${cf.url}/v3/organizations`, { validateStatus: () => true })
  expect(bare.status).toBe(401)
  expect(bare.data.errors[0]).toMatchObject({ code: 1000, title: 'CF-InvalidAuthToken' })

  const c = client()
  await c.list('/v3/organizations')
  cf.addFault({ method: 'GET', path: '/v3/spaces', status: 401 })
  const spaces = await c.list('/v3/spaces')
  expect(spaces.map(s => s.name).sort()).toEqual(['dev', 'dev', 'prod'])
  expect(tokenCalls()).toHaveLength(2)
})

test('lists follow pagination.next through every page; label selectors filter', async () => {
  const c = client({ pageSize: 2 })
  const where = await devSpace(c)
  for (let i = 0; i < 5; i++) await c.change('POST', '/v3/service_instances', instanceBody(`paged-${i}`, where, { tier: i < 2 ? 'gold' : 'silver', ...(i === 4 ? { odd: 'yes' } : {}) }))
  cf.calls.length = 0
  const all = await c.list('/v3/service_instances')
  expect(all.map(i => i.name)).toEqual(['paged-0', 'paged-1', 'paged-2', 'paged-3', 'paged-4'])
  expect(cf.calls.filter(x => x.path === '/v3/service_instances').map(x => x.query.page ?? '1')).toEqual(['1', '2', '3'])

  const names = async (label_selector: string) => (await c.list('/v3/service_instances', { label_selector })).map(i => i.name)
  expect(await names('tier=gold')).toEqual(['paged-0', 'paged-1'])
  expect(await names('tier!=gold')).toEqual(['paged-2', 'paged-3', 'paged-4'])
  expect(await names('tier in (gold,silver),odd')).toEqual(['paged-4'])
  expect(await names('tier notin (silver),!odd')).toEqual(['paged-0', 'paged-1'])
  const bad = await expectError(c.list('/v3/service_instances', { label_selector: 'tier=(' }))
  expect([bad.status, bad.code]).toEqual([400, 'CF-BadQueryParameter'])
})

test('jobs: PROCESSING, then POLLING, then COMPLETE; a failing job is FAILED with its error and the instance\'s last operation failed', async () => {
  const c = client()
  const where = await devSpace(c)
  cf.addFault({ method: 'POST', path: '/v3/service_instances', jobMs: 600 })
  const { job } = await c.change('POST', '/v3/service_instances', instanceBody('slow', where))
  expect(job).toMatch(new RegExp(`^${cf.url}/v3/jobs/`))
  const states = new Set<string>()
  for (let i = 0; i < 40 && !states.has('COMPLETE'); i++) {
    states.add((await c.job(job!))!.state)
    await new Promise(r => setTimeout(r, 50))
  }
  expect([...states]).toEqual(['PROCESSING', 'POLLING', 'COMPLETE'])

  cf.addFault({ method: 'POST', path: '/v3/service_instances', failJob: 'quota exceeded' })
  const failing = await c.change('POST', '/v3/service_instances', instanceBody('doomed', where))
  const done = await c.job(failing.job!)
  expect(done).toMatchObject({ state: 'FAILED', errors: [{ title: 'CF-UnableToPerform' }] })
  expect(done!.errors![0].detail).toContain('quota exceeded')
  const [inst] = await c.list('/v3/service_instances', { names: 'doomed' })
  expect(inst.last_operation).toMatchObject({ type: 'create', state: 'failed', description: 'quota exceeded' })
})

test('the emulator without Service Manager gives a key a secret of its UAA, but fails the job of an X.509 key instead of a secret', async () => {
  const c = client()
  const where = await devSpace(c)
  const { job } = await c.change('POST', '/v3/service_instances', instanceBody('standalone', where))
  expect((await c.job(job!))!.state).toBe('COMPLETE')
  const [inst] = await c.list('/v3/service_instances', { names: 'standalone' })
  const key = (name: string, parameters: Record<string, unknown>) =>
    c.change('POST', '/v3/service_credential_bindings', { type: 'key', name, relationships: { service_instance: { data: { guid: inst.guid } } }, parameters })

  const secret = await key('standalone-secret', {})
  expect((await c.job(secret.job!))!.state).toBe('COMPLETE')
  const [s] = await c.list('/v3/service_credential_bindings', { names: 'standalone-secret' })
  expect((await c.get(`/v3/service_credential_bindings/${s.guid}/details`))!.credentials).toMatchObject({ clientid: expect.any(String), clientsecret: expect.any(String) })

  const x509 = await key('standalone-x509', { xsuaa: { 'credential-type': 'x509', x509: { 'key-length': 2048, validity: 7, 'validity-type': 'DAYS' } } })
  let done = await c.job(x509.job!)
  for (let i = 0; i < 20 && done!.state !== 'FAILED' && done!.state !== 'COMPLETE'; i++) done = await c.job(x509.job!)
  expect(done).toMatchObject({ state: 'FAILED', errors: [{ title: 'CF-UnableToPerform' }] })
  expect(done!.errors![0].detail).toContain('X.509 credentials are issued by the Service Manager emulator')
  const [x] = await c.list('/v3/service_credential_bindings', { names: 'standalone-x509' })
  expect(x.last_operation).toMatchObject({ type: 'create', state: 'failed' })
  expect(await c.get(`/v3/service_credential_bindings/${x.guid}/details`)).toBeUndefined()
})

test('CF errors become the reconciler\'s errors: names taken are conflicts, an operation in progress is retried, a bad plan is not', async () => {
  const c = client()
  const where = await devSpace(c)
  await c.change('POST', '/v3/service_instances', instanceBody('taken', where))
  const taken = await expectError(c.change('POST', '/v3/service_instances', instanceBody('taken', where)))
  expect([taken.status, taken.code, taken.retryable]).toEqual([409, 'CF-ServiceInstanceNameTaken', false])
  const badPlan = await expectError(c.change('POST', '/v3/service_instances', instanceBody('no-plan', { ...where, plan: '00000000-0000-4000-8000-000000000000' })))
  expect([badPlan.status, badPlan.code, badPlan.retryable]).toEqual([422, 'CF-UnprocessableEntity', false])
  cf.addFault({ method: 'POST', path: '/v3/service_credential_bindings', status: 409 })
  const busy = await expectError(c.change('POST', '/v3/service_credential_bindings', { type: 'key', name: 'k', relationships: { service_instance: { data: { guid: 'x' } } } }))
  expect([busy.status, busy.code, busy.retryable]).toEqual([422, 'CF-AsyncServiceInstanceOperationInProgress', true])
  expect(await c.get('/v3/service_instances/00000000-0000-4000-8000-000000000000')).toBeUndefined()
  expect((await c.change('DELETE', '/v3/service_instances/00000000-0000-4000-8000-000000000000')).gone).toBe(true)
})

test('rate limits: a 429 pauses the client until X-RateLimit-Reset (GETs wait it out, changes go back to the caller)', async () => {
  const c = client()
  const where = await devSpace(c)

  // a GET waits a short pause out and goes on
  cf.addFault({ method: 'GET', path: '/v3/spaces', status: 429, resetInMs: 1200 })
  const started = Date.now()
  await c.list('/v3/spaces')
  const gets = cf.calls.filter(x => x.path === '/v3/spaces')
  expect(gets.slice(-2).map(x => x.status)).toEqual([429, 200])
  expect(Date.now() - started).toBeGreaterThanOrEqual(1100)

  // a POST goes back to its caller with the pause as its Retry-After, and the client holds back meanwhile
  cf.addFault({ method: 'POST', path: '/v3/service_instances', status: 429, resetInMs: 8000 })
  const limited = await expectError(c.change('POST', '/v3/service_instances', instanceBody('limited', where)))
  expect([limited.status, limited.retryable]).toEqual([429, true])
  expect(limited.retryAfterMs).toBeGreaterThan(6000)
  expect(c.pausedFor()).toBeGreaterThan(6000)
  const posts = cf.calls.filter(x => x.method === 'POST' && x.path === '/v3/service_instances').length
  const held = await expectError(c.change('POST', '/v3/service_instances', instanceBody('limited', where)))
  expect(held.status).toBe(429)
  expect(cf.calls.filter(x => x.method === 'POST' && x.path === '/v3/service_instances').length).toBe(posts) // not sent
})

test('the emulator counts requests per user: beyond the limit 429 with X-RateLimit-Remaining 0', async () => {
  const small = await startCfEmulator({ rateLimit: { limit: 3, windowMs: 60_000 } })
  try {
    const token = await axios.post(`${small.uaaUrl}/oauth/token`, new URLSearchParams({ grant_type: 'password', username: DEV_CF_USER, password: DEV_CF_PASSWORD }), { auth: { username: 'cf', password: '' } })
    const get = () => axios.get(`${small.url}/v3/organizations`, { headers: { Authorization: `bearer ${token.data.access_token}` }, validateStatus: () => true })
    const answers = [await get(), await get(), await get(), await get()]
    expect(answers.map(a => a.status)).toEqual([200, 200, 200, 429])
    expect(answers.map(a => a.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0'])
    expect(answers[3].data.errors[0]).toMatchObject({ code: 10013, title: 'CF-RateLimitExceeded' })
    expect(Number(answers[3].headers['x-ratelimit-reset']) * 1000).toBeGreaterThan(Date.now())
  } finally {
    await small.close()
  }
})

test('the rate budget\'s hooks: each v3 call takes its place first and reports its outcome; a window used up pauses through the budget', async () => {
  const small = await startCfEmulator({ rateLimit: { limit: 2, windowMs: 60_000 } })
  try {
    const asked: ThrottleRequest[] = []
    const outcomes: ThrottleOutcome[] = []
    const pauses: number[] = []
    const c = new CloudFoundryClient(
      { api: small.url, username: DEV_CF_USER, password: DEV_CF_PASSWORD },
      {
        throttle: req => {
          asked.push(req)
          return Promise.resolve((outcome: ThrottleOutcome) => void outcomes.push(outcome))
        },
        pause: until => {
          pauses.push(until)
          return Promise.resolve()
        }
      }
    )
    await c.list('/v3/organizations')
    await c.call('GET', '/v3/spaces', { booking: 'step-1' })
    // the root document and the token are not v3 calls: not counted
    expect(asked).toEqual([
      { method: 'GET', path: '/v3/organizations', booking: undefined },
      { method: 'GET', path: '/v3/spaces', booking: 'step-1' }
    ])
    expect(outcomes.map(o => o.status)).toEqual([200, 200])
    // the second call used the window up (X-RateLimit-Remaining 0): the budget pauses until X-RateLimit-Reset
    const spaces = small.calls.filter(c => c.path === '/v3/spaces')[0]
    const reset = Math.ceil((small.calls.find(c => c.path === '/v3/organizations')!.at + 60_000) / 1000) * 1000
    expect(pauses).toHaveLength(1)
    expect(pauses[0]).toBeGreaterThanOrEqual(reset)
    expect(pauses[0]).toBeLessThanOrEqual(reset + 1000)
    expect(spaces.status).toBe(200)
    // a change meanwhile goes back to the caller (its Retry-After: the pause) without reaching CF
    const before = small.calls.length
    const e = await expectError(c.change('POST', '/v3/service_instances', {}))
    expect([e.status, e.retryable]).toEqual([429, true])
    expect(e.retryAfterMs).toBeGreaterThan(50_000)
    expect(small.calls.length).toBe(before)
    expect(asked).toHaveLength(2)
  } finally {
    await small.close()
  }
})

test('kind cf-credentials: API endpoint and technical user per subaccount GUID; a subaccount without them is CF_NOT_CONFIGURED', async () => {
  const { CredentialsCloudFoundry } = await import('../../srv/cloud-foundry/kind-credentials')
  const access = { api: cf.url, username: DEV_CF_USER, password: DEV_CF_PASSWORD, org: 'acme-integration' }
  // the service's options as cds.requires holds them (typed by @sap/cds as a kind and its implementation only)
  const options = { kind: 'cf-credentials', subaccounts: { 'subaccount-a': access } } as unknown as ConstructorParameters<typeof CredentialsCloudFoundry>[2]
  const svc = new CredentialsCloudFoundry('cloud-foundry', undefined, options)
  const c = await svc.clientFor({ subaccountId: 'subaccount-a' })
  expect(await c.list('/v3/organizations', { names: 'acme-integration' })).toHaveLength(1)
  expect(await svc.defaultOrg({ subaccountId: 'subaccount-a' })).toBe('acme-integration')
  expect(await svc.clientFor({ subaccountId: 'subaccount-a' })).toBe(c) // one client (and token) per subaccount
  await expect(svc.clientFor({ subaccountId: 'subaccount-b', displayName: 'B' })).rejects.toMatchObject({ code: 'CF_NOT_CONFIGURED' })
})

test('kind cf-destination: a BasicAuthentication destination (URL = API endpoint, user and password, property cfOrg)', async () => {
  const { DestinationCloudFoundry } = await import('../../srv/cloud-foundry/kind-destination')
  process.env.destinations = JSON.stringify([
    { name: 'cf-acme-integration', url: cf.url, authentication: 'BasicAuthentication', username: DEV_CF_USER, password: DEV_CF_PASSWORD, cfOrg: 'acme-integration' }
  ])
  try {
    const svc = new DestinationCloudFoundry('cloud-foundry', undefined, { kind: 'cf-destination' } as unknown as ConstructorParameters<typeof DestinationCloudFoundry>[2])
    const ref = { subaccountId: 'subaccount-a', cfDestination: 'cf-acme-integration' }
    const c = await svc.clientFor(ref)
    expect(await svc.defaultOrg(ref)).toBe('acme-integration')
    expect((await c.list('/v3/spaces')).length).toBeGreaterThan(0)
    await expect(svc.clientFor({ subaccountId: 'subaccount-b', displayName: 'B' })).rejects.toMatchObject({ code: 'CF_NOT_CONFIGURED' })
    await expect(svc.clientFor({ subaccountId: 'subaccount-c', cfDestination: 'cf-nowhere' })).rejects.toMatchObject({ code: 'CF_NOT_CONFIGURED' })
  } finally {
    delete process.env.destinations
  }
})

test('links to another host (a Location, a next page) are not followed with the token', async () => {
  const c = client()
  await c.list('/v3/organizations')
  const before = cf.calls.length
  const e = await expectError(c.job('http://127.0.0.2:9/v3/jobs/x'))
  expect([e.code, e.retryable]).toEqual(['InvalidResponse', false])
  expect(cf.calls.length).toBe(before)
})
