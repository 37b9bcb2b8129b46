/**
 * Service Manager emulator over real HTTP. Every test starts its own emulator and closes it.
 */
import axios, { AxiosError, type AxiosInstance, type AxiosResponse } from 'axios'
import {
  planId,
  offeringId,
  DEV_SUBACCOUNT_1_ID,
  DEV_SUBACCOUNT_2_ID,
  DEV_TENANT_1_CLIENT_ID,
  DEV_TENANT_1_CLIENT_SECRET,
  DEV_TENANT_2_CLIENT_ID,
  DEV_TENANT_2_CLIENT_SECRET,
  type Emulator
} from '../emulator'
import { noKeepAlive, smClient, useEmulators } from './support/emulators'
import { eventually } from './support/eventually'

const http0 = axios.create({ httpAgent: noKeepAlive, validateStatus: () => true, proxy: false })

const { start } = useEmulators()

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

async function tokenFor(e: Emulator, clientid: string, clientsecret: string): Promise<AxiosResponse> {
  return http0.post(`${e.url}/oauth/token`, form({ grant_type: 'client_credentials', client_id: clientid, client_secret: clientsecret }), {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' }
  })
}

async function createInstance(c: AxiosInstance, name: string, offering = 'xsuaa', plan = 'application', extra: object = {}) {
  const r = await c.post('/v1/service_instances?async=false', { name, service_offering_name: offering, service_plan_name: plan, ...extra })
  expect(r.status).toBe(201)
  return r.data
}

async function createBinding(c: AxiosInstance, instanceId: string, name: string, extra: object = {}) {
  const r = await c.post('/v1/service_bindings?async=false', { name, service_instance_id: instanceId, ...extra })
  expect(r.status).toBe(201)
  return r.data
}

/** Waits until the operation at `location` is no longer in progress; answers it. */
async function poll(c: AxiosInstance, location: string, timeout = 5000): Promise<any> {
  const r = await eventually(() => c.get(location), {
    what: `operation ${location} to end`,
    until: r => r.status !== 200 || r.data.state !== 'in progress',
    show: r => `${r.status} ${JSON.stringify(r.data)}`,
    timeout,
    interval: 50
  })
  expect(r.status).toBe(200)
  return r.data
}

async function expectSocketError(p: Promise<unknown>): Promise<AxiosError> {
  try {
    await p
  } catch (e) {
    const err = e as AxiosError
    expect(err.response).toBeUndefined()
    expect(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_BAD_RESPONSE']).toContain(err.code)
    return err
  }
  throw new Error('expected a socket error, got a response')
}

describe('OAuth token endpoint and bearer checks', () => {
  test('client credentials in the body or as HTTP Basic give a token; wrong ones give 401 invalid_client', async () => {
    const e = await start()
    const ok = await tokenFor(e, DEV_TENANT_1_CLIENT_ID, DEV_TENANT_1_CLIENT_SECRET)
    expect(ok.status).toBe(200)
    expect(ok.data.token_type).toBe('bearer')
    expect(ok.data.expires_in).toBe(43199)
    expect(typeof ok.data.access_token).toBe('string')
    const claims = JSON.parse(Buffer.from(ok.data.access_token.split('.')[1], 'base64url').toString())
    expect(claims.zid).toBe(DEV_SUBACCOUNT_1_ID)

    const basic = await http0.post(`${e.url}/oauth/token`, 'grant_type=client_credentials', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      auth: { username: DEV_TENANT_2_CLIENT_ID, password: DEV_TENANT_2_CLIENT_SECRET }
    })
    expect(basic.status).toBe(200)

    const wrong = await tokenFor(e, DEV_TENANT_1_CLIENT_ID, 'nope')
    expect(wrong.status).toBe(401)
    expect(wrong.data.error).toBe('invalid_client')
    expect(typeof wrong.data.error_description).toBe('string')
    expect((await tokenFor(e, 'unknown-client', 'x')).status).toBe(401)

    const noGrant = await http0.post(`${e.url}/oauth/token`, form({ client_id: DEV_TENANT_1_CLIENT_ID, client_secret: DEV_TENANT_1_CLIENT_SECRET }))
    expect(noGrant.status).toBe(400)
    expect(noGrant.data.error).toBe('invalid_request')
  })

  test('/v1 needs a valid tenant bearer token', async () => {
    const e = await start({ tokenTtlSeconds: 60 })
    const none = await http0.get(`${e.url}/v1/service_instances`)
    expect(none.status).toBe(401)
    expect(none.data.error).toBe('Unauthorized')
    const bogus = await http0.get(`${e.url}/v1/service_instances`, { headers: { Authorization: 'Bearer abc.def.ghi' } })
    expect(bogus.status).toBe(401)
    const c = await smClient(e)
    expect((await c.get('/v1/service_instances')).status).toBe(200)
    // its 60 s pass on the emulator's clock: valid half-way, expired at the end
    e.advanceClock(30_000)
    expect((await c.get('/v1/service_instances')).status).toBe(200)
    e.advanceClock(30_000)
    const expired = await c.get('/v1/service_instances')
    expect(expired.status).toBe(401)
    expect(expired.data.description).toMatch(/expired/)
  })
})

describe('catalog', () => {
  test('deterministic ids, entitled plans only, lookup by id', async () => {
    const e = await start()
    expect(planId('aicore', 'extended')).toBe(planId('aicore', 'extended'))
    expect(planId('aicore', 'extended')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(planId('aicore', 'extended')).not.toBe(planId('aicore', 'standard'))

    const c1 = await smClient(e, 1)
    const plans1 = await c1.get('/v1/service_plans')
    expect(plans1.status).toBe(200)
    expect(plans1.data.num_items).toBe(5)
    const ext = plans1.data.items.find((p: any) => p.id === planId('aicore', 'extended'))
    expect(ext).toMatchObject({ name: 'extended', catalog_name: 'extended', service_offering_id: offeringId('aicore'), ready: true })
    expect(plans1.data.items.some((p: any) => p.id === planId('aicore', 'standard'))).toBe(false)

    const offs1 = await c1.get('/v1/service_offerings', { params: { fieldQuery: "catalog_name eq 'aicore'" } })
    expect(offs1.data.items).toHaveLength(1)
    expect(offs1.data.items[0]).toMatchObject({ id: offeringId('aicore'), name: 'aicore', catalog_name: 'aicore', bindable: true })

    const c2 = await smClient(e, 2)
    const plans2 = await c2.get('/v1/service_plans')
    expect(plans2.data.num_items).toBe(4)
    expect((await c2.get(`/v1/service_plans/${planId('aicore', 'extended')}`)).status).toBe(404)
    expect((await c2.get(`/v1/service_offerings/${offeringId('aicore')}`)).status).toBe(404)
    const xsuaaPlan = await c2.get(`/v1/service_plans/${planId('xsuaa', 'application')}`)
    expect(xsuaaPlan.data.service_offering_id).toBe(offeringId('xsuaa'))

    const byIdIn = await c1.get('/v1/service_plans', {
      params: { fieldQuery: `catalog_name eq 'standard' and service_offering_id in ('${offeringId('cloudalm-api')}', '${offeringId('aicore')}')` }
    })
    expect(byIdIn.data.items.map((p: any) => p.id)).toEqual([planId('cloudalm-api', 'standard')])
  })
})

describe('tenant isolation', () => {
  test('a tenant never sees or touches another tenant’s instances and non-entitled plans are 404', async () => {
    const e = await start()
    const c1 = await smClient(e, 1)
    const c2 = await smClient(e, 2)
    const inst = await createInstance(c1, 'only-mine')
    expect(inst.labels.subaccount_id).toEqual([DEV_SUBACCOUNT_1_ID])
    expect(inst.context).toEqual({ platform: 'service-manager', instance_name: 'only-mine', subaccount_id: DEV_SUBACCOUNT_1_ID })

    const list2 = await c2.get('/v1/service_instances')
    expect(list2.data.num_items).toBe(0)
    expect((await c2.get(`/v1/service_instances/${inst.id}`)).status).toBe(404)
    expect((await c2.delete(`/v1/service_instances/${inst.id}`)).status).toBe(404)
    expect(e.instances(DEV_SUBACCOUNT_2_ID)).toHaveLength(0)
    expect(e.instances(DEV_SUBACCOUNT_1_ID).map((i) => i.id)).toEqual([inst.id])

    // same name in the other subaccount is fine
    await createInstance(c2, 'only-mine')

    const notEntitled = await c2.post('/v1/service_instances', { name: 'ai', service_plan_id: planId('aicore', 'extended') })
    expect(notEntitled.status).toBe(404)
    expect(notEntitled.data).toEqual({ error: 'NotFound', description: 'could not find such service plan' })
    const unknownPlan = await c1.post('/v1/service_instances', { name: 'x', service_offering_name: 'aicore', service_plan_name: 'nope' })
    expect(unknownPlan.status).toBe(404)
  })
})

describe('instances and operations', () => {
  test('sync create answers 201 with the full entity; async create 202 + relative Location, polled to succeeded', async () => {
    const e = await start({ operationMs: 300 })
    const c = await smClient(e)
    const sync = await c.post('/v1/service_instances?async=false', {
      name: 'sync-one',
      service_plan_id: planId('xsuaa', 'application'),
      parameters: { xsappname: 'sync-one' },
      labels: { owner: ['cap'] }
    })
    expect(sync.status).toBe(201)
    expect(sync.data).toMatchObject({ name: 'sync-one', ready: true, service_plan_id: planId('xsuaa', 'application'), platform_id: 'service-manager' })
    expect(sync.data.last_operation).toMatchObject({ type: 'create', state: 'succeeded', resource_id: sync.data.id })
    expect(sync.data.labels).toEqual({ owner: ['cap'], subaccount_id: [DEV_SUBACCOUNT_1_ID] })
    expect(new Date(sync.data.created_at).toISOString()).toBe(sync.data.created_at)
    expect((await c.get(`/v1/service_instances/${sync.data.id}/parameters`)).data).toEqual({ xsappname: 'sync-one' })

    const async = await c.post('/v1/service_instances?async=true', { name: 'async-one', service_plan_id: planId('cloudalm-api', 'standard') })
    expect(async.status).toBe(202)
    expect(async.data).toEqual({})
    const loc: string = async.headers['location']
    const m = /^\/v1\/service_instances\/([0-9a-f-]+)\/operations\/([0-9a-f-]+)$/.exec(loc)
    expect(m).not.toBeNull()
    const id = m![1]

    const first = await c.get(loc)
    expect(first.data).toMatchObject({ type: 'create', state: 'in progress', resource_id: id, resource_type: '/v1/service_instances' })
    const pending = await c.get(`/v1/service_instances/${id}`)
    expect(pending.data.ready).toBe(false)
    expect(pending.data.last_operation.state).toBe('in progress')

    const done = await poll(c, loc)
    expect(done.state).toBe('succeeded')
    expect((await c.get(`/v1/service_instances/${id}`)).data.ready).toBe(true)

    // async delete: gone after success, operation stays readable
    const del = await c.delete(`/v1/service_instances/${id}?async=true`)
    expect(del.status).toBe(202)
    const delLoc: string = del.headers['location']
    expect((await c.get(delLoc)).data).toMatchObject({ type: 'delete', state: 'in progress' })
    expect((await poll(c, delLoc)).state).toBe('succeeded')
    expect((await c.get(`/v1/service_instances/${id}`)).status).toBe(404)
    expect((await c.get(delLoc)).data.state).toBe('succeeded')

    // sync delete
    const syncDel = await c.delete(`/v1/service_instances/${sync.data.id}?async=false`)
    expect(syncDel.status).toBe(200)
    expect(syncDel.data).toEqual({})
    expect(e.instances()).toHaveLength(0)
  })

  test('operationMs 0: an async create is done at the first poll', async () => {
    const e = await start()
    const c = await smClient(e)
    const r = await c.post('/v1/service_instances?async=true', { name: 'quick', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(r.status).toBe(202)
    expect((await c.get(r.headers['location'])).data.state).toBe('succeeded')
  })

  test('failOperation fault: operation ends failed with errors as object or array, resource stays not ready', async () => {
    const e = await start()
    const c = await smClient(e)
    e.addFault({ method: 'POST', path: '/v1/service_instances', failOperation: { error: 'BrokerError', description: 'quota exceeded' } })
    const r1 = await c.post('/v1/service_instances?async=true', { name: 'f1', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(r1.status).toBe(202)
    const op1 = await poll(c, r1.headers['location'])
    expect(op1.state).toBe('failed')
    expect(op1.errors).toEqual({ error: 'BrokerError', description: 'quota exceeded' })
    const id1 = op1.resource_id
    const inst1 = await c.get(`/v1/service_instances/${id1}`)
    expect(inst1.data.ready).toBe(false)
    expect(inst1.data.last_operation.state).toBe('failed')

    e.addFault({ path: /^\/v1\/service_instances/, failOperation: { error: 'BrokerError', description: 'boom' }, errorsAsArray: true })
    const r2 = await c.post('/v1/service_instances?async=true', { name: 'f2', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    const op2 = await poll(c, r2.headers['location'])
    expect(op2.state).toBe('failed')
    expect(op2.errors).toEqual([{ error: 'BrokerError', description: 'boom' }])

    // the fault was consumed: the next create succeeds
    const r3 = await c.post('/v1/service_instances?async=true', { name: 'f3', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect((await poll(c, r3.headers['location'])).state).toBe('succeeded')

    // a binding on the failed (not ready) instance is refused
    const b = await c.post('/v1/service_bindings', { name: 'k', service_instance_id: id1 })
    expect(b.status).toBe(422)
  })

  test('409 on duplicate instance name (also while being created) and duplicate binding name per instance', async () => {
    const e = await start({ operationMs: 60_000 })
    const c = await smClient(e)
    const r = await c.post('/v1/service_instances?async=true', { name: 'dup', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(r.status).toBe(202)
    const again = await c.post('/v1/service_instances?async=true', { name: 'dup', service_offering_name: 'cloudalm-api', service_plan_name: 'standard' })
    expect(again.status).toBe(409)
    expect(again.data.error).toBe('Conflict')

    const e2 = await start()
    const c2 = await smClient(e2)
    const i1 = await createInstance(c2, 'a')
    const i2 = await createInstance(c2, 'b')
    await createBinding(c2, i1.id, 'key')
    const dupKey = await c2.post('/v1/service_bindings', { name: 'key', service_instance_id: i1.id })
    expect(dupKey.status).toBe(409)
    expect(dupKey.data.error).toBe('Conflict')
    await createBinding(c2, i2.id, 'key') // other instance: fine
    const rename = await c2.patch(`/v1/service_instances/${i2.id}`, { name: 'a' })
    expect(rename.status).toBe(409)
  })

  test('422 ConcurrentOperationInProgress; DELETE during a create is allowed; binding on a not-ready instance is 422', async () => {
    const e = await start({ operationMs: 400 })
    const c = await smClient(e)
    const r = await c.post('/v1/service_instances?async=true', { name: 'busy', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    const id = /service_instances\/([^/]+)\//.exec(r.headers['location'])![1]
    const patch = await c.patch(`/v1/service_instances/${id}`, { parameters: { a: 1 } })
    expect(patch.status).toBe(422)
    expect(patch.data.error).toBe('ConcurrentOperationInProgress')
    const bind = await c.post('/v1/service_bindings', { name: 'k', service_instance_id: id })
    expect(bind.status).toBe(422)

    const del = await c.delete(`/v1/service_instances/${id}?async=true`)
    expect(del.status).toBe(202)
    const delAgain = await c.delete(`/v1/service_instances/${id}?async=true`)
    expect(delAgain.status).toBe(422)
    expect((await poll(c, del.headers['location'])).state).toBe('succeeded')
    expect((await c.get(`/v1/service_instances/${id}`)).status).toBe(404)
  })

  test('deleting an instance with bindings is 400', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'has-keys')
    await createBinding(c, inst.id, 'k1')
    await createBinding(c, inst.id, 'k2')
    const del = await c.delete(`/v1/service_instances/${inst.id}?async=false`)
    expect(del.status).toBe(400)
    expect(del.data).toEqual({ error: 'BadRequest', description: 'could not delete instance due to 2 existing bindings' })
    expect(e.instances()).toHaveLength(1)
  })

  test('request validation: content type, client id in body, missing name', async () => {
    const e = await start()
    const c = await smClient(e)
    const text = await c.post('/v1/service_instances', 'name=x', { headers: { 'Content-Type': 'text/plain' } })
    expect(text.status).toBe(400)
    const withId = await c.post('/v1/service_instances', { id: 'abc', name: 'x', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(withId.status).toBe(400)
    const noName = await c.post('/v1/service_instances', { service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(noName.status).toBe(400)
    const both = await c.post('/v1/service_instances', { name: 'x', service_plan_id: planId('xsuaa', 'application'), service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(both.status).toBe(400)
    expect((await c.get('/v1/service_instances/unknown-id')).status).toBe(404)
    expect(e.instances()).toHaveLength(0)
  })
})

describe('lists: paging and queries', () => {
  test('max_items, token, clamp, max_items=0, bad values', async () => {
    const e = await start()
    for (let i = 0; i < 205; i++) e.plant('instance', { name: `p-${String(i).padStart(3, '0')}`, offering: 'xsuaa', plan: 'application' })
    const c = await smClient(e)

    const def = await c.get('/v1/service_instances')
    expect(def.data.num_items).toBe(205)
    expect(def.data.items).toHaveLength(50)
    expect(typeof def.data.token).toBe('string')

    const clamp = await c.get('/v1/service_instances', { params: { max_items: 1000 } })
    expect(clamp.data.items).toHaveLength(200)
    const rest = await c.get('/v1/service_instances', { params: { max_items: 1000, token: clamp.data.token } })
    expect(rest.data.items.map((i: any) => i.name)).toEqual(['p-200', 'p-201', 'p-202', 'p-203', 'p-204'])
    expect(rest.data.token).toBeUndefined()
    expect(rest.data.num_items).toBe(205)

    // walk pages of 7 in creation order
    const names: string[] = []
    let token: string | undefined
    do {
      const page = await c.get('/v1/service_instances', { params: { max_items: 7, ...(token ? { token } : {}) } })
      expect(page.status).toBe(200)
      names.push(...page.data.items.map((i: any) => i.name))
      token = page.data.token
    } while (token)
    expect(names).toHaveLength(205)
    expect(names[0]).toBe('p-000')
    expect(names[204]).toBe('p-204')

    const zero = await c.get('/v1/service_instances', { params: { max_items: 0 } })
    expect(zero.data).toEqual({ num_items: 205 })
    for (const bad of ['-1', 'abc', '1.5']) {
      const r = await c.get('/v1/service_instances', { params: { max_items: bad } })
      expect(r.status).toBe(400)
      expect(r.data.error).toBe('InvalidMaxItems')
    }
    const badToken = await c.get('/v1/service_instances', { params: { token: 'not a token!' } })
    expect(badToken.status).toBe(400)
    expect(badToken.data.error).toBe('TokenInvalid')
    const badToken2 = await c.get('/v1/service_instances', { params: { token: Buffer.from('xyz').toString('base64') } })
    expect(badToken2.status).toBe(400)
  })

  test('fieldQuery and labelQuery: eq with quote escaping, in, notin, ne, paths, bad queries', async () => {
    const e = await start()
    const c = await smClient(e)
    const a = await createInstance(c, "it's", 'xsuaa', 'application', { labels: { team: ['blue', 'green'], env: ['dev'] } })
    const b = await createInstance(c, 'plain', 'cloudalm-api', 'standard', { labels: { team: ['red'] } })
    const d = await createInstance(c, 'third', 'xsuaa', 'application')

    const q = async (params: Record<string, string>) => {
      const r = await c.get('/v1/service_instances', { params })
      return r
    }
    const names = async (params: Record<string, string>) => {
      const r = await q(params)
      expect(r.status).toBe(200)
      return r.data.items.map((i: any) => i.name)
    }

    expect(await names({ fieldQuery: "name eq 'it''s'" })).toEqual(["it's"])
    expect(await names({ fieldQuery: "name in ('plain', 'third')" })).toEqual(['plain', 'third'])
    expect(await names({ fieldQuery: "name notin ('plain','third')" })).toEqual(["it's"])
    expect(await names({ fieldQuery: "name ne 'plain'" })).toEqual(["it's", 'third'])
    expect(await names({ fieldQuery: `service_plan_id eq '${planId('xsuaa', 'application')}' and name ne 'third'` })).toEqual(["it's"])
    expect(await names({ fieldQuery: `context/subaccount_id eq '${DEV_SUBACCOUNT_1_ID}'` })).toHaveLength(3)
    expect(await names({ fieldQuery: 'ready eq true' })).toHaveLength(3)
    expect(await names({ fieldQuery: "name contains 'ir'" })).toEqual(['third'])
    expect(await names({ fieldQuery: `created_at gt 2000-01-01T00:00:00Z` })).toHaveLength(3)

    expect(await names({ labelQuery: "team eq 'green'" })).toEqual(["it's"])
    expect(await names({ labelQuery: "team in ('red', 'green')" })).toEqual(["it's", 'plain'])
    expect(await names({ labelQuery: "team eq 'blue' and env eq 'dev'" })).toEqual(["it's"])
    expect(await names({ labelQuery: "team notin ('red')" })).toEqual(["it's"])
    expect(await names({ labelQuery: `subaccount_id eq '${DEV_SUBACCOUNT_1_ID}'` })).toHaveLength(3)
    expect(await names({ fieldQuery: "name ne 'x'", labelQuery: "team eq 'red'" })).toEqual(['plain'])

    for (const bad of ["name eq plain", "name eq 'unterminated", "name equals 'x'", "name eq 'a' or name eq 'b'", "nosuchfield eq 'x'", "name in 'a'"]) {
      const r = await q({ fieldQuery: bad })
      expect([bad, r.status]).toEqual([bad, 400])
    }
    expect((await q({ labelQuery: "team eq 'a' and team eq 'b'" })).status).toBe(400)
    expect((await q({ labelQuery: 'team gt 5' })).status).toBe(400)
    expect([a.id, b.id, d.id]).toHaveLength(3)
  })

  test('binding list with fieldQuery by instance id', async () => {
    const e = await start()
    const c = await smClient(e)
    const i1 = await createInstance(c, 'one')
    const i2 = await createInstance(c, 'two')
    await createBinding(c, i1.id, 'k1')
    await createBinding(c, i2.id, 'k1')
    const r = await c.get('/v1/service_bindings', { params: { fieldQuery: `service_instance_id eq '${i2.id}' and name eq 'k1'` } })
    expect(r.data.num_items).toBe(1)
    expect(r.data.items[0].service_instance_id).toBe(i2.id)
    expect(r.data.items[0].credentials.clientid).toMatch(/^sb-/)
  })
})

describe('labels', () => {
  test('PATCH label operations add, add_values, remove (key and values), remove_values; protected label', async () => {
    const e = await start()
    const c = await smClient(e)
    const inst = await createInstance(c, 'lbl', 'xsuaa', 'application', { labels: { a: ['1', '2'], b: ['x'] } })
    const patch = async (ops: unknown[]) => c.patch(`/v1/service_instances/${inst.id}`, { labels: ops })

    let r = await patch([
      { op: 'add', key: 'c', values: ['new'] },
      { op: 'add_values', key: 'a', values: ['3', '1'] },
      { op: 'remove', key: 'b' }
    ])
    expect(r.status).toBe(200)
    expect(r.data.labels).toEqual({ a: ['1', '2', '3'], c: ['new'], subaccount_id: [DEV_SUBACCOUNT_1_ID] })

    r = await patch([{ op: 'remove_values', key: 'a', values: ['1', '3'] }, { op: 'remove', key: 'c', values: ['new'] }])
    expect(r.data.labels).toEqual({ a: ['2'], subaccount_id: [DEV_SUBACCOUNT_1_ID] })

    // atomic: a bad op rejects the whole PATCH
    r = await patch([{ op: 'add', key: 'z', values: ['1'] }, { op: 'replace', key: 'a', values: ['9'] }])
    expect(r.status).toBe(400)
    r = await patch([{ op: 'add', key: 'subaccount_id', values: ['other'] }])
    expect(r.status).toBe(400)
    const now = await c.get(`/v1/service_instances/${inst.id}`)
    expect(now.data.labels).toEqual({ a: ['2'], subaccount_id: [DEV_SUBACCOUNT_1_ID] })

    const key = await createBinding(c, inst.id, 'k', { labels: { owner: ['me'] } })
    const bp = await c.patch(`/v1/service_bindings/${key.id}`, { name: 'k-renamed', labels: [{ op: 'add', key: 'owner', values: ['you'] }] })
    expect(bp.status).toBe(200)
    expect(bp.data.name).toBe('k-renamed')
    expect(bp.data.labels.owner).toEqual(['me', 'you'])
    const bad = await c.patch(`/v1/service_bindings/${key.id}`, { parameters: { a: 1 } })
    expect(bad.status).toBe(400)
  })
})

describe('fault injection', () => {
  test('status fault with Retry-After and custom body, times, method and path filters', async () => {
    const e = await start()
    const c = await smClient(e)
    e.addFault({ method: 'GET', path: '/v1/service_instances', status: 429, retryAfter: '2024-11-11 14:59:33 +0000 UTC', times: 2 })
    e.addFault({ method: 'GET', path: /^\/v1\/service_plans/, status: 503, body: { description: 'busy' } })

    expect((await c.get('/v1/service_plans/x')).data).toEqual({ description: 'busy' })
    const r1 = await c.get('/v1/service_instances')
    expect(r1.status).toBe(429)
    expect(r1.headers['retry-after']).toBe('2024-11-11 14:59:33 +0000 UTC')
    expect(r1.data.error).toBe('TooManyRequests')
    expect((await c.post('/v1/service_instances', {})).status).toBe(400) // POST not matched
    expect((await c.get('/v1/service_instances')).status).toBe(429)
    expect((await c.get('/v1/service_instances')).status).toBe(200)

    e.addFault({ status: 500 })
    e.clearFaults()
    expect((await c.get('/v1/service_instances')).status).toBe(200)
  })

  test('dropResponse performs the action but the client sees a socket error', async () => {
    const e = await start()
    const c = await smClient(e)
    e.addFault({ method: 'POST', path: '/v1/service_instances', dropResponse: true })
    await expectSocketError(c.post('/v1/service_instances?async=false', { name: 'lost', service_offering_name: 'xsuaa', service_plan_name: 'application' }))
    const list = await c.get('/v1/service_instances', { params: { fieldQuery: "name eq 'lost'" } })
    expect(list.data.num_items).toBe(1)
    expect(list.data.items[0].ready).toBe(true)
    const rec = e.calls.find((x) => x.method === 'POST' && x.path === '/v1/service_instances')!
    expect(rec.status).toBe(201)
    expect(rec.fault).toBe('dropResponse')
  })

  test('resetConnection destroys the socket before anything happens', async () => {
    const e = await start()
    const c = await smClient(e)
    e.addFault({ method: 'POST', path: '/v1/service_instances', resetConnection: true })
    await expectSocketError(c.post('/v1/service_instances?async=false', { name: 'never', service_offering_name: 'xsuaa', service_plan_name: 'application' }))
    expect(e.instances()).toHaveLength(0)
    const rec = e.calls.find((x) => x.method === 'POST' && x.path === '/v1/service_instances')!
    expect(rec.status).toBe(0)
    expect(rec.fault).toBe('resetConnection')
    // next call is unaffected
    await createInstance(c, 'afterwards')
  })

  test('operationMs fault override keeps one operation in progress longer', async () => {
    const e = await start()
    const c = await smClient(e)
    e.addFault({ method: 'POST', operationMs: 500 })
    const r = await c.post('/v1/service_instances?async=true', { name: 'slow', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect((await c.get(r.headers['location'])).data.state).toBe('in progress')
    expect((await poll(c, r.headers['location'])).state).toBe('succeeded')
  })

  test('rateLimit: exceeding perMinute gives 429 with Retry-After seconds', async () => {
    const e = await start({ rateLimit: { perMinute: 3, instanceCreatesPerMinute: 1 } })
    const c = await smClient(e)
    const c2 = await smClient(e, 2)
    expect((await c.post('/v1/service_instances', { name: 'r1', service_offering_name: 'xsuaa', service_plan_name: 'application' })).status).toBe(201)
    const second = await c.post('/v1/service_instances', { name: 'r2', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect(second.status).toBe(429)
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(Number(second.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect((await c.get('/v1/service_instances')).status).toBe(200)
    expect((await c.get('/v1/service_instances')).status).toBe(200)
    expect((await c.get('/v1/service_instances')).status).toBe(429)
    // per tenant
    expect((await c2.get('/v1/service_instances')).status).toBe(200)
  })
})

describe('binding credentials', () => {
  test('credential shapes per offering, client registered at the token endpoint, revokeBinding', async () => {
    const e = await start()
    const c = await smClient(e)
    const make = async (offering: string, plan: string) => {
      const inst = await createInstance(c, `${offering}-inst`, offering, plan)
      const key = await createBinding(c, inst.id, `${offering}-key`, { parameters: { note: offering } })
      expect(key.ready).toBe(true)
      return key
    }

    const xs = (await make('xsuaa', 'application')).credentials
    expect(xs).toMatchObject({ url: e.url, 'credential-type': 'binding-secret', tenantid: DEV_SUBACCOUNT_1_ID, identityzone: 'dev-subaccount-1' })
    expect(typeof xs.uaadomain).toBe('string')
    expect(xs.xsappname).toBe('xsuaa-inst!t2187')
    expect(xs.clientid).toMatch(/^sb-[0-9a-f-]{36}!b\d+\|xsuaa-inst!t2187$/)

    const ia = (await make('integration-assessment', 'default')).credentials
    expect(ia).toMatchObject({ url: e.url })
    expect(ia.entities).toMatch(/^https:\/\//)
    expect(typeof ia.clientsecret).toBe('string')

    const calm = (await make('cloudalm-api', 'standard')).credentials
    expect(calm.endpoints.Api).toMatch(/^https:\/\//)
    expect(calm.uaa).toMatchObject({ url: e.url })
    expect(calm.clientid).toBeUndefined()
    expect(typeof calm.uaa.clientid).toBe('string')

    const ai = (await make('aicore', 'extended')).credentials
    expect(ai.serviceurls.AI_API_URL).toMatch(/^https:\/\//)
    expect(ai).toMatchObject({ url: e.url })
    expect(typeof ai.clientid).toBe('string')

    const afcKey = await make('advanced-financial-closing', 'api-standard')
    const afc = afcKey.credentials
    expect(afc.url).toMatch(/^https:\/\//)
    expect(afc.url).not.toBe(e.url)
    expect(afc.uaa).toMatchObject({ url: e.url })

    const ids = [xs.clientid, ia.clientid, calm.uaa.clientid, ai.clientid, afc.uaa.clientid]
    expect(new Set(ids).size).toBe(5)

    // the consumer can verify a key at the token endpoint
    const t = await tokenFor(e, afc.uaa.clientid, afc.uaa.clientsecret)
    expect(t.status).toBe(200)
    // but a binding token is no SM token
    const smWithBindingToken = await http0.get(`${e.url}/v1/service_instances`, { headers: { Authorization: `Bearer ${t.data.access_token}` } })
    expect(smWithBindingToken.status).toBe(403)

    expect((await c.get(`/v1/service_bindings/${afcKey.id}/parameters`)).data).toEqual({ note: 'advanced-financial-closing' })

    e.revokeBinding(afcKey.id)
    const revoked = await tokenFor(e, afc.uaa.clientid, afc.uaa.clientsecret)
    expect(revoked.status).toBe(401)
    expect(revoked.data.error).toBe('invalid_client')

    // deleting a binding also stops its client
    const aiKey = (await c.get('/v1/service_bindings', { params: { fieldQuery: "name eq 'aicore-key'" } })).data.items[0]
    expect((await c.delete(`/v1/service_bindings/${aiKey.id}`)).status).toBe(200)
    expect((await tokenFor(e, ai.clientid, ai.clientsecret)).status).toBe(401)
  })

  test('async binding: no credentials until the operation succeeded; unsupported credential-type is 400', async () => {
    const e = await start({ operationMs: 300 })
    const c = await smClient(e)
    e.addFault({ method: 'POST', path: '/v1/service_instances', operationMs: 0 })
    const inst = await c.post('/v1/service_instances?async=true', { name: 'i', service_offering_name: 'xsuaa', service_plan_name: 'application' })
    expect((await poll(c, inst.headers['location'])).state).toBe('succeeded')
    const id = /service_instances\/([^/]+)\//.exec(inst.headers['location'])![1]

    const r = await c.post('/v1/service_bindings?async=true', { name: 'k', service_instance_id: id })
    expect(r.status).toBe(202)
    expect(r.headers['location']).toMatch(/^\/v1\/service_bindings\/[0-9a-f-]+\/operations\/[0-9a-f-]+$/)
    const bindingId = /service_bindings\/([^/]+)\//.exec(r.headers['location'])![1]
    const pending = await c.get(`/v1/service_bindings/${bindingId}`)
    expect(pending.data.ready).toBe(false)
    expect(pending.data.credentials).toBeUndefined()
    expect((await poll(c, r.headers['location'])).state).toBe('succeeded')
    const done = await c.get(`/v1/service_bindings/${bindingId}`)
    expect(done.data.ready).toBe(true)
    expect(typeof done.data.credentials.clientsecret).toBe('string')

    const x509 = await c.post('/v1/service_bindings?async=false', { name: 'cert', service_instance_id: id, parameters: { 'credential-type': 'x509' } })
    expect(x509.status).toBe(400)
  })
})

describe('recording and admin API', () => {
  test('calls are recorded with status and subaccount, secrets redacted', async () => {
    const e = await start()
    const c = await smClient(e)
    await c.get('/v1/service_instances', { params: { max_items: 5 } })
    await tokenFor(e, DEV_TENANT_2_CLIENT_ID, 'wrong-secret')

    const [tok, list, bad] = e.calls
    expect(tok).toMatchObject({ method: 'POST', path: '/oauth/token', status: 200, subaccountId: DEV_SUBACCOUNT_1_ID })
    expect(tok.body).toEqual({ grant_type: 'client_credentials', client_id: DEV_TENANT_1_CLIENT_ID, client_secret: '***' })
    expect(list).toMatchObject({ method: 'GET', path: '/v1/service_instances', query: { max_items: '5' }, status: 200, subaccountId: DEV_SUBACCOUNT_1_ID })
    expect(bad.status).toBe(401)
    expect(bad.body.client_secret).toBe('***')
    expect(JSON.stringify(e.calls)).not.toContain(DEV_TENANT_1_CLIENT_SECRET)
    expect(JSON.stringify(e.calls)).not.toContain('wrong-secret')
    expect(typeof tok.at).toBe('number')
  })

  test('plant, remove, reset', async () => {
    const e = await start()
    const c = await smClient(e)
    const foreign = e.plant('instance', { name: 'made-elsewhere', offering: 'cloudalm-api', plan: 'standard', labels: { cap_owner: ['x'] } })
    expect(foreign.ready).toBe(true)
    const key = e.plant('binding', { service_instance_id: foreign.id, name: 'k' })
    expect(typeof key.credentials.uaa.clientsecret).toBe('string')
    expect((await tokenFor(e, key.credentials.uaa.clientid, key.credentials.uaa.clientsecret)).status).toBe(200)

    const found = await c.get('/v1/service_instances', { params: { labelQuery: "cap_owner eq 'x'" } })
    expect(found.data.items.map((i: any) => i.id)).toEqual([foreign.id])
    expect(e.bindings(DEV_SUBACCOUNT_1_ID)).toHaveLength(1)

    const other = e.plant('instance', { name: 'sub2-thing', subaccount_id: DEV_SUBACCOUNT_2_ID, offering: 'xsuaa', plan: 'application' })
    expect(e.instances(DEV_SUBACCOUNT_2_ID).map((i) => i.id)).toEqual([other.id])

    e.remove('instance', foreign.id)
    expect((await c.get(`/v1/service_instances/${foreign.id}`)).status).toBe(404)
    expect(e.bindings()).toHaveLength(0)
    expect((await tokenFor(e, key.credentials.uaa.clientid, key.credentials.uaa.clientsecret)).status).toBe(401)

    e.addFault({ status: 500 })
    e.reset()
    expect(e.calls).toHaveLength(0)
    expect(e.instances()).toHaveLength(0)
    expect((await c.get('/v1/service_instances')).status).toBe(200) // no fault left, token still valid
  })

  test('requestLatencyMs delays responses', async () => {
    const e = await start({ requestLatencyMs: 150 })
    const t0 = Date.now()
    await tokenFor(e, DEV_TENANT_1_CLIENT_ID, DEV_TENANT_1_CLIENT_SECRET)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
  })
})
