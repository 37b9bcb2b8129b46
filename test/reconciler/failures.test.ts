/**
 * Failure is a state: a step that keeps failing for a reason retrying cannot fix ends Failed with a message,
 * never stuck; a rotation whose successor does not work stops and keeps the old key and its registrations; a
 * rotation whose successor works hands the registrations over and retires the old key after the overlap.
 */
import type { ServiceManagerClient as Client_ } from '../../srv/service-manager/client'
import { API, PLANS, SUB1, quietFor, stateIs, waitFor } from '../helpers'
import { useApp } from '../support/app'

// set before anything loads the app's modules (imports of srv/ are dynamic below), so cds.env sees it
process.env.CDS_CONFIG = JSON.stringify({
  provisioning: { pollInitial: '50ms', pollMax: '300ms', retryMax: '200ms', maxUnexpectedErrors: 3, rotationOverlap: '1500ms' }
})
const { admin, emu } = useApp()
afterAll(() => delete process.env.CDS_CONFIG)

let ServiceManagerClient: typeof Client_

beforeAll(async () => {
  ;({ ServiceManagerClient } = await import('../../srv/service-manager/client'))
})

afterEach(() => {
  jest.restoreAllMocks()
})

/** Objects that are not final for their generation and have neither a live lease nor a scheduled attempt. */
async function stranded() {
  const now = new Date().toISOString()
  const open = (entity: string) =>
    SELECT.from(entity)
      .columns('ID', 'name', 'state_code')
      .where`(state_code in ('Creating', 'Deleting') or generation <> observedGeneration) and reconcileAt is null and (leaseUntil is null or leaseUntil < ${now})`
  return [...(await open('btp.provisioning.ServiceInstances')), ...(await open('btp.provisioning.ServiceKeys'))]
}

async function readyInstance(name: string) {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.cloudAlmApi, name })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
}

async function readyKey(instance_ID: string, name: string) {
  const res = await admin.post(`${API}/ServiceKeys`, { instance_ID, name })
  expect(res.status).toBe(201)
  return waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready'))
}

describe('failure is a state', () => {
  test('a step that fails with an error that is not Service Manager\'s ends Failed with a message after a few attempts', async () => {
    const spy = jest.spyOn(ServiceManagerClient.prototype, 'createInstance').mockRejectedValue(new TypeError('the request could not be built'))
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'never-sent' })
    const row = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Failed', 'Ready'))
    expect(row.state_code).toBe('Failed')
    expect(row.lastError).toBe('The step failed unexpectedly: the request could not be built')
    expect(row).toMatchObject({ reconcileAt: null, observedGeneration: row.generation })
    expect(spy).toHaveBeenCalledTimes(3)
    const op = (await admin.get(`${API}/Operations(${row.lastOperation_ID})`)).data
    expect(op).toMatchObject({ state_code: 'failed', error: row.lastError, attempts: 2 })
    expect(await stranded()).toEqual([])

    // the user's next intent goes on from there: nothing reached SM, so the delete ends at once
    spy.mockRestore()
    expect((await admin.delete(`${API}/ServiceInstances(${row.ID})`)).status).toBe(204)
    await waitFor(admin, `${API}/ServiceInstances(${row.ID})`, stateIs('Deleted'))
    expect(emu.instances().filter(i => i.name === 'never-sent')).toEqual([])
  })

  test('a result that cannot be written is tried a few times, then the object ends Failed (never goes round for ever)', async () => {
    const verification = await import('../../srv/verification')
    const spy = jest.spyOn(verification, 'saveVerification').mockRejectedValue(new Error('the verification could not be stored'))
    const inst = await readyInstance('unwritable-result')
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: inst.ID, name: 'unwritable-key' })
    const key = await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Failed', 'Ready'))
    expect(key).toMatchObject({ state_code: 'Failed', lastError: 'The step failed unexpectedly: the verification could not be stored', reconcileAt: null })
    expect(spy).toHaveBeenCalledTimes(3)
    expect((await admin.get(`${API}/Operations(${key.lastOperation_ID})`)).data).toMatchObject({ state_code: 'failed' })
    expect(await stranded()).toEqual([])
  })

  test('an SM error that retrying cannot fix ends the step Failed with SM\'s message at once', async () => {
    emu.addFault({ method: 'POST', path: '/v1/service_instances', status: 400, body: { error: 'BadRequest', description: 'the parameters are not valid for this plan' } })
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'refused-by-sm' })
    const row = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Failed', 'Ready'))
    expect(row).toMatchObject({ state_code: 'Failed', lastError: 'the parameters are not valid for this plan', attempts: 0 })
    expect(await stranded()).toEqual([])
  })
})

describe('rotation', () => {
  let instanceId: string

  beforeAll(async () => {
    instanceId = (await readyInstance('rotation-home')).ID
  })

  const register = (serviceKey_ID: string, tenant: string) =>
    admin.post(`${API}/Registrations`, { serviceKey_ID, consumerType: 'cloud-alm-landscape', tenant })

  test('a successor that does not work stops the rotation: the old key stays with its registrations', async () => {
    const old = await readyKey(instanceId, 'rotate-broken')
    const reg = await register(old.ID, 'tenant-broken')
    expect(reg.status).toBe(201)
    // the successor is created in SM, but its token endpoint refuses it (the SM client's own token is cached)
    emu.addFault({ method: 'POST', path: '/oauth/token', status: 401, body: { error: 'invalid_client', error_description: 'Bad credentials' } })
    const rotated = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    // the rotation stops: the successor is deleted again
    const successor = await waitFor(admin, `${API}/ServiceKeys(${rotated.data.ID})`, stateIs('Ready', 'Deleted'))
    expect(successor).toMatchObject({ state_code: 'Deleted', desired: 'absent', verification_code: 'failed' })
    expect(emu.bindings().some(b => b.id === successor.smId)).toBe(false)

    // longer than the overlap: nothing moved, nothing retired
    await quietFor(2000)
    const after = (await admin.get(`${API}/ServiceKeys(${old.ID})`)).data
    expect(after).toMatchObject({ state_code: 'Ready', retireAt: null, rotatedTo_ID: null })
    expect(after.rotationError).toMatch(/^The rotation stopped: the new key does not work/)
    expect((await admin.get(`${API}/Registrations(${reg.data.ID})`)).data).toMatchObject({ serviceKey_ID: old.ID, status: 'Active' })
    expect(emu.bindings().some(b => b.id === old.smId)).toBe(true)
  })

  test('a successor that works takes the registrations over; the old key is retired after the overlap', async () => {
    const old = await readyKey(instanceId, 'rotate-good')
    const reg = await register(old.ID, 'tenant-good')
    const rotated = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    const successor = await waitFor(admin, `${API}/ServiceKeys(${rotated.data.ID})`, stateIs('Ready', 'Failed'))
    expect(successor).toMatchObject({ state_code: 'Ready', verification_code: 'ok', lastError: null, rotatedFrom_ID: old.ID })
    // handed over in the transaction that made the successor Ready
    expect((await admin.get(`${API}/Registrations(${reg.data.ID})`)).data).toMatchObject({ serviceKey_ID: successor.ID, status: 'Active' })
    const waiting = (await admin.get(`${API}/ServiceKeys(${old.ID})`)).data
    expect(waiting.state_code).toBe('Ready')
    expect(Date.parse(waiting.retireAt)).toBeGreaterThan(Date.now())

    const retired = await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'), 15_000)
    expect(retired.state_code).toBe('Deleted')
    const op = (await admin.get(`${API}/Operations(${retired.lastOperation_ID})`)).data
    expect(op).toMatchObject({ type: 'retire', state_code: 'succeeded' })
    expect(emu.bindings().some(b => b.id === old.smId)).toBe(false)
    expect(await stranded()).toEqual([])
  })

  test('a successor rotated again at once gets a name of its own (SM refuses a second key of one name)', async () => {
    const first = await readyKey(instanceId, 'rotate-twice')
    const one = await admin.post(`${API}/ServiceKeys(${first.ID})/rotate`, {})
    await waitFor(admin, `${API}/ServiceKeys(${one.data.ID})`, stateIs('Ready'))
    const two = await admin.post(`${API}/ServiceKeys(${one.data.ID})/rotate`, {})
    expect(two.status).toBe(200)
    expect(two.data.name).not.toBe(one.data.name)
    const second = await waitFor(admin, `${API}/ServiceKeys(${two.data.ID})`, stateIs('Ready', 'Failed'))
    expect(second).toMatchObject({ state_code: 'Ready', lastError: null })
    expect(emu.bindings().filter(b => b.name === second.name)).toHaveLength(1)
  })

  test('deleting the old key during the overlap wins over the retirement: one delete, no error', async () => {
    const old = await readyKey(instanceId, 'rotate-then-delete')
    const rotated = await admin.post(`${API}/ServiceKeys(${old.ID})/rotate`, {})
    await waitFor(admin, `${API}/ServiceKeys(${rotated.data.ID})`, stateIs('Ready'))
    expect((await admin.delete(`${API}/ServiceKeys(${old.ID})`)).status).toBe(204)
    const gone = await waitFor(admin, `${API}/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'))
    expect(gone.state_code).toBe('Deleted')
    const op = (await admin.get(`${API}/Operations(${gone.lastOperation_ID})`)).data
    expect(op).toMatchObject({ type: 'delete', state_code: 'succeeded' })
    await quietFor(2000) // past the overlap: the retirement finds nothing left to do
    expect((await admin.get(`${API}/ServiceKeys(${old.ID})`)).data).toMatchObject({ state_code: 'Deleted', lastOperation_ID: gone.lastOperation_ID })
  })
})
