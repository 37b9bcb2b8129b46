import { API, PLANS, SUB1, SUB2, stateIs, waitFor } from './helpers'
import { useApp } from './support/app'

const { admin, as, emu } = useApp()

let readyInstance: { ID: string; name: string }

beforeAll(async () => {
  const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'rules-base' })
  readyInstance = await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
  const key = await admin.post(`${API}/ServiceKeys`, { instance_ID: readyInstance.ID, name: 'taken-key' })
  await waitFor(admin, `${API}/ServiceKeys(${key.data.ID})`, stateIs('Ready'))
})

type Attempt = { send: () => Promise<{ status: number; data: any }>; name?: unknown }

/** Sends a request, asserts status and message code, and that Service Manager never heard of the name. */
async function rejects(attempt: Attempt | Attempt['send'], status: number, code: string) {
  const { send, name } = typeof attempt === 'function' ? { send: attempt, name: undefined } : attempt
  const res = await send()
  expect({ status: res.status, code: res.data?.error?.code }).toEqual({ status, code })
  expect(typeof res.data.error.message).toBe('string')
  expect(res.data.error.message).not.toBe(code) // a text from messages.properties, not the bare code
  if (name !== undefined) expect(emu.calls.filter(c => c.method !== 'GET' && c.body?.name === name)).toEqual([])
  return res.data.error
}

const smPostsNamed = (name: string) => emu.calls.filter(c => c.method === 'POST' && c.body?.name === name).length

const instance = (body: Record<string, unknown>): Attempt => {
  const data = { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'valid-name', ...body }
  return { send: () => admin.post(`${API}/ServiceInstances`, data), name: data.name }
}
const key = (body: Record<string, unknown>): Attempt => {
  const data = { instance_ID: readyInstance.ID, name: 'valid-key', ...body }
  return { send: () => admin.post(`${API}/ServiceKeys`, data), name: data.name }
}

describe('the seeds\' rules are enforced before anything reaches Service Manager', () => {
  test.each([
    ['a space', 'my instance'],
    ['33 characters', 'a'.repeat(33)],
    ['a slash', 'orders/xsuaa'],
    ['an umlaut', 'übung'],
    ['an empty name', '']
  ])('instance name with %s -> 400 INSTANCE_NAME_INVALID', async (_what, name) => {
    await rejects(instance({ name }), 400, 'INSTANCE_NAME_INVALID')
  })

  test('a 32-character name of letters, digits, ".", "-" and "_" is accepted', async () => {
    const res = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'Ab.0-_'.padEnd(32, 'x') })
    expect(res.status).toBe(201)
  })

  test.each([
    ['a space', 'my key'],
    ['33 characters', 'k'.repeat(33)],
    ['a colon', 'key:1']
  ])('key name with %s -> 400 KEY_NAME_INVALID', async (_what, name) => {
    await rejects(key({ name }), 400, 'KEY_NAME_INVALID')
  })

  test.each(['ABC_100_00', 'S4H_400_01', 'x01_001_99'])('key name %s looks automatic -> 400 KEY_NAME_RESERVED', async name => {
    await rejects(key({ name }), 400, 'KEY_NAME_RESERVED')
  })

  test('names that only resemble the automatic pattern are fine', async () => {
    for (const name of ['ABC_100_000', 'ABCD_100_00', 'ABC-100-00']) {
      const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: readyInstance.ID, name })
      expect(res.status).toBe(201)
    }
  })

  test('a plan not entitled in the subaccount -> 422 PLAN_NOT_ENTITLED naming offering, plan and subaccount', async () => {
    const error = await rejects(
      { send: () => admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.aicoreExtendedNotEntitled, name: 'ai-core' }), name: 'ai-core' },
      422,
      'PLAN_NOT_ENTITLED'
    )
    expect(error.message).toContain('aicore')
    expect(error.message).toContain('extended')
    expect(error.message).toContain('ACME Cloud ALM (eu20)')
    expect(error.message).toMatch(/entitlement/i)
  })

  test('a plan of another subaccount -> 400 PLAN_UNKNOWN', async () => {
    await rejects(instance({ subaccount_ID: SUB2, name: 'cross' }), 400, 'PLAN_UNKNOWN')
  })

  test.each([
    ['an array', '[1,2]'],
    ['a string', '"text"'],
    ['a number', '42'],
    ['broken JSON', '{"xsappname": '],
    ['null as JSON', 'null']
  ])('instance parameters that are %s -> 400 PARAMETERS_NOT_OBJECT', async (_what, parameters) => {
    await rejects(instance({ parameters }), 400, 'PARAMETERS_NOT_OBJECT')
  })

  test('a certificate for a key of another credential type -> 400 CERTIFICATE_ONLY_FOR_X509', async () => {
    const error = await rejects(key({ certificate_ID: '00000000-0000-4000-8000-000000000000' }), 400, 'CERTIFICATE_ONLY_FOR_X509')
    expect(error.target).toBe('certificate_ID')
  })

  test('key parameters must be a JSON object too', async () => {
    await rejects(key({ parameters: '[]' }), 400, 'PARAMETERS_NOT_OBJECT')
  })

  test('the same instance name with another plan in the subaccount -> 409 INSTANCE_NAME_TAKEN', async () => {
    const before = smPostsNamed('rules-base')
    await rejects(instance({ plan_ID: PLANS.sub1.cloudAlmApi, name: 'rules-base' }).send, 409, 'INSTANCE_NAME_TAKEN')
    expect(smPostsNamed('rules-base')).toBe(before)
  })

  test('the same key name for the instance -> 409 KEY_NAME_TAKEN', async () => {
    const before = smPostsNamed('taken-key')
    await rejects(key({ name: 'taken-key' }).send, 409, 'KEY_NAME_TAKEN')
    expect(smPostsNamed('taken-key')).toBe(before)
  })

  test('an environment that is not served -> 400 ENVIRONMENT_UNSUPPORTED (kubernetes is not)', async () => {
    await rejects(instance({ environment: 'kubernetes' }), 400, 'ENVIRONMENT_UNSUPPORTED')
  })

  test('unknown subaccount -> 400 SUBACCOUNT_UNKNOWN', async () => {
    await rejects(instance({ subaccount_ID: '00000000-0000-4000-8000-000000000000' }), 400, 'SUBACCOUNT_UNKNOWN')
  })

  test('a key for an unknown instance -> 400 INSTANCE_UNKNOWN', async () => {
    await rejects(key({ instance_ID: '00000000-0000-4000-8000-000000000000' }), 400, 'INSTANCE_UNKNOWN')
  })

  test('instances and keys cannot be changed in place -> 405', async () => {
    await rejects(() => admin.patch(`${API}/ServiceInstances(${readyInstance.ID})`, { name: 'renamed' }), 405, 'INSTANCE_IMMUTABLE')
  })

  test('rejected requests leave no rows behind', async () => {
    // rejected here, so that the test stands alone: by a handler, by a declarative rule (after the insert)
    await rejects(instance({ name: 'left behind' }), 400, 'INSTANCE_NAME_INVALID')
    await rejects(
      { send: () => admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB2, plan_ID: PLANS.sub2.aicoreExtendedNotEntitled, name: 'left-ai' }), name: 'left-ai' },
      422,
      'PLAN_NOT_ENTITLED'
    )
    await rejects(instance({ subaccount_ID: SUB2, name: 'left-cross' }), 400, 'PLAN_UNKNOWN')
    await rejects(key({ name: 'left-key', credentialType: 'x509', keyLength: 1024 }), 400, 'KEY_LENGTH_INVALID')
    // the same queries find the rows that do exist
    const named = (names: string[]) => encodeURIComponent(names.map(n => `name eq '${n}'`).join(' or '))
    const instances = await admin.get(`${API}/ServiceInstances?$filter=${named(['left behind', 'left-ai', 'left-cross', 'valid-name', 'rules-base'])}`)
    expect(instances.data.value.map((r: { name: string }) => r.name)).toEqual(['rules-base'])
    const keys = await admin.get(`${API}/ServiceKeys?$filter=${named(['left-key', 'valid-key', 'taken-key'])}`)
    expect(keys.data.value.map((r: { name: string }) => r.name)).toEqual(['taken-key'])
    // and no operation of a request that was rejected: every operation belongs to an instance or key that exists
    const ops = (await admin.get(`${API}/Operations?$select=instance_ID,serviceKey_ID`)).data.value as { instance_ID: string | null; serviceKey_ID: string | null }[]
    const existing = new Set<string | null>([null])
    for (const set of ['ServiceInstances', 'ServiceKeys']) for (const r of (await admin.get(`${API}/${set}?$select=ID`)).data.value) existing.add(r.ID)
    expect(ops.length).toBeGreaterThan(0)
    expect(ops.filter(o => !existing.has(o.instance_ID) || !existing.has(o.serviceKey_ID))).toEqual([])
  })

  test('viewers cannot create, provisioners can', async () => {
    const viewer = as('viewer')
    const res = await viewer.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'by-viewer' })
    expect(res.status).toBe(403)
    const nobody = as('nobody')
    expect((await nobody.get(`${API}/ServiceInstances`)).status).toBe(403)
    const provisioner = as('provisioner')
    const ok = await provisioner.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'by-provisioner' })
    expect(ok.status).toBe(201)
  })
})

describe("a key's own fields: rules declared in provisioning-service.cds, checked when the row is written", () => {
  test.each([
    [{ credentialType: 'x509', keyLength: 1024 }, 'KEY_LENGTH_INVALID', 'keyLength'],
    [{ credentialType: 'x509', validity: 366 }, 'VALIDITY_INVALID', 'validity'],
    [{ credentialType: 'x509', validity: 2, validityType: 'YEARS' }, 'VALIDITY_INVALID', 'validity'],
    [{ credentialType: 'token' }, 'CREDENTIAL_TYPE_INVALID', 'credentialType'],
    [{ purpose: 'anything' }, 'KEY_PURPOSE_INVALID', 'purpose']
  ])('%j -> 400 %s on %s', async (fields, code, target) => {
    const error = await rejects(key({ name: 'declared-rule', ...fields }), 400, code)
    expect(error.target).toBe(target)
  })

  test('a key of another credential type keeps the X.509 options it was sent, unchecked (as before)', async () => {
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: readyInstance.ID, name: 'secret-any-length', keyLength: 1024 })
    expect(res.status).toBe(201)
  })

  test('several broken at once: 400 MULTIPLE_ERRORS with each one in the details', async () => {
    const error = await rejects(key({ name: 'declared-rules', credentialType: 'x509', keyLength: 1024, purpose: 'anything' }), 400, 'MULTIPLE_ERRORS')
    expect(error.details.map((d: { code: string; target: string }) => [d.code, d.target]).sort()).toEqual([
      ['KEY_LENGTH_INVALID', 'keyLength'],
      ['KEY_PURPOSE_INVALID', 'purpose']
    ])
  })

  test("the handlers' rules answer first: a request that breaks both gets the handler's code", async () => {
    await rejects(key({ name: 'ABC_100_00', credentialType: 'x509', keyLength: 1024 }), 400, 'KEY_NAME_RESERVED')
    await rejects(key({ name: 'taken-key', purpose: 'anything' }).send, 409, 'KEY_NAME_TAKEN')
  })
})
