/**
 * Crash-resume: the app runs as a child process on a SQLite file and talks to a standalone emulator whose
 * state survives the app. The app is killed with SIGKILL at the awkward points of a step and restarted on the
 * same database; the step must end right (Ready, or Deleted), with exactly one object in SM for each record
 * (no duplicate, no orphan). Then the per-step deadline: an SM operation that never finishes ends the step
 * Failed at the configured deadline.
 */
import { PLANS, SUB1, eventually } from '../helpers'
import { BINDINGS, INSTANCES, recordOf, stateIs } from './support'
import { useRestartableApp } from './apps'

jest.setTimeout(90_000)

/** Short timings; leases as by default (on SQLite a restarted process takes over its predecessor's at once). */
const PROVISIONING = { pollInitial: '100ms', pollMax: '500ms', pollSlice: '1s', retryMax: '1s', stepDeadline: '2m' }

const { app, emu, restart } = useRestartableApp('crash', PROVISIONING)

afterEach(() => emu.clearFaults())

async function create(name: string) {
  const res = await app.post('/ServiceInstances', { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name })
  expect(res.status).toBe(201)
  expect(res.data.state_code).toBe('Creating')
  return res.data.ID as string
}

async function provision(name: string) {
  const ID = await create(name)
  const row = await app.waitFor(`/ServiceInstances(${ID})`, stateIs('Ready', 'Failed'))
  expect(row.state_code).toBe('Ready')
  return row
}

async function smInstances(pred: (i: any) => boolean = () => true) {
  return (await emu.state({ calls: false })).instances.filter(pred)
}

async function calls(pred: (c: any) => boolean) {
  return (await emu.state()).calls.filter(pred)
}

const postOf = (name: string) => (c: any) => c.method === 'POST' && c.path === INSTANCES && c.body?.name === name
const pollOf = (smId: string) => (c: any) => c.method === 'GET' && c.path.startsWith(`${INSTANCES}/${smId}/operations/`)

/** Polls until `check` holds. */
const until = (check: () => Promise<boolean>, what: string) => eventually(check, { what, timeout: 10_000, interval: 50 })

/** After the restart: the record is Ready and SM holds exactly one instance for it, the one we recorded. */
async function expectReadyAndOneInSm(name: string, ID: string) {
  const row = await app.waitFor(`/ServiceInstances(${ID})`, stateIs('Ready', 'Failed'), 60_000)
  expect(row).toMatchObject({ state_code: 'Ready', lastError: null })
  const inSm = await smInstances(i => i.name === name)
  expect(inSm).toHaveLength(1)
  expect(inSm[0]).toMatchObject({ id: row.smId, ready: true })
  expect(recordOf(inSm[0])).toBe(ID)
  const op = (await app.get(`/Operations(${row.lastOperation_ID})`)).data
  expect(op.state_code).toBe('succeeded')
  return row
}

async function expectDeletedAndGoneFromSm(ID: string) {
  const row = await app.waitFor(`/ServiceInstances(${ID})`, stateIs('Deleted', 'Failed'), 60_000)
  expect(row).toMatchObject({ state_code: 'Deleted', lastError: null })
  expect(await smInstances(i => recordOf(i) === ID)).toHaveLength(0)
}

describe('a process killed in the middle of a step resumes after a restart on the same database', () => {
  // first: a fresh process has no token yet, so its first SM call waits for the (slow) token endpoint
  test('killed after the record, before the SM call (token request in flight): Ready, one instance', async () => {
    await emu.addFault({ method: 'POST', path: '/oauth/token', delayResponseMs: 60_000 })
    const ID = await create('crash-before-call')
    await emu.waitForCall(c => c.path === '/oauth/token', 'the token request')
    await app.kill()
    expect(await smInstances(i => i.name === 'crash-before-call')).toHaveLength(0)
    expect(await calls(postOf('crash-before-call'))).toHaveLength(0)

    await restart()
    await expectReadyAndOneInSm('crash-before-call', ID)
    expect(await calls(postOf('crash-before-call'))).toHaveLength(1)
  })

  test('killed after SM created the instance, before its answer was stored: adopted, not duplicated', async () => {
    await emu.addFault({ method: 'POST', path: INSTANCES, delayResponseMs: 60_000 })
    const ID = await create('crash-after-call')
    await emu.waitForCall(postOf('crash-after-call'), 'the POST')
    // SM has acted (the answer is what is delayed)
    await until(async () => (await smInstances(i => recordOf(i) === ID)).length === 1, 'the instance in SM')
    await app.kill()

    await restart()
    const row = await expectReadyAndOneInSm('crash-after-call', ID)
    // no second POST: found by our record's label and adopted
    expect(await calls(postOf('crash-after-call'))).toHaveLength(1)
    const lookups = await calls(c => c.method === 'GET' && c.path === INSTANCES && String(c.query.labelQuery ?? '').includes(ID))
    expect(lookups.length).toBeGreaterThanOrEqual(1)
    expect(row.smId).toBe((await smInstances(i => recordOf(i) === ID))[0].id)
  })

  test('killed while polling a long SM operation: polling resumes, Ready, one instance', async () => {
    await emu.addFault({ method: 'POST', path: INSTANCES, operationMs: 8_000 })
    const ID = await create('crash-polling')
    const [inst] = await eventually(() => smInstances(i => recordOf(i) === ID), { what: 'the instance in SM', until: found => found.length > 0, timeout: 10_000, interval: 50 })
    await emu.waitForCall(pollOf(inst.id), 'a poll of the operation')
    const killedAt = Date.now()
    await app.kill()
    expect((await smInstances(i => i.id === inst.id))[0].ready).toBe(false)

    await restart()
    const row = await expectReadyAndOneInSm('crash-polling', ID)
    expect(row.smId).toBe(inst.id)
    expect(await calls(postOf('crash-polling'))).toHaveLength(1)
    // the restarted process polled the operation it had recorded, until it succeeded
    const polls = (await calls(pollOf(inst.id))).filter(c => c.at > killedAt)
    expect(polls.length).toBeGreaterThanOrEqual(1)
    expect(polls.at(-1)?.status).toBe(200)
  })

  test('a key create killed after SM created the binding, before its answer: adopted, Ready, one binding', async () => {
    const inst = await provision('crash-key-instance')
    await emu.addFault({ method: 'POST', path: BINDINGS, delayResponseMs: 60_000 })
    const res = await app.post('/ServiceKeys', { instance_ID: inst.ID, name: 'crash-key' })
    expect(res.status).toBe(201)
    const keyId = res.data.ID
    await emu.waitForCall(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === 'crash-key', 'the binding POST')
    await until(async () => (await emu.state({ calls: false })).bindings.some(b => recordOf(b) === keyId), 'the binding in SM')
    await app.kill()

    await restart()
    const key = await app.waitFor(`/ServiceKeys(${keyId})`, stateIs('Ready', 'Failed'), 60_000)
    expect(key).toMatchObject({ state_code: 'Ready', lastError: null })
    expect(key.clientId).toBeTruthy()
    const bindings = (await emu.state({ calls: false })).bindings.filter(b => b.name === 'crash-key')
    expect(bindings).toHaveLength(1)
    expect(bindings[0].id).toBe(key.smId)
    expect(await calls(c => c.method === 'POST' && c.path === BINDINGS && c.body?.name === 'crash-key')).toHaveLength(1)
  })

  test('a rotation killed after SM created the successor, before its answer: resumed, handed over, old key retired', async () => {
    const inst = await provision('crash-rotation-instance')
    await app.stop()
    await restart({ ...PROVISIONING, rotationOverlap: '1s' })
    const k = await app.post('/ServiceKeys', { instance_ID: inst.ID, name: 'crash-rotated' })
    const old = await app.waitFor(`/ServiceKeys(${k.data.ID})`, stateIs('Ready', 'Failed'))
    expect(old.state_code).toBe('Ready')
    const reg = await app.post('/Registrations', { serviceKey_ID: old.ID, consumerType: 'cloud-alm-landscape', tenant: 'crash-tenant' })
    expect(reg.status).toBe(201)

    await emu.addFault({ method: 'POST', path: BINDINGS, delayResponseMs: 60_000 })
    const rotated = await app.post(`/ServiceKeys(${old.ID})/rotate`, {})
    expect(rotated.status).toBe(200)
    const successorId = rotated.data.ID
    await until(async () => (await emu.state({ calls: false })).bindings.some(b => recordOf(b) === successorId), 'the successor in SM')
    await app.kill()
    await emu.clearFaults()

    await restart({ ...PROVISIONING, rotationOverlap: '1s' })
    const successor = await app.waitFor(`/ServiceKeys(${successorId})`, stateIs('Ready', 'Failed'), 60_000)
    expect(successor).toMatchObject({ state_code: 'Ready', verification_code: 'ok', lastError: null })
    expect((await app.get(`/Registrations(${reg.data.ID})`)).data).toMatchObject({ serviceKey_ID: successorId, status: 'Active' })
    const retired = await app.waitFor(`/ServiceKeys(${old.ID})`, stateIs('Deleted', 'Failed'), 30_000)
    expect(retired.state_code).toBe('Deleted')
    const bindings = (await emu.state({ calls: false })).bindings
    expect(bindings.filter(b => recordOf(b) === successorId)).toHaveLength(1)
    expect(bindings.filter(b => recordOf(b) === old.ID)).toHaveLength(0)
    await app.stop()
    await restart()
  })

  test('a delete killed while its SM call is in flight ends Deleted, nothing left in SM', async () => {
    const inst = await provision('crash-delete-call')
    // SM accepts the delete and works on it for a while; its answer never reaches the killed process
    await emu.addFault({ method: 'DELETE', pathRegex: `^${INSTANCES}/`, delayResponseMs: 60_000, operationMs: 2_000 })
    expect((await app.delete(`/ServiceInstances(${inst.ID})`)).status).toBe(204)
    await emu.waitForCall(c => c.method === 'DELETE' && c.path === `${INSTANCES}/${inst.smId}`, 'the DELETE')
    await app.kill()
    // the restarted process knows of no SM operation, but its step was under way: it looks the instance up
    // before deleting again, sees SM still deleting it (or already done) and waits instead of sending twice
    await restart()
    await expectDeletedAndGoneFromSm(inst.ID)
    const deletes = await calls(c => c.method === 'DELETE' && c.path === `${INSTANCES}/${inst.smId}`)
    expect(deletes.map(c => c.status)).toEqual([202])
    const looks = await calls(c => c.method === 'GET' && c.path === `${INSTANCES}/${inst.smId}`)
    expect(looks.length).toBeGreaterThan(0)
  })

  test('a delete killed while polling ends Deleted, nothing left in SM', async () => {
    const inst = await provision('crash-delete-poll')
    await emu.addFault({ method: 'DELETE', pathRegex: `^${INSTANCES}/`, operationMs: 8_000 })
    expect((await app.delete(`/ServiceInstances(${inst.ID})`)).status).toBe(204)
    const del = await emu.waitForCall(c => c.method === 'DELETE' && c.path === `${INSTANCES}/${inst.smId}`, 'the DELETE')
    await emu.waitForCall(c => pollOf(inst.smId)(c) && c.at >= del.at, 'a poll of the delete operation')
    const killedAt = Date.now()
    await app.kill()
    expect(await smInstances(i => i.id === inst.smId)).toHaveLength(1)

    await restart()
    await expectDeletedAndGoneFromSm(inst.ID)
    // the DELETE was not repeated: the restarted process polled the operation it had recorded
    expect(await calls(c => c.method === 'DELETE' && c.path === `${INSTANCES}/${inst.smId}`)).toHaveLength(1)
    expect((await calls(pollOf(inst.smId))).filter(c => c.at > killedAt).length).toBeGreaterThanOrEqual(1)
  })

  test('an instance with a key, deleted and killed halfway: keys first, then the instance, nothing left', async () => {
    const inst = await provision('crash-delete-tree')
    const res = await app.post('/ServiceKeys', { instance_ID: inst.ID, name: 'crash-delete-tree-key' })
    const key = await app.waitFor(`/ServiceKeys(${res.data.ID})`, stateIs('Ready', 'Failed'))
    expect(key.state_code).toBe('Ready')
    await emu.addFault({ method: 'DELETE', pathRegex: `^${BINDINGS}/`, delayResponseMs: 60_000 })
    expect((await app.delete(`/ServiceInstances(${inst.ID})`)).status).toBe(204)
    await emu.waitForCall(c => c.method === 'DELETE' && c.path === `${BINDINGS}/${key.smId}`, 'the binding DELETE')
    await app.kill()

    await restart()
    await expectDeletedAndGoneFromSm(inst.ID)
    expect((await app.get(`/ServiceKeys(${key.ID})`)).data.state_code).toBe('Deleted')
    expect((await emu.state({ calls: false })).bindings.filter(b => recordOf(b) === key.ID)).toHaveLength(0)
  })

  test('afterwards SM holds exactly what the records say: no duplicate, no orphan', async () => {
    const rows: any[] = (await app.get('/ServiceInstances?$select=ID,name,state_code,smId')).data.value
    const ours = await smInstances(i => i.labels?.managed_by?.includes('service-key-manager'))
    for (const inst of ours) {
      const row = rows.find(r => r.ID === recordOf(inst))
      expect({ name: inst.name, state: row?.state_code, smId: row?.smId }).toEqual({ name: inst.name, state: 'Ready', smId: inst.id })
    }
    for (const row of rows.filter(r => r.state_code === 'Ready')) expect(ours.filter(i => recordOf(i) === row.ID)).toHaveLength(1)
    expect(rows.filter(r => r.state_code === 'Ready')).toHaveLength(ours.length)
  })
})

describe('per-step deadline', () => {
  test('a step whose SM operation never finishes ends Failed with a clear message at the deadline', async () => {
    await app.stop()
    await restart({ ...PROVISIONING, stepDeadline: '4s' })
    await emu.addFault({ method: 'POST', path: INSTANCES, operationMs: 10 * 60_000 })
    const started = Date.now()
    const ID = await create('never-finishes')
    const row = await app.waitFor(`/ServiceInstances(${ID})`, stateIs('Ready', 'Failed'), 30_000)
    const tookMs = Date.now() - started
    expect(row.state_code).toBe('Failed')
    expect(row.lastError).toBe('The step did not finish within 4 seconds.')
    // at the deadline, not long after it (a poll interval)
    expect(tookMs).toBeGreaterThanOrEqual(4_000)
    expect(tookMs).toBeLessThan(4_000 + 10_000)
    const op = (await app.get(`/Operations(${row.lastOperation_ID})`)).data
    expect(op).toMatchObject({ state_code: 'failed', error: 'The step did not finish within 4 seconds.' })
    // it was polled until then, and the POST was not repeated
    expect(await calls(postOf('never-finishes'))).toHaveLength(1)
    expect((await calls(pollOf(row.smId ?? ''))).length).toBeGreaterThan(1)
  })
})
