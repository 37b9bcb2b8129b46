import cds from '@sap/cds'
import type { AxiosResponse } from 'axios'
import { Orchestrator } from '../srv/orchestrator'
import { makeLeaf } from './fixtures/pki'
import { scopedFixtures } from './fixtures/scoped-rows'
import { API, PLANS, SUB1, SUB2, type Client } from './helpers'
import { useApp } from './support/app'
import { mockedUsers } from './support/users'

/**
 * Who may do what, where: every entity set x READ/CREATE/DELETE (and the bound actions) x every role, no
 * role and no login x a row inside and a row outside the user's subaccounts. The expected status comes
 * from the rules below, written down independently of srv/access-control.cds.
 */

const { app, as, admin } = useApp()

/** Subaccount GUIDs (Subaccounts.subaccountId) of the sample subaccounts SUB1 and SUB2 */
const GUID1 = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'
const GUID2 = '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72'

type Row = Record<string, any>
type Role = 'Viewer' | 'Provisioner' | 'CredentialReader' | 'Administrator'
/** a mocked user of .cdsrc.json, or 'anonymous' (no login) */
type UserName = string
/** The mocked users of .cdsrc.json without a Subaccount attribute, and those limited to GUID1 (`eu10`). */
const USERS = Object.fromEntries(
  Object.entries(mockedUsers).flatMap(([name, u]) => {
    const reach = u.attr?.Subaccount
    if (reach && (reach.length !== 1 || reach[0] !== GUID1)) return [] // test/security-postgres.test.ts
    return [[name, { roles: (u.roles ?? []) as Role[], eu10: !!reach }]]
  })
) as Record<string, { roles: Role[]; eu10: boolean }>
const ALL_USERS = [...Object.keys(USERS), 'anonymous' as const]

/** Any mocked user of .cdsrc.json, or no login at all. */
function client(user: UserName): Client {
  if (user !== 'anonymous') return as(user)
  const cfg = { validateStatus: () => true }
  return {
    get: (url: string) => app.axios.get(url, cfg),
    post: (url: string, body: unknown) => app.axios.post(url, body, cfg),
    patch: (url: string, body: unknown) => app.axios.patch(url, body, cfg),
    delete: (url: string) => app.axios.delete(url, cfg)
  }
}

// ---- the rules --------------------------------------------------------------------------------------

type EntitySet = 'Subaccounts' | 'ServiceOfferings' | 'ServicePlans' | 'ServiceInstances' | 'ServiceKeys' | 'Operations' | 'Templates'
type Where = 'in' | 'out'
const ENTITY_SETS: EntitySet[] = ['Subaccounts', 'ServiceOfferings', 'ServicePlans', 'ServiceInstances', 'ServiceKeys', 'Operations', 'Templates']
/** the role that may create and delete; undefined: read-only */
const WRITER: Record<EntitySet, Role | undefined> = {
  Subaccounts: 'Administrator',
  ServiceOfferings: undefined,
  ServicePlans: undefined,
  ServiceInstances: 'Provisioner',
  ServiceKeys: 'Provisioner',
  Operations: undefined,
  Templates: 'Administrator'
}
/** Templates belong to no subaccount */
const scoped = (set: EntitySet) => set !== 'Templates'
const ACTIONS = [
  { set: 'Subaccounts', action: 'syncCatalog', role: 'Administrator' },
  { set: 'ServiceInstances', action: 'refresh', role: 'Provisioner' },
  { set: 'ServiceKeys', action: 'refresh', role: 'Provisioner' }
] as const

const has = (user: UserName, role: Role) => user !== 'anonymous' && USERS[user].roles.includes(role)
const anyRole = (user: UserName) => user !== 'anonymous' && USERS[user].roles.length > 0
const outOfReach = (user: UserName, where: Where, set: EntitySet) => user !== 'anonymous' && USERS[user].eu10 && where === 'out' && scoped(set)

/** READ of a single row: 200, or 404 for a row outside the user's subaccounts (not disclosed) */
function readStatus(user: UserName, set: EntitySet, where: Where) {
  if (user === 'anonymous') return 401
  if (!anyRole(user)) return 403
  return outOfReach(user, where, set) ? 404 : 200
}

function writeStatus(user: UserName, set: EntitySet, where: Where, success: number) {
  if (user === 'anonymous') return 401
  if (!anyRole(user)) return 403
  const writer = WRITER[set]
  if (!writer) return 405
  if (!has(user, writer)) return 403
  return outOfReach(user, where, set) ? 403 : success
}

function actionStatus(user: UserName, set: EntitySet, role: Role, where: Where) {
  if (user === 'anonymous') return 401
  if (!anyRole(user) || !has(user, role)) return 403
  return outOfReach(user, where, set) ? 403 : 200
}

// ---- fixtures -----------------------------------------------------------------------------------------

const rows = {} as Record<EntitySet, Record<Where, string>>
const { unique, created, readyKey, firstId, scopedRows } = scopedFixtures(() => admin, 'sec-fixture')
const randomGuid = () => cds.utils.uuid()

/** A valid CREATE payload for a row in or outside SUB1 / GUID1. */
function payload(set: EntitySet, where: Where): Record<string, unknown> {
  switch (set) {
    case 'Subaccounts':
      return { displayName: unique('Security test'), subaccountId: where === 'in' ? GUID1 : randomGuid() }
    case 'ServiceInstances':
      return where === 'in'
        ? { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: unique('sec') }
        : { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: unique('sec') }
    case 'ServiceKeys':
      return { instance_ID: rows.ServiceInstances[where], name: unique('sec-key') }
    case 'Templates':
      return { name: unique('Security test'), offeringName: 'xsuaa', planName: 'application' }
    default:
      return {}
  }
}

/** A row that may be deleted: created by admin for this one test. */
async function disposable(set: EntitySet, where: Where): Promise<string> {
  return created(await admin.post(`${API}/${set}`, payload(set, where)))
}

beforeAll(async () => {
  Object.assign(rows, await scopedRows())
  const template = await firstId(`${API}/Templates`)
  rows.Templates = { in: template, out: template }
})

// ---- the matrix -------------------------------------------------------------------------------------

const cases = <T>(make: (user: UserName, set: EntitySet, where: Where) => T) =>
  ALL_USERS.flatMap(user => ENTITY_SETS.flatMap(set => (scoped(set) ? (['in', 'out'] as const) : (['in'] as const)).map(where => make(user, set, where))))

describe('READ', () => {
  test.each(cases((user, set, where) => ({ user, set, where, status: readStatus(user, set, where) })))(
    '$user reads $set ($where) -> $status',
    async ({ user, set, where, status }) => {
      const id = rows[set][where]
      const single = await client(user).get(`${API}/${set}(${id})`)
      expect(single.status).toBe(status)
      if (status === 200) expect(single.data.ID).toBe(id)

      const list = await client(user).get(`${API}/${set}?$select=ID&$top=1000`)
      expect(list.status).toBe(status === 404 ? 200 : status)
      if (list.status === 200) expect(list.data.value.map((r: { ID: string }) => r.ID).includes(id)).toBe(status === 200)
    }
  )
})

describe('CREATE', () => {
  test.each(cases((user, set, where) => ({ user, set, where, status: writeStatus(user, set, where, 201) })))(
    '$user creates in $set ($where) -> $status',
    async ({ user, set, where, status }) => {
      const body = payload(set, where)
      const res = await client(user).post(`${API}/${set}`, body)
      expect({ status: res.status, error: status === 201 ? res.data.error : undefined }).toEqual({ status, error: undefined })
      if (status !== 201 && typeof body.name === 'string') {
        const rows = await admin.get(`${API}/${set}?$filter=name eq '${body.name}'`)
        expect(rows.data.value).toEqual([]) // nothing was written
      }
    }
  )
})

describe('DELETE', () => {
  test.each(cases((user, set, where) => ({ user, set, where, status: writeStatus(user, set, where, 204) })))(
    '$user deletes from $set ($where) -> $status',
    async ({ user, set, where, status }) => {
      // a disposable row where the delete is expected to succeed, the shared fixture otherwise
      const id = status === 204 ? await disposable(set, where) : rows[set][where]
      const res = await client(user).delete(`${API}/${set}(${id})`)
      expect(res.status).toBe(status)
      if (status !== 204 && WRITER[set]) expect((await admin.get(`${API}/${set}(${id})`)).status).toBe(200)
    }
  )
})

describe('bound actions', () => {
  const actionCases = ALL_USERS.flatMap(user =>
    ACTIONS.flatMap(({ set, action, role }) =>
      (['in', 'out'] as const).map(where => ({ user, set, action, where, status: actionStatus(user, set, role, where) }))
    )
  )
  test.each(actionCases)('$user calls $set/$action ($where) -> $status', async ({ user, set, action, where, status }) => {
    const res = await client(user).post(`${API}/${set}(${rows[set][where]})/${action}`, {})
    expect(res.status).toBe(status)
  })
})

// ---- the Subaccount attribute ----------------------------------------------------------------------------

describe('the Subaccount attribute', () => {
  /** how to read the subaccount GUID of each row */
  const GUID_OF = {
    Subaccounts: { query: '$select=subaccountId', pick: (r: Row) => r.subaccountId },
    ServiceOfferings: { query: '$expand=subaccount($select=subaccountId)', pick: (r: Row) => r.subaccount?.subaccountId },
    ServicePlans: { query: '$expand=subaccount($select=subaccountId)', pick: (r: Row) => r.subaccount?.subaccountId },
    ServiceInstances: { query: '$expand=subaccount($select=subaccountId)', pick: (r: Row) => r.subaccount?.subaccountId },
    ServiceKeys: { query: '$expand=instance($expand=subaccount($select=subaccountId))', pick: (r: Row) => r.instance?.subaccount?.subaccountId },
    Operations: { query: '$expand=subaccount($select=subaccountId)', pick: (r: Row) => r.subaccount?.subaccountId }
  }
  const SETS = Object.keys(GUID_OF) as (keyof typeof GUID_OF)[]
  const guidsSeenBy = async (user: string, set: keyof typeof GUID_OF) => {
    const res = await client(user).get(`${API}/${set}?${GUID_OF[set].query}&$top=1000`)
    expect(res.status).toBe(200)
    expect(res.data.value.length).toBeGreaterThan(0)
    return [...new Set(res.data.value.map(GUID_OF[set].pick))].sort()
  }

  test.each(SETS)('%s: a user limited to subaccount 1 sees only subaccount 1', async set => {
    expect(await guidsSeenBy('viewer-eu10', set)).toEqual([GUID1])
  })

  test.each(SETS)('%s: a user limited to subaccount 2 sees only subaccount 2', async set => {
    expect(await guidsSeenBy('provisioner-eu20', set)).toEqual([GUID2])
  })

  test.each(SETS)('%s: a user limited to both subaccounts sees both', async set => {
    expect(await guidsSeenBy('viewer-acme', set)).toEqual([GUID1, GUID2].sort())
  })

  test.each(SETS)('%s: a user without the attribute sees every subaccount', async set => {
    expect(await guidsSeenBy('viewer', set)).toEqual(expect.arrayContaining([GUID1, GUID2]))
  })

  test('a scoped administrator cannot move a subaccount out of reach', async () => {
    const id = await disposable('Subaccounts', 'in')
    // subaccountId is immutable (app/capabilities.cds); were it not, the write would be refused with 403
    const res = await client('administrator-eu10').patch(`${API}/Subaccounts(${id})`, { subaccountId: GUID2 })
    expect([200, 403]).toContain(res.status)
    expect((await admin.get(`${API}/Subaccounts(${id})`)).data.subaccountId).toBe(GUID1)
    expect((await client('administrator-eu10').patch(`${API}/Subaccounts(${id})`, { displayName: 'Renamed' })).status).toBe(200)
  })

  test('an instance cannot use a plan of a subaccount out of reach', async () => {
    const res = await client('provisioner-eu10').post(`${API}/ServiceInstances`, {
      subaccount_ID: SUB1,
      plan_ID: PLANS.sub2.xsuaaApplication,
      name: unique('sec')
    })
    expect(res.status).toBe(403)
  })

  test('out of reach wins over validation: no message describes another subaccount', async () => {
    // not entitled, and an invalid name: for a user of SUB2 these give 422 and 400
    for (const body of [
      { subaccount_ID: SUB2, plan_ID: PLANS.sub2.aicoreExtendedNotEntitled, name: unique('sec') },
      { subaccount_ID: SUB2, plan_ID: PLANS.sub2.xsuaaApplication, name: 'not a valid name' }
    ]) {
      const res = await client('provisioner-eu10').post(`${API}/ServiceInstances`, body)
      expect({ status: res.status, code: res.data.error?.code }).toEqual({ status: 403, code: 'ACCESS_DENIED' })
    }
    const entitled = await client('provisioner-eu20').post(`${API}/ServiceInstances`, {
      subaccount_ID: SUB2,
      plan_ID: PLANS.sub2.aicoreExtendedNotEntitled,
      name: unique('sec')
    })
    expect({ status: entitled.status, code: entitled.data.error?.code }).toEqual({ status: 422, code: 'PLAN_NOT_ENTITLED' })
  })

  test('unknown references keep their own message codes', async () => {
    const res = await client('provisioner-eu10').post(`${API}/ServiceInstances`, { subaccount_ID: randomGuid(), plan_ID: randomGuid(), name: unique('sec') })
    expect({ status: res.status, code: res.data.error?.code }).toEqual({ status: 400, code: 'SUBACCOUNT_UNKNOWN' })
  })
})

describe('$expand and navigation respect the Subaccount attribute', () => {
  const viewer = () => client('viewer-eu10')

  test('expanding a subaccount\'s instances and their keys', async () => {
    const res = await viewer().get(`${API}/Subaccounts?$select=subaccountId&$expand=instances($select=name;$expand=keys($select=name))`)
    expect(res.status).toBe(200)
    expect([...new Set(res.data.value.map((s: { subaccountId: string }) => s.subaccountId))]).toEqual([GUID1])
    const instances = (res.data.value as { instances: { ID: string; keys: { ID: string }[] }[] }[]).flatMap(s => s.instances)
    expect(instances.map(i => i.ID)).toContain(rows.ServiceInstances.in)
    expect(instances.flatMap(i => i.keys.map(k => k.ID))).toContain(rows.ServiceKeys.in)
  })

  test.each([
    ['Subaccounts', 'out', 'instances'],
    ['Subaccounts', 'out', 'offerings'],
    ['ServiceInstances', 'out', 'keys'],
    ['ServiceInstances', 'out', 'operations']
  ] as const)('%s(%s)/%s is empty', async (set, where, nav) => {
    const res = await viewer().get(`${API}/${set}(${rows[set][where]})/${nav}`)
    expect(res.status).toBe(200)
    expect(res.data.value).toEqual([])
    const all = await client('viewer').get(`${API}/${set}(${rows[set][where]})/${nav}`)
    expect(all.data.value.length).toBeGreaterThan(0) // there is something to hide
  })

  test.each([
    ['ServiceKeys', 'instance'],
    ['ServiceInstances', 'subaccount'],
    ['Operations', 'subaccount']
  ] as const)('%s(out)/%s is not found', async (set, nav) => {
    const res = await viewer().get(`${API}/${set}(${rows[set].out})/${nav}`)
    expect([204, 404]).toContain(res.status)
    expect(res.data?.ID).toBeUndefined()
  })

  test('expanding a certificate\'s keys shows only keys within reach', async () => {
    const cert = await makeLeaf(null, { cn: 'Security Test Client', key: 'EC', eku: ['clientAuth'] })
    const certId = created(await admin.post(`${API}/Certificates`, { name: unique('sec-cert'), pem: cert.certPem }))
    const x509 = { credentialType: 'x509', certificate_ID: certId }
    const inReach = await readyKey(rows.ServiceInstances.in, x509)
    const outOfReach = await readyKey(rows.ServiceInstances.out, x509)

    const ids = async (user: UserName, query: string) => {
      const res = await client(user).get(`${API}/Certificates(${certId})?${query}`)
      expect(res.status).toBe(200)
      return (res.data.keys as { ID: string }[]).map(k => k.ID).sort()
    }
    expect(await ids('viewer', '$expand=keys($select=name)')).toEqual([inReach, outOfReach].sort())
    expect(await ids('viewer-eu10', '$expand=keys($select=name)')).toEqual([inReach])
    expect(await ids('viewer-eu10', '$expand=keys')).toEqual([inReach])
    expect(await ids('viewer-eu10', '$expand=*')).toEqual([inReach])
    const nested = await viewer().get(`${API}/Certificates?$filter=ID eq ${certId}&$expand=keys($expand=instance($select=name))`)
    expect(nested.data.value[0].keys.map((k: { ID: string }) => k.ID)).toEqual([inReach])
    const nav = await viewer().get(`${API}/Certificates(${certId})/keys`)
    expect(nav.data.value.map((k: { ID: string }) => k.ID)).toEqual([inReach])

    // $count and $top inside $expand count only keys within reach
    const counted = await viewer().get(`${API}/Certificates(${certId})?$expand=keys($select=name;$count=true;$top=1;$orderby=name)`)
    expect({ keys: counted.data.keys.map((k: { ID: string }) => k.ID), count: counted.data['keys@odata.count'] }).toEqual({ keys: [inReach], count: 1 })
    const countedAll = await client('viewer').get(`${API}/Certificates(${certId})?$expand=keys($select=name;$count=true;$top=1)`)
    expect(countedAll.data['keys@odata.count']).toBe(2)

    // a $filter from the certificate into its keys does not tell which certificates have keys out of reach
    const names = async (id: string) => (await admin.get(`${API}/ServiceKeys(${id})`)).data.name as string
    const having = async (user: UserName, name: string) => {
      const res = await client(user).get(`${API}/Certificates?$select=ID&$filter=${encodeURIComponent(`keys/any(k:k/name eq '${name}')`)}`)
      expect(res.status).toBe(200)
      return res.data.value.map((c: { ID: string }) => c.ID)
    }
    expect(await having('viewer-eu10', await names(outOfReach))).toEqual([])
    expect(await having('viewer', await names(outOfReach))).toEqual([certId])
    expect(await having('viewer-eu10', await names(inReach))).toEqual([certId])
    const all = `$filter=${encodeURIComponent(`ID eq ${certId} and keys/all(k:k/credentialType eq 'x509')`)}&$select=ID`
    expect((await viewer().get(`${API}/Certificates?${all}`)).data.value.map((c: { ID: string }) => c.ID)).toEqual([certId])
  })
})

// ---- credentials and other roles -------------------------------------------------------------------------

describe('credentials, verification, certificates, expiry scan', () => {
  const notDenied = (res: AxiosResponse) => expect([401, 403]).not.toContain(res.status)

  test.each([
    ['reader', 'in', true],
    ['reader', 'out', true],
    ['reader-eu10', 'in', true],
    ['reader-eu10', 'out', false],
    ['admin-eu10', 'out', false],
    ['viewer', 'in', false],
    ['provisioner', 'in', false],
    ['administrator', 'in', false]
  ] as const)('%s reveals credentials of a key (%s): allowed=%s', async (user, where, allowed) => {
    const res = await client(user).post(`${API}/ServiceKeys(${rows.ServiceKeys[where]})/revealCredentials`, {})
    if (allowed) notDenied(res)
    else expect(res.status).toBe(403)
    const download = await client(user).get(`${API}/ServiceKeys(${rows.ServiceKeys[where]})/downloadCredentials()`)
    if (allowed) notDenied(download)
    else expect(download.status).toBe(403)
  })

  test.each([
    ['provisioner', 'out', true],
    ['provisioner-eu10', 'in', true],
    ['provisioner-eu10', 'out', false],
    ['reader', 'in', false],
    ['viewer', 'in', false]
  ] as const)('%s verifies a key (%s): allowed=%s', async (user, where, allowed) => {
    const res = await client(user).post(`${API}/ServiceKeys(${rows.ServiceKeys[where]})/verify`, {})
    if (allowed) notDenied(res)
    else expect(res.status).toBe(403)
  })

  test.each([
    ['administrator', 201],
    ['admin-eu10', 201],
    ['provisioner', 403],
    ['viewer', 403],
    ['nobody', 403]
  ] as const)('%s uploads a certificate -> %s', async (user, status) => {
    const cert = await makeLeaf(null, { cn: `Upload by ${user}`, key: 'EC', eku: ['clientAuth'] })
    const res = await client(user).post(`${API}/Certificates`, { name: unique('sec-cert'), pem: cert.certPem })
    expect(res.status).toBe(status)
  })

  test.each([
    ['administrator', 200],
    ['provisioner', 403],
    ['viewer', 403]
  ] as const)('%s runs the expiry scan -> %s', async (user, status) => {
    expect((await client(user).post(`${API}/scanExpiry`, {})).status).toBe(status)
  })
})

// ---- hardening ---------------------------------------------------------------------------------------------

describe('Me: what the signed-in user may do (the apps hide what the service refuses)', () => {
  const users = Object.keys(USERS)
  test.each(users)('%s', async user => {
    const res = await client(user).get(`${API}/Me`)
    const roles: readonly Role[] = USERS[user].roles
    if (!roles.length) return expect(res.status).toBe(403)
    expect(res.status).toBe(200)
    const may = { provision: roles.includes('Provisioner'), read: roles.includes('CredentialReader'), administer: roles.includes('Administrator') }
    expect(res.data).toMatchObject({
      user,
      canProvision: may.provision,
      canReadCredentials: may.read,
      canAdminister: may.administer,
      limitedToSubaccounts: USERS[user].eu10,
      provisioningHidden: !may.provision,
      credentialsHidden: !may.read,
      administrationHidden: !may.administer
    })
    // and the flags say what the service does, on a Ready key within every user's reach
    const reveal = await client(user).post(`${API}/ServiceKeys(${rows.ServiceKeys.in})/ProvisioningService.revealCredentials`, {})
    expect(reveal.status).toBe(may.read ? 200 : 403)
    const refresh = await client(user).post(`${API}/ServiceKeys(${rows.ServiceKeys.in})/ProvisioningService.refresh`, {})
    expect(refresh.status).toBe(may.provision ? 200 : 403)
    const sync = await client(user).post(`${API}/Subaccounts(${SUB1})/ProvisioningService.syncCatalog`, {})
    expect(sync.status).toBe(may.administer ? 200 : 403)
  })

  test('anonymous: 401', async () => {
    expect((await client('anonymous').get(`${API}/Me`)).status).toBe(401)
  })

  test('read-only: no CREATE, UPDATE or DELETE', async () => {
    expect((await admin.post(`${API}/Me`, { canAdminister: true })).status).toBeGreaterThanOrEqual(400)
    expect((await admin.patch(`${API}/Me`, { canAdminister: false })).status).toBeGreaterThanOrEqual(400)
    expect((await admin.get(`${API}/Me`)).data.canAdminister).toBe(true)
  })
})

describe('hardening', () => {
  test('request bodies are limited to 1 MB: 413 above, accepted below', async () => {
    const big = await admin.post(`${API}/Templates`, { name: unique('big'), offeringName: 'x', planName: 'y', parameters: 'x'.repeat(1_100_000) })
    expect(big.status).toBe(413)
    // below 1 MB the body reaches the service's own rules (parameters are limited to 64 KB)
    const fits = await admin.post(`${API}/Templates`, { name: unique('fits'), offeringName: 'x', planName: 'y', parameters: JSON.stringify({ a: 'x'.repeat(900_000) }) })
    expect({ status: fits.status, code: fits.data.error?.code }).toEqual({ status: 400, code: 'PARAMETERS_TOO_LARGE' })
  })

  const batch = (user: UserName, requests: { method: string; url: string; body?: unknown }[]) =>
    client(user).post(`${API}/$batch`, {
      requests: requests.map((r, i) => ({ id: String(i + 1), headers: { 'content-type': 'application/json' }, ...r }))
    })

  test('$batch: an invalid instance name gets INSTANCE_NAME_INVALID', async () => {
    const res = await batch('admin', [{ method: 'POST', url: '/ServiceInstances', body: { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'not valid' } }])
    expect(res.status).toBe(200)
    expect(res.data.responses.map((r: { status: number; body: { error: { code: string } } }) => [r.status, r.body.error.code])).toEqual([[400, 'INSTANCE_NAME_INVALID']])
  })

  test('$batch: the same role and subaccount rules as single requests', async () => {
    const instance = (sub: string, plan: string) => ({ method: 'POST', url: '/ServiceInstances', body: { subaccount_ID: sub, plan_ID: plan, name: unique('sec-batch') } })
    const byViewer = await batch('viewer', [instance(SUB1, PLANS.sub1.xsuaaApplication)])
    expect(byViewer.data.responses.map((r: { status: number }) => r.status)).toEqual([403])

    const scoped = await batch('provisioner-eu10', [
      instance(SUB1, PLANS.sub1.xsuaaApplication),
      instance(SUB2, PLANS.sub2.xsuaaApplication),
      { method: 'GET', url: `/ServiceInstances(${rows.ServiceInstances.out})` },
      { method: 'DELETE', url: `/ServiceInstances(${rows.ServiceInstances.out})` }
    ])
    expect(scoped.data.responses.map((r: { status: number }) => r.status)).toEqual([201, 403, 404, 403])

    expect((await batch('nobody', [{ method: 'GET', url: '/Subaccounts' }])).status).toBe(403)
    expect((await batch('anonymous', [{ method: 'GET', url: '/Subaccounts' }])).status).toBe(401)
  })

  test('in production, a 500 reveals no message, stack or internals', async () => {
    const spy = jest.spyOn(Orchestrator, 'wakeAfterCommit').mockImplementation(() => {
      throw new TypeError('secret internals in /srv/orchestrator.ts:42')
    })
    const env = process.env.NODE_ENV
    try {
      const url = `${API}/ServiceInstances(${rows.ServiceInstances.in})/refresh`
      const test = await admin.post(url, {})
      process.env.NODE_ENV = 'production'
      const prod = await admin.post(url, {})
      expect([test.status, prod.status]).toEqual([500, 500])
      expect(test.data.error.message).toMatch(/secret internals/) // what production hides
      expect(prod.data.error).toMatchObject({ code: '500', message: 'Internal Server Error' })
      expect(JSON.stringify(prod.data)).not.toMatch(/secret|orchestrator|stack/)
      expect(JSON.stringify(test.data)).not.toMatch(/"stack"|\\n\s+at /)
    } finally {
      process.env.NODE_ENV = env
      spy.mockRestore()
    }
  })
})
