import { API, PLANS, SUB1, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { admin, emu } = useApp()

const INSTANCES = '/v1/service_instances'
const BINDINGS = '/v1/service_bindings'
const postsNamed = (name: string) => emu.calls.filter(c => c.method === 'POST' && c.body?.name === name)

async function provision(name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready', 'Failed'))
}

describe('Service Manager faults end in the right state, with one object in SM', () => {
  test('a burst of 503s, then success: Ready, one instance in SM, the attempts recorded', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, status: 503, times: 3 })
    const inst = await provision('burst-503')
    expect(inst.state_code).toBe('Ready')
    expect(emu.instances().filter(i => i.name === 'burst-503')).toHaveLength(1)
    expect(postsNamed('burst-503').map(c => c.status)).toEqual([503, 503, 503, 202])
    const op = (await admin.get(`${API}/Operations(${inst.lastOperation_ID})`)).data
    expect(op.state_code).toBe('succeeded')
    expect(op.attempts).toBe(3)
  })

  test('a failed SM operation: row Failed with the message SM gave', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, failOperation: { error: 'BrokerError', description: 'Quota for plan application exceeded' } })
    const inst = await provision('fails-remotely')
    expect(inst.state_code).toBe('Failed')
    expect(inst.lastError).toContain('Quota for plan application exceeded')
    const op = (await admin.get(`${API}/Operations(${inst.lastOperation_ID})`)).data
    expect(op.state_code).toBe('failed')
    expect(op.error).toContain('Quota for plan application exceeded')
    // polling stopped at 'failed': no POST was repeated
    expect(postsNamed('fails-remotely')).toHaveLength(1)
  })

  test('a failed key operation reported as an error array: key Failed with the first error', async () => {
    const inst = await provision('key-fails')
    emu.addFault({ method: 'POST', path: BINDINGS, failOperation: { error: 'BrokerError', description: 'credential-types does not allow x509' }, errorsAsArray: true })
    // async bindings only produce operations; force one by faulting the answer to async
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'key-that-fails' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Failed')
    expect(key.lastError).toContain('credential-types does not allow x509')
  })

  test('429 with Retry-After is honoured and does not fail the step', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, status: 429, retryAfter: '2', times: 1 })
    const inst = await provision('rate-limited')
    expect(inst.state_code).toBe('Ready')
    const [first, second] = postsNamed('rate-limited')
    expect(first.status).toBe(429)
    expect(second.at - first.at).toBeGreaterThanOrEqual(1900)
    expect(emu.instances().filter(i => i.name === 'rate-limited')).toHaveLength(1)
  })

  test('a create whose response is lost is adopted, not duplicated', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, dropResponse: true })
    const inst = await provision('lost-answer')
    expect(inst.state_code).toBe('Ready')
    expect(postsNamed('lost-answer')).toHaveLength(1)
    const inSm = emu.instances().filter(i => i.name === 'lost-answer')
    expect(inSm).toHaveLength(1)
    expect(inSm[0].id).toBe(inst.smId)
    // found again by our record's label
    expect(emu.calls.some(c => c.method === 'GET' && c.path === INSTANCES && String(c.query.labelQuery).includes(inst.ID))).toBe(true)
  })

  test('a key create whose response is lost is adopted, not duplicated', async () => {
    const inst = await provision('lost-key-answer')
    emu.addFault({ method: 'POST', path: BINDINGS, dropResponse: true })
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'lost-key' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    expect(emu.bindings().filter(b => b.name === 'lost-key')).toHaveLength(1)
    expect(postsNamed('lost-key')).toHaveLength(1)
  })

  test('a connection reset before SM acted: retried, one instance', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, resetConnection: true, times: 2 })
    const inst = await provision('reset-twice')
    expect(inst.state_code).toBe('Ready')
    expect(emu.instances().filter(i => i.name === 'reset-twice')).toHaveLength(1)
  })

  test('a name already taken in SM by someone else: Failed with a clear message, nothing adopted', async () => {
    emu.plant('instance', { name: 'someone-elses', service_plan_id: 'e246c73a-869c-50d8-b1a0-3d4befa29b22', subaccountId: emu.tenants[0].subaccountId })
    const inst = await provision('someone-elses')
    expect(inst.state_code).toBe('Failed')
    expect(inst.lastError).toMatch(/already holds an instance named "someone-elses"/)
    expect(emu.instances().filter(i => i.name === 'someone-elses')).toHaveLength(1)
  })

  test('slow operations are polled until they finish', async () => {
    emu.addFault({ method: 'POST', path: INSTANCES, operationMs: 1500 })
    const inst = await provision('slow-op')
    expect(inst.state_code).toBe('Ready')
    const polls = emu.calls.filter(c => c.method === 'GET' && c.path.startsWith(`${INSTANCES}/${inst.smId}/operations/`))
    expect(polls.length).toBeGreaterThan(1)
    expect(polls.at(-1)!.status).toBe(200)
  })

  test('a synchronous call that SM fails answers 503 with a message code, not 500', async () => {
    emu.addFault({ method: 'GET', path: INSTANCES, status: 500, times: 20 })
    const res = await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
    expect([res.status, res.data.error?.code]).toEqual([503, 'SM_REQUEST_FAILED'])
    expect(res.data.error.message).toContain('Service Manager answered with an error')
    // production hides the messages of 5xx answers, but keeps this code: clients can tell what happened
    const env = process.env.NODE_ENV
    try {
      process.env.NODE_ENV = 'production'
      const prod = await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})
      expect([prod.status, prod.data.error?.code]).toEqual([503, 'SM_REQUEST_FAILED'])
    } finally {
      process.env.NODE_ENV = env
    }
    emu.clearFaults()
    expect((await admin.post(`${API}/Subaccounts(${SUB1})/sweep`, {})).status).toBe(200)
  })

  test('a refresh is the reconciler\'s: answered at once, retried while SM fails, then it records what SM says', async () => {
    const inst = await provision('refresh-me')
    emu.addFault({ method: 'GET', path: `${INSTANCES}/${inst.smId}`, status: 500, times: 3 })
    const res = await admin.post(`${API}/ServiceInstances(${inst.ID})/refresh`, {})
    expect(res.status).toBe(200)
    expect(res.data.generation).toBe(inst.generation + 1)
    const done = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, r => r.observedGeneration === r.generation)
    expect([done.state_code, done.lastError]).toEqual(['Ready', null])
    const ops = await admin.get(`${API}/Operations?$filter=${encodeURIComponent(`instance_ID eq ${inst.ID} and type eq 'refresh'`)}`)
    expect(ops.data.value).toMatchObject([{ state_code: 'succeeded', attempts: expect.any(Number) }])
    expect(ops.data.value[0].attempts).toBeGreaterThanOrEqual(1)

    // gone from SM behind our back: the refresh says so
    emu.remove('instance', inst.smId)
    await admin.post(`${API}/ServiceInstances(${inst.ID})/refresh`, {})
    const failed = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Failed'))
    expect(failed.lastError).toMatch(/no longer exists in Service Manager/)
  })

  test('an instance already gone from SM when deleted counts as deleted (404 = done)', async () => {
    const inst = await provision('vanishes')
    emu.remove('instance', inst.smId)
    expect((await admin.delete(`${API}/ServiceInstances(${inst.ID})`)).status).toBe(204)
    const gone = await waitFor(admin, `${API}/ServiceInstances(${inst.ID})`, stateIs('Deleted', 'Failed'))
    expect(gone.state_code).toBe('Deleted')
  })
})
