import cds from '@sap/cds'
import fs from 'node:fs'
import path from 'node:path'
import { ServiceManagerError } from '../../srv/service-manager/errors'
import { parseRetryAfter } from '../../srv/lib/retry'
import { rateLimitAnswer } from '../../srv/lib/sm-rate-limit'
import { API, PLANS, SUB1, settle, stateIs, users, waitFor } from '../helpers'
import { useApp } from '../support/app'

/**
 * Hostile input, table-driven: every case is refused with its status and a message code of
 * _i18n/messages.properties, the server answers afterwards, nothing reached Service Manager and no row
 * changed.
 */

const { app, admin, emu } = useApp()

const OWN_CODES = new Set(
  fs
    .readFileSync(path.join(__dirname, '..', '..', '_i18n', 'messages.properties'), 'utf8')
    .split('\n')
    .map(l => /^([A-Z0-9_]+)=/.exec(l)?.[1])
    .filter(Boolean)
)
const UNKNOWN = '7e57c0de-0000-4000-8000-00000000dead'
const TEMPLATE = '6a1e2d3c-0001-4a5b-8c7d-000000000002'
const TABLES = ['Subaccounts', 'ServiceInstances', 'ServiceKeys', 'Registrations', 'Certificates', 'Templates', 'Findings', 'Operations']

let instance: { ID: string; name: string }
let key: { ID: string; name: string }

beforeAll(async () => {
  const created = await admin.post(`${API}/ServiceInstances`, { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'hostile-base' })
  instance = await waitFor(admin, `${API}/ServiceInstances(${created.data.ID})`, stateIs('Ready'))
  const k = await admin.post(`${API}/ServiceKeys`, { instance_ID: instance.ID, name: 'hostile-key' })
  key = await waitFor(admin, `${API}/ServiceKeys(${k.data.ID})`, stateIs('Ready'))
  await settle(admin)
})

type User = keyof typeof users
interface Case {
  name: string
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** relative to the service; a function when it needs the IDs made in beforeAll */
  url: string | (() => string)
  /** sent as is when a string (raw JSON text), else as JSON */
  body?: unknown
  raw?: string
  contentType?: string
  user?: User
  status: number
  /** the exact code, or undefined when any code of messages.properties will do (answers of other modules) */
  code?: string
}

const url = (c: Case) => (typeof c.url === 'function' ? c.url() : c.url)

async function rowCounts(): Promise<Record<string, number>> {
  const db = cds.entities('btp.provisioning')
  const counts: Record<string, number> = {}
  for (const t of TABLES) counts[t] = ((await SELECT.one.from(db[t]).columns('count(*) as n')) as { n: number }).n
  return counts
}
const smWrites = () => emu.calls.filter(c => c.method !== 'GET' && !c.path.startsWith('/oauth')).length

async function send(c: Case) {
  const { username, password } = users[c.user ?? 'admin']
  const data = c.raw !== undefined ? c.raw : c.body === undefined ? undefined : JSON.stringify(c.body)
  return app.axios.request({
    method: c.method,
    url: `${API}/${url(c)}`,
    data,
    auth: { username, password },
    headers: { 'content-type': c.contentType ?? 'application/json' },
    transformRequest: [d => d],
    validateStatus: () => true
  })
}

/** The error of an answer: top level, or the first failed request of a $batch. */
function errorOf(data: any): { code?: string; message?: string } | undefined {
  if (data?.error) return data.error
  const failed = data?.responses?.find((r: any) => r.status >= 400)
  return failed?.body?.error
}

async function check(c: Case) {
  const before = { counts: await rowCounts(), sm: smWrites() }
  const res = await send(c)
  const error = errorOf(typeof res.data === 'string' ? safeJson(res.data) : res.data)
  const status = res.data?.responses ? res.data.responses.find((r: any) => r.status >= 400)?.status ?? res.status : res.status
  expect({ status, code: error?.code }).toEqual({ status: c.status, code: c.code ?? error?.code })
  expect(OWN_CODES.has(error?.code ?? '')).toBe(true)
  const details = (error as { details?: { code: string; message: string }[] })?.details ?? []
  if (error?.code === 'MULTIPLE_ERRORS') expect(details.length).toBeGreaterThan(1)
  for (const detail of details) {
    expect(OWN_CODES.has(detail.code)).toBe(true)
    expect(typeof detail.message).toBe('string')
  }
  // echoed values are cut to 100 characters
  expect(error?.message?.length ?? 0).toBeLessThan(400)
  expect(error?.message).not.toMatch(/(.)\1{100}/)
  // still serving, nothing sent to Service Manager, no row changed
  expect((await admin.get(`${API}/Subaccounts(${SUB1})?$select=ID`)).status).toBe(200)
  expect(smWrites()).toBe(before.sm)
  expect(await rowCounts()).toEqual(before.counts)
}

function safeJson(text: string) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

// ---- the cases ------------------------------------------------------------------------------------

const NOT_OBJECTS: [string, string][] = [
  ['null', 'null'],
  ['a number', '42'],
  ['zero', '0'],
  ['true', 'true'],
  ['a string', '"text"'],
  ['an empty array', '[]'],
  ['an array of an entity', '[{"name":"x"}]']
]
const COLLECTIONS = ['ServiceInstances', 'ServiceKeys', 'Certificates', 'Registrations', 'Templates', 'Subaccounts']
const ENTRIES: [string, () => string][] = [
  ['Subaccounts', () => `Subaccounts(${SUB1})`],
  ['Templates', () => `Templates(${TEMPLATE})`],
  ['ServiceInstances', () => `ServiceInstances(${instance.ID})`],
  ['ServiceKeys', () => `ServiceKeys(${key.ID})`]
]

const bodies: Case[] = [
  ...COLLECTIONS.flatMap(set =>
    NOT_OBJECTS.map(([what, raw]): Case => ({ name: `POST ${set} with ${what}`, method: 'POST', url: set, raw, status: 400, code: 'BODY_NOT_OBJECT' }))
  ),
  ...ENTRIES.flatMap(([set, at]) =>
    NOT_OBJECTS.map(([what, raw]): Case => ({ name: `PATCH one of ${set} with ${what}`, method: 'PATCH', url: at, raw, status: 400, code: 'BODY_NOT_OBJECT' }))
  ),
  ...ENTRIES.slice(0, 2).flatMap(([set, at]) =>
    NOT_OBJECTS.slice(0, 3).map(([what, raw]): Case => ({ name: `PUT one of ${set} with ${what}`, method: 'PUT', url: at, raw, status: 400, code: 'BODY_NOT_OBJECT' }))
  ),
  ...['verify', 'rotate', 'revealCredentials'].flatMap(action =>
    NOT_OBJECTS.slice(0, 3).map(([what, raw]): Case => ({
      name: `action ${action} with ${what}`,
      method: 'POST',
      url: () => `ServiceKeys(${key.ID})/ProvisioningService.${action}`,
      raw,
      status: 400,
      code: 'BODY_NOT_OBJECT'
    }))
  ),
  ...(['viewer', 'reader', 'provisioner', 'nobody'] as User[]).map(
    (user): Case => ({ name: `POST ServiceInstances with null as ${user}`, method: 'POST', url: 'ServiceInstances', raw: 'null', user, status: 400, code: 'BODY_NOT_OBJECT' })
  ),
  { name: 'a body that is not JSON', method: 'POST', url: 'ServiceInstances', raw: '{"name":', status: 400, code: 'BODY_NOT_JSON' },
  ...NOT_OBJECTS.slice(0, 3).map(([what, raw]): Case => ({ name: `scanExpiry with ${what}`, method: 'POST', url: 'scanExpiry', raw, status: 400, code: 'BODY_NOT_OBJECT' })),
  ...['adopt', 'remove', 'ignore'].map((action): Case => ({ name: `finding ${action} with null`, method: 'POST', url: `Findings(${UNKNOWN})/ProvisioningService.${action}`, raw: 'null', status: 400, code: 'BODY_NOT_OBJECT' })),
  ...['syncCatalog', 'sweep'].map((action): Case => ({ name: `subaccount ${action} with null`, method: 'POST', url: `Subaccounts(${SUB1})/ProvisioningService.${action}`, raw: 'null', status: 400, code: 'BODY_NOT_OBJECT' })),
  { name: 'PATCH a certificate with null', method: 'PATCH', url: `Certificates(${UNKNOWN})`, raw: 'null', status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'POST a registration below a key with null', method: 'POST', url: () => `ServiceKeys(${key.ID})/registrations`, raw: 'null', status: 400, code: 'BODY_NOT_OBJECT' }
]

const batch = (requests: unknown): Case['raw'] => JSON.stringify({ requests })
const batches: Case[] = [
  ...NOT_OBJECTS.slice(0, 5).flatMap(([what, raw]): Case[] => [
    {
      name: `JSON $batch: POST ServiceInstances with ${what}`,
      method: 'POST',
      url: '$batch',
      raw: `{"requests":[{"id":"1","method":"POST","url":"/ServiceInstances","headers":{"content-type":"application/json"},"body":${raw}}]}`,
      status: 400,
      code: 'BODY_NOT_OBJECT'
    },
    {
      name: `JSON $batch: PATCH a subaccount with ${what}`,
      method: 'POST',
      url: '$batch',
      raw: `{"requests":[{"id":"1","method":"PATCH","url":"Subaccounts(${SUB1})","headers":{"content-type":"application/json"},"body":${raw}}]}`,
      status: 400,
      code: 'BODY_NOT_OBJECT'
    }
  ]),
  { name: 'JSON $batch that is null', method: 'POST', url: '$batch', raw: 'null', status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'JSON $batch whose requests are null', method: 'POST', url: '$batch', raw: '{"requests":null}', status: 400, code: 'BATCH_INVALID' },
  { name: 'JSON $batch with a null request', method: 'POST', url: '$batch', raw: batch([null]), status: 400, code: 'BATCH_INVALID' },
  { name: 'JSON $batch with a request without url', method: 'POST', url: '$batch', raw: batch([{ id: '1', method: 'GET' }]), status: 400, code: 'BATCH_INVALID' },
  {
    name: 'JSON $batch with a non-UUID key',
    method: 'POST',
    url: '$batch',
    raw: batch([{ id: '1', method: 'DELETE', url: 'ServiceInstances(abc)' }]),
    status: 400,
    code: 'ID_INVALID'
  },
  {
    name: 'JSON $batch with $top=-1',
    method: 'POST',
    url: '$batch',
    raw: batch([{ id: '1', method: 'GET', url: 'ServiceKeys?$top=-1' }]),
    status: 400,
    code: 'QUERY_OPTION_INVALID'
  },
  {
    name: 'JSON $batch with a deep insert',
    method: 'POST',
    url: '$batch',
    body: { requests: [{ id: '1', method: 'POST', url: 'ServiceInstances', headers: { 'content-type': 'application/json' }, body: { subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'deep', keys: [{ name: 'k' }] } }] },
    status: 400,
    code: 'DEEP_INSERT_NOT_SUPPORTED'
  },
  {
    name: 'JSON $batch reading an unknown instance',
    method: 'POST',
    url: '$batch',
    raw: batch([{ id: '1', method: 'GET', url: `ServiceInstances(${UNKNOWN})` }]),
    status: 404,
    code: 'INSTANCE_UNKNOWN'
  },
  {
    name: 'JSON $batch of a Viewer creating a template',
    method: 'POST',
    url: '$batch',
    user: 'viewer',
    raw: batch([{ id: '1', method: 'POST', url: 'Templates', headers: { 'content-type': 'application/json' }, body: { name: 'v', offeringName: 'x', planName: 'y' } }]),
    status: 403
  },
  { name: '$batch without a content type', method: 'POST', url: '$batch', raw: '', contentType: '', status: 400, code: 'BATCH_INVALID' },
  { name: '$batch as text/plain', method: 'POST', url: '$batch', raw: 'x', contentType: 'text/plain', status: 400, code: 'BATCH_INVALID' },
  ...[
    ['null', 'null'],
    ['a number', '7'],
    ['an array', '[]']
  ].map(
    ([what, raw]): Case => ({
      name: `multipart $batch: POST Certificates with ${what}`,
      method: 'POST',
      url: '$batch',
      raw: multipart('POST', 'Certificates', raw),
      contentType: 'multipart/mixed; boundary=batch_1',
      status: 400,
      code: 'BODY_NOT_OBJECT'
    })
  ),
  {
    name: 'multipart $batch in a change set: PATCH a subaccount with null',
    method: 'POST',
    url: '$batch',
    raw: multipart('PATCH', `Subaccounts(${SUB1})`, 'null', true),
    contentType: 'multipart/mixed; boundary=batch_1',
    status: 400,
    code: 'BODY_NOT_OBJECT'
  },
  {
    name: 'multipart $batch with a non-UUID key',
    method: 'POST',
    url: '$batch',
    raw: multipart('GET', 'ServiceKeys(xyz)', ''),
    contentType: 'multipart/mixed; boundary=batch_1',
    status: 400,
    code: 'ID_INVALID'
  }
]

function multipart(method: string, resource: string, body: string, changeSet = false): string {
  const request = [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    `${method} ${resource} HTTP/1.1`,
    'Content-Type: application/json',
    '',
    body
  ].join('\r\n')
  const inner = changeSet
    ? ['Content-Type: multipart/mixed; boundary=changeset_1', '', '--changeset_1', request, '--changeset_1--'].join('\r\n')
    : request
  return ['--batch_1', inner, '--batch_1--', ''].join('\r\n')
}

const BAD_IDS = ['abc', "'abc'", '1', 'ID=abc', '00000000-0000-0000-0000-00000000000g', 'x'.repeat(2000)]
const ids: Case[] = [
  ...BAD_IDS.flatMap((id): Case[] => [
    { name: `GET an instance by ${id.slice(0, 20)}`, method: 'GET', url: `ServiceInstances(${id})`, status: 400, code: 'ID_INVALID' },
    { name: `DELETE a key by ${id.slice(0, 20)}`, method: 'DELETE', url: `ServiceKeys(${id})`, status: 400, code: 'ID_INVALID' }
  ]),
  ...['refresh', 'verify', 'rotate', 'revealCredentials'].map(
    (action): Case => ({ name: `${action} on key abc`, method: 'POST', url: `ServiceKeys(abc)/ProvisioningService.${action}`, body: {}, status: 400, code: 'ID_INVALID' })
  ),
  { name: 'download on key abc', method: 'GET', url: 'ServiceKeys(abc)/ProvisioningService.downloadCredentials()', status: 400, code: 'ID_INVALID' },
  { name: 'PATCH a subaccount by a non-UUID', method: 'PATCH', url: 'Subaccounts(acme)', body: { displayName: 'x' }, status: 400, code: 'ID_INVALID' },
  { name: 'a key below an instance by a non-UUID', method: 'GET', url: () => `ServiceInstances(${instance.ID})/keys(abc)`, status: 400, code: 'ID_INVALID' },
  { name: 'DELETE a registration by a non-UUID', method: 'DELETE', url: 'Registrations(abc)', status: 400, code: 'ID_INVALID' },
  { name: 'GET a finding by a non-UUID', method: 'GET', url: 'Findings(abc)', status: 400, code: 'ID_INVALID' },
  { name: 'a URL with broken percent-encoding', method: 'GET', url: 'ServiceInstances(%E0%A4%A)', status: 400, code: 'URL_INVALID' }
]

const unknownIds: Case[] = [
  ...(
    [
      ['ServiceInstances', 'INSTANCE_UNKNOWN'],
      ['ServiceKeys', 'KEY_UNKNOWN'],
      ['Subaccounts', 'SUBACCOUNT_UNKNOWN'],
      ['Certificates', 'CERT_UNKNOWN'],
      ['Templates', 'TEMPLATE_UNKNOWN'],
      ['Findings', 'FINDING_UNKNOWN'],
      ['Registrations', 'REGISTRATION_UNKNOWN'],
      ['Operations', 'OPERATION_UNKNOWN'],
      ['ServiceOfferings', 'OFFERING_UNKNOWN'],
      ['ServicePlans', 'CATALOG_PLAN_UNKNOWN']
    ] as const
  ).map(([set, code]): Case => ({ name: `GET an unknown ${set}`, method: 'GET', url: `${set}(${UNKNOWN})`, status: 404, code })),
  ...(
    [
      ['ServiceInstances', 'INSTANCE_UNKNOWN'],
      ['ServiceKeys', 'KEY_UNKNOWN'],
      ['Certificates', 'CERT_UNKNOWN'],
      ['Templates', 'TEMPLATE_UNKNOWN'],
      ['Subaccounts', 'SUBACCOUNT_UNKNOWN']
    ] as const
  ).map(([set, code]): Case => ({ name: `DELETE an unknown ${set}`, method: 'DELETE', url: `${set}(${UNKNOWN})`, status: 404, code })),
  ...['refresh', 'verify', 'rotate', 'revealCredentials'].map(
    (action): Case => ({ name: `${action} on an unknown key`, method: 'POST', url: `ServiceKeys(${UNKNOWN})/ProvisioningService.${action}`, body: {}, status: 404, code: 'KEY_UNKNOWN' })
  ),
  { name: 'download of an unknown key', method: 'GET', url: `ServiceKeys(${UNKNOWN})/ProvisioningService.downloadCredentials()`, status: 404, code: 'KEY_UNKNOWN' },
  { name: 'PUT to an unknown subaccount does not create it under the client\'s key', method: 'PUT', url: `Subaccounts(${UNKNOWN})`, body: { displayName: 'x', subaccountId: SUB1 }, status: 404, code: 'SUBACCOUNT_UNKNOWN' },
  { name: 'PUT to an unknown template does not create it', method: 'PUT', url: `Templates(${UNKNOWN})`, body: { name: 't', offeringName: 'xsuaa', planName: 'application' }, status: 404, code: 'TEMPLATE_UNKNOWN' },
  { name: 'refresh of an unknown instance', method: 'POST', url: `ServiceInstances(${UNKNOWN})/ProvisioningService.refresh`, body: {}, status: 404, code: 'INSTANCE_UNKNOWN' },
  { name: 'syncCatalog of an unknown subaccount', method: 'POST', url: `Subaccounts(${UNKNOWN})/ProvisioningService.syncCatalog`, body: {}, status: 404, code: 'SUBACCOUNT_UNKNOWN' },
  { name: 'sweep of an unknown subaccount', method: 'POST', url: `Subaccounts(${UNKNOWN})/ProvisioningService.sweep`, body: {}, status: 404, code: 'SUBACCOUNT_UNKNOWN' },
  ...['adopt', 'remove', 'ignore'].map(
    (action): Case => ({ name: `${action} of an unknown finding`, method: 'POST', url: `Findings(${UNKNOWN})/ProvisioningService.${action}`, body: {}, status: 404, code: 'FINDING_UNKNOWN' })
  ),
  { name: 'an unknown entity set', method: 'GET', url: 'Secrets', status: 404, code: 'RESOURCE_UNKNOWN' }
]

const newInstance = (extra: Record<string, unknown>) => ({ subaccount_ID: SUB1, plan_ID: PLANS.sub1.xsuaaApplication, name: 'hostile-new', ...extra })
const newKey = (extra: Record<string, unknown>) => () => ({ instance_ID: instance.ID, name: 'hostile-new-key', ...extra })
const lazy = (c: Omit<Case, 'body'> & { body: () => unknown }): Case => c

const references: Case[] = [
  { name: 'instance with subaccount_ID "abc"', method: 'POST', url: 'ServiceInstances', body: newInstance({ subaccount_ID: 'abc' }), status: 400, code: 'REFERENCE_INVALID' },
  { name: 'instance with a number as plan_ID', method: 'POST', url: 'ServiceInstances', body: newInstance({ plan_ID: 5 }), status: 400, code: 'REFERENCE_INVALID' },
  { name: 'instance with template_ID "x"', method: 'POST', url: 'ServiceInstances', body: newInstance({ template_ID: 'x' }), status: 400, code: 'REFERENCE_INVALID' },
  { name: 'instance with an object as subaccount_ID', method: 'POST', url: 'ServiceInstances', body: newInstance({ subaccount_ID: { ID: SUB1 } }), status: 400, code: 'REFERENCE_INVALID' },
  { name: 'key with instance_ID "abc"', method: 'POST', url: 'ServiceKeys', body: { instance_ID: 'abc', name: 'k1' }, status: 400, code: 'REFERENCE_INVALID' },
  lazy({ name: 'key with certificate_ID "none"', method: 'POST', url: 'ServiceKeys', body: newKey({ credentialType: 'x509', certificate_ID: 'none' }), status: 400, code: 'REFERENCE_INVALID' }),
  { name: 'registration without consumer type and tenant', method: 'POST', url: 'Registrations', body: { serviceKey_ID: UNKNOWN }, status: 400, code: 'MULTIPLE_ERRORS' },
  { name: 'registration with serviceKey_ID "abc"', method: 'POST', url: 'Registrations', body: { serviceKey_ID: 'abc', consumerType: 'cloud-alm-landscape', tenant: 't1' }, status: 400, code: 'REFERENCE_INVALID' },
  { name: 'instance bound to Subaccounts(abc)', method: 'POST', url: 'ServiceInstances', body: { ...newInstance({}), subaccount_ID: undefined, 'subaccount@odata.bind': 'Subaccounts(abc)' }, status: 400, code: 'REFERENCE_INVALID' },
  { name: 'instance bound to a number', method: 'POST', url: 'ServiceInstances', body: { ...newInstance({}), 'plan@odata.bind': 7 }, status: 400, code: 'REFERENCE_INVALID' }
]

const clientKeys: Case[] = [
  lazy({ name: 'instance with the ID of an existing one', method: 'POST', url: 'ServiceInstances', body: () => newInstance({ ID: instance.ID }), status: 400, code: 'KEY_NOT_ALLOWED' }),
  { name: 'instance with a non-UUID ID', method: 'POST', url: 'ServiceInstances', body: newInstance({ ID: 'not-a-uuid' }), status: 400, code: 'KEY_NOT_ALLOWED' },
  { name: 'instance with a new UUID as ID', method: 'POST', url: 'ServiceInstances', body: newInstance({ ID: UNKNOWN }), status: 400, code: 'KEY_NOT_ALLOWED' },
  lazy({ name: 'key with an ID', method: 'POST', url: 'ServiceKeys', body: newKey({ ID: UNKNOWN }), status: 400, code: 'KEY_NOT_ALLOWED' }),
  { name: 'subaccount with an ID', method: 'POST', url: 'Subaccounts', body: { ID: SUB1, displayName: 'x', subaccountId: SUB1 }, status: 400, code: 'KEY_NOT_ALLOWED' },
  { name: 'template with an ID', method: 'POST', url: 'Templates', body: { ID: TEMPLATE, name: 'x', offeringName: 'xsuaa', planName: 'application' }, status: 400, code: 'KEY_NOT_ALLOWED' },
  { name: 'certificate with an ID', method: 'POST', url: 'Certificates', body: { ID: UNKNOWN, pem: 'x' }, status: 400, code: 'KEY_NOT_ALLOWED' },
  lazy({ name: 'registration with an ID', method: 'POST', url: 'Registrations', body: () => ({ ID: UNKNOWN, serviceKey_ID: key.ID, consumerType: 'c', tenant: 't' }), status: 400, code: 'KEY_NOT_ALLOWED' })
]

const deepInserts: Case[] = [
  { name: 'instance with keys', method: 'POST', url: 'ServiceInstances', body: newInstance({ keys: [{ name: 'deep-key' }] }), status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  { name: 'instance with an empty keys array', method: 'POST', url: 'ServiceInstances', body: newInstance({ keys: [] }), status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  { name: 'instance with operations', method: 'POST', url: 'ServiceInstances', body: newInstance({ operations: [{ type: 'create' }] }), status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  { name: 'instance with a nested subaccount', method: 'POST', url: 'ServiceInstances', body: { plan_ID: PLANS.sub1.xsuaaApplication, name: 'n', subaccount: { displayName: 'new' } }, status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  lazy({
    name: 'key with registrations',
    method: 'POST',
    url: 'ServiceKeys',
    body: newKey({ registrations: [{ consumerType: 'cloud-alm-landscape', tenant: 'a' }, { consumerType: 'cloud-alm-landscape', tenant: 'a' }] }),
    status: 400,
    code: 'DEEP_INSERT_NOT_SUPPORTED'
  }),
  lazy({ name: 'key with a nested certificate', method: 'POST', url: 'ServiceKeys', body: newKey({ credentialType: 'x509', certificate: { pem: 'x' } }), status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' }),
  { name: 'subaccount with instances', method: 'POST', url: 'Subaccounts', body: { displayName: 'x', subaccountId: SUB1, instances: [{ name: 'i' }] }, status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  { name: 'registrations bound to a key list', method: 'POST', url: 'ServiceKeys', body: { instance_ID: UNKNOWN, name: 'k', 'registrations@odata.bind': [] }, status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' },
  lazy({
    name: 'registrations below a key',
    method: 'POST',
    url: () => `ServiceKeys(${key.ID})/registrations`,
    body: () => ({ consumerType: 'c', tenant: 't', serviceKey: { name: 'other' } }),
    status: 400,
    code: 'DEEP_INSERT_NOT_SUPPORTED'
  })
]

const nest = (depth: number): Record<string, unknown> => {
  let v: Record<string, unknown> = { leaf: true }
  for (let i = 1; i < depth; i++) v = { a: v }
  return v
}
const nestText = (depth: number) => '{"a":'.repeat(depth - 1) + '{"leaf":true}' + '}'.repeat(depth - 1)
const big = (bytes: number) => ({ blob: 'x'.repeat(bytes) })

const parameters: Case[] = [
  { name: 'instance parameters 33 deep', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: nest(33) }), status: 400, code: 'PARAMETERS_TOO_DEEP' },
  { name: 'instance parameters 10,000 deep as text', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: nestText(10000) }), status: 400, code: 'PARAMETERS_TOO_DEEP' },
  { name: 'instance parameters of 65 KB', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: big(65 * 1024) }), status: 400, code: 'PARAMETERS_TOO_LARGE' },
  { name: 'instance parameters of 65 KB as text', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: JSON.stringify(big(65 * 1024)) }), status: 400, code: 'PARAMETERS_TOO_LARGE' },
  { name: 'instance parameters of 900 KB', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: JSON.stringify(big(900 * 1024)) }), status: 400, code: 'PARAMETERS_TOO_LARGE' },
  { name: 'instance parameters as an array', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: [1, 2] }), status: 400, code: 'PARAMETERS_NOT_OBJECT' },
  { name: 'instance parameters as a number', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: 5 }), status: 400, code: 'PARAMETERS_NOT_OBJECT' },
  { name: 'instance parameters as broken JSON text', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: '{"a":' }), status: 400, code: 'PARAMETERS_NOT_OBJECT' },
  { name: 'instance parameters with a password', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: { password: 'p' } }), status: 400, code: 'PARAMETERS_SECRET' },
  { name: 'instance parameters with a nested clientsecret', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: { oauth: { ClientSecret: 'p' } } }), status: 400, code: 'PARAMETERS_SECRET' },
  { name: 'instance parameters with a private_key in a list', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: { certs: [{ private_key: 'p' }] } }), status: 400, code: 'PARAMETERS_SECRET' },
  lazy({ name: 'key parameters with a password', method: 'POST', url: 'ServiceKeys', body: newKey({ parameters: { xsuaa: { password: 'p' } } }), status: 400, code: 'PARAMETERS_SECRET' }),
  lazy({ name: 'key parameters with a SECRET as text', method: 'POST', url: 'ServiceKeys', body: newKey({ parameters: '{"SECRET":"p"}' }), status: 400, code: 'PARAMETERS_SECRET' }),
  lazy({ name: 'key parameters with privateKey', method: 'POST', url: 'ServiceKeys', body: newKey({ credentialType: 'x509', parameters: { privateKey: 'p' } }), status: 400, code: 'PARAMETERS_SECRET' }),
  { name: 'instance parametersText 33 deep', method: 'POST', url: 'ServiceInstances', body: newInstance({ parametersText: nestText(33) }), status: 400, code: 'PARAMETERS_TOO_DEEP' },
  { name: 'instance parametersText with a password', method: 'POST', url: 'ServiceInstances', body: newInstance({ parametersText: '{"Password":"p"}' }), status: 400, code: 'PARAMETERS_SECRET' },
  { name: 'instance parametersText that is a list', method: 'POST', url: 'ServiceInstances', body: newInstance({ parametersText: '[1]' }), status: 400, code: 'PARAMETERS_NOT_OBJECT' },
  { name: 'instance parameters and parametersText both', method: 'POST', url: 'ServiceInstances', body: newInstance({ parameters: { a: 1 }, parametersText: '{"a":2}' }), status: 400, code: 'PARAMETERS_TWICE' },
  lazy({ name: 'key parametersText of 70 KB', method: 'POST', url: 'ServiceKeys', body: newKey({ parametersText: JSON.stringify(big(70 * 1024)) }), status: 400, code: 'PARAMETERS_TOO_LARGE' }),
  lazy({ name: 'key parameters 40 deep', method: 'POST', url: 'ServiceKeys', body: newKey({ parameters: nest(40) }), status: 400, code: 'PARAMETERS_TOO_DEEP' }),
  lazy({ name: 'key parameters of 70 KB', method: 'POST', url: 'ServiceKeys', body: newKey({ parameters: big(70 * 1024) }), status: 400, code: 'PARAMETERS_TOO_LARGE' }),
  { name: 'template parameters with a client_secret', method: 'POST', url: 'Templates', body: { name: 't', offeringName: 'xsuaa', planName: 'application', parameters: { client_secret: 'x' } }, status: 400, code: 'PARAMETERS_SECRET' },
  { name: 'template key parameters 33 deep', method: 'POST', url: 'Templates', body: { name: 't', offeringName: 'xsuaa', planName: 'application', keyParameters: nest(33) }, status: 400, code: 'PARAMETERS_TOO_DEEP' },
  { name: 'template parameters changed to a password', method: 'PATCH', url: `Templates(${TEMPLATE})`, body: { parameters: { password: 'x' } }, status: 400, code: 'PARAMETERS_SECRET' }
]

const environments: Case[] = [
  ...['mars', '', 'OTHER', 'cloud foundry'].map(
    (environment): Case => ({ name: `instance in environment "${environment}"`, method: 'POST', url: 'ServiceInstances', body: newInstance({ environment }), status: 400, code: 'ENVIRONMENT_INVALID' })
  ),
  { name: 'instance in environment 5', method: 'POST', url: 'ServiceInstances', body: newInstance({ environment: 5 }), status: 400, code: 'ENVIRONMENT_INVALID' },
  { name: 'template in environment mars', method: 'POST', url: 'Templates', body: { name: 't', offeringName: 'xsuaa', planName: 'application', environment: 'mars' }, status: 400, code: 'ENVIRONMENT_INVALID' },
  { name: 'template changed to environment mars', method: 'PATCH', url: `Templates(${TEMPLATE})`, body: { environment: 'mars' }, status: 400, code: 'ENVIRONMENT_INVALID' }
]

const queries: Case[] = [
  ...['ServiceInstances', 'ServiceKeys', 'Operations', 'Subaccounts', 'Certificates'].flatMap((set): Case[] => [
    { name: `${set} with $top=-1`, method: 'GET', url: `${set}?$top=-1`, status: 400, code: 'QUERY_OPTION_INVALID' },
    { name: `${set} with $skip=-1`, method: 'GET', url: `${set}?$skip=-1`, status: 400, code: 'QUERY_OPTION_INVALID' }
  ]),
  { name: '$top=abc', method: 'GET', url: 'ServiceKeys?$top=abc', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: '$top=1.5', method: 'GET', url: 'ServiceKeys?$top=1.5', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: '$top given twice', method: 'GET', url: 'ServiceKeys?$top=1&$top=2', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: '$top=-1 inside $expand', method: 'GET', url: 'ServiceInstances?$expand=keys($top=-1)', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: '$skip=-5 inside a nested $expand', method: 'GET', url: 'Subaccounts?$expand=instances($expand=keys($skip=-5))', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: 'the Me singleton with $top=-1', method: 'GET', url: 'Me?$top=-1', status: 400, code: 'QUERY_OPTION_INVALID' },
  { name: 'a $filter that does not parse', method: 'GET', url: "ServiceKeys?$filter=name eq 'x", status: 400 },
  { name: 'a $filter on an unknown element', method: 'GET', url: "ServiceKeys?$filter=secret eq 'x'", status: 400 }
]

const LONG = 'n'.repeat(90000)
const sizes: Case[] = [
  { name: 'instance name of 90,000 characters', method: 'POST', url: 'ServiceInstances', body: newInstance({ name: LONG }), status: 400, code: 'ASSERT_DATA_TYPE' },
  lazy({ name: 'key name of 90,000 characters', method: 'POST', url: 'ServiceKeys', body: newKey({ name: LONG }), status: 400, code: 'ASSERT_DATA_TYPE' }),
  { name: 'environment of 90,000 characters', method: 'POST', url: 'ServiceInstances', body: newInstance({ environment: LONG }), status: 400, code: 'ENVIRONMENT_INVALID' },
  { name: 'a body over the size limit (1 MB)', method: 'POST', url: 'Certificates', body: { pem: 'x'.repeat(1200 * 1024) }, status: 413, code: 'BODY_TOO_LARGE' },
  { name: 'a certificate of 200 KB', method: 'POST', url: 'Certificates', body: { pem: 'x'.repeat(200 * 1024) }, status: 400, code: 'CERT_TOO_LARGE' }
]

const roles: Case[] = [
  { name: 'a Viewer creates an instance', method: 'POST', url: 'ServiceInstances', body: newInstance({}), user: 'viewer', status: 403 },
  lazy({ name: 'a Viewer creates a key', method: 'POST', url: 'ServiceKeys', body: newKey({}), user: 'viewer', status: 403 }),
  { name: 'a CredentialReader deletes an instance', method: 'DELETE', url: `ServiceInstances(${UNKNOWN})`, user: 'reader', status: 403 },
  { name: 'a Provisioner creates a subaccount', method: 'POST', url: 'Subaccounts', body: { displayName: 'x', subaccountId: SUB1 }, user: 'provisioner', status: 403 },
  { name: 'a Viewer reveals credentials', method: 'POST', url: () => `ServiceKeys(${key.ID})/ProvisioningService.revealCredentials`, body: {}, user: 'viewer', status: 403 },
  { name: 'a Provisioner downloads credentials', method: 'GET', url: () => `ServiceKeys(${key.ID})/ProvisioningService.downloadCredentials()`, user: 'provisioner', status: 403 },
  { name: 'a Viewer changes a template', method: 'PATCH', url: `Templates(${TEMPLATE})`, body: { description: 'x' }, user: 'viewer', status: 403 },
  { name: 'changing an instance', method: 'PATCH', url: () => `ServiceInstances(${instance.ID})`, body: { name: 'renamed' }, status: 405, code: 'INSTANCE_IMMUTABLE' },
  { name: 'changing a key', method: 'PATCH', url: () => `ServiceKeys(${key.ID})`, body: { name: 'renamed' }, status: 405, code: 'KEY_IMMUTABLE' }
]

const CASES = { bodies, batches, ids, unknownIds, references, clientKeys, deepInserts, parameters, environments, queries, sizes, roles }

test('the corpus holds at least 150 cases', () => {
  expect(Object.values(CASES).flat().length).toBeGreaterThanOrEqual(150)
})

for (const [category, cases] of Object.entries(CASES)) {
  describe(category, () => {
    test.each(cases.map(c => [c.name, c] as const))('%s', async (_name, c) => {
      const body = typeof c.body === 'function' ? (c.body as () => unknown)() : c.body
      await check({ ...c, body })
    })
  })
}

// ---- named regressions and what stays allowed -------------------------------------------------------

describe('regressions', () => {
  const post = (resource: string, raw: string, contentType = 'application/json') =>
    send({ name: '', method: 'POST', url: resource, raw, contentType, status: 0 })

  test('null as the body of an instance create answers 400 and the server goes on', async () => {
    const res = await post('ServiceInstances', 'null')
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 400, code: 'BODY_NOT_OBJECT' })
    expect((await admin.get(`${API}/ServiceInstances(${instance.ID})`)).status).toBe(200)
  })

  test('null inside a JSON $batch answers 400 before any request of the batch runs', async () => {
    const before = await rowCounts()
    const res = await post(
      '$batch',
      batch([
        { id: '1', method: 'POST', url: 'Templates', headers: { 'content-type': 'application/json' }, body: { name: 'batch-t', offeringName: 'xsuaa', planName: 'application' } },
        { id: '2', method: 'POST', url: 'Certificates', headers: { 'content-type': 'application/json' }, body: null }
      ])!
    )
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 400, code: 'BODY_NOT_OBJECT' })
    expect(await rowCounts()).toEqual(before)
  })

  test('null inside a multipart $batch change set answers 400', async () => {
    const res = await post('$batch', multipart('POST', 'ServiceInstances', 'null', true), 'multipart/mixed; boundary=batch_1')
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 400, code: 'BODY_NOT_OBJECT' })
  })

  test('a client-supplied ID of an existing instance answers 400, not 500', async () => {
    const res = await admin.post(`${API}/ServiceInstances`, newInstance({ ID: instance.ID, name: 'hostile-dup' }))
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 400, code: 'KEY_NOT_ALLOWED' })
  })

  test('two registrations for one tenant cannot come in through a deep insert', async () => {
    const res = await admin.post(`${API}/ServiceKeys`, {
      instance_ID: instance.ID,
      name: 'hostile-deep',
      registrations: [{ consumerType: 'cloud-alm-landscape', tenant: 't1' }, { consumerType: 'cloud-alm-landscape', tenant: 't1' }]
    })
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 400, code: 'DEEP_INSERT_NOT_SUPPORTED' })
  })

  test('an action called with an empty JSON body still works', async () => {
    const res = await post(`ServiceInstances(${instance.ID})/ProvisioningService.refresh`, '')
    expect(res.status).toBe(200)
  })

  test('the Fiori apps\' multipart $batch create still works, the form\'s parametersText taken as the parameters', async () => {
    const res = await post(
      '$batch',
      multipart('POST', 'ServiceInstances', JSON.stringify(newInstance({ name: 'hostile-batch-ok', parametersText: '{"xsappname":"b"}' })), true),
      'multipart/mixed; boundary=batch_1'
    )
    expect(res.status).toBe(200)
    expect(res.data.responses.map((r: { status: number }) => r.status)).toEqual([201])
    const read = await admin.get(`${API}/ServiceInstances?$filter=${encodeURIComponent("name eq 'hostile-batch-ok'")}&$select=parametersText`)
    expect(read.data.value[0].parametersText).toBe(JSON.stringify({ xsappname: 'b' }, null, 2))
  })

  test('a secret in the form\'s parametersText inside a multipart $batch is refused', async () => {
    const res = await post(
      '$batch',
      multipart('POST', 'ServiceInstances', JSON.stringify(newInstance({ name: 'hostile-batch-secret', parametersText: '{"oauth":{"clientSecret":"s"}}' })), true),
      'multipart/mixed; boundary=batch_1'
    )
    expect([res.status, errorOf(res.data)?.code]).toEqual([400, 'PARAMETERS_SECRET'])
    const read = await admin.get(`${API}/ServiceInstances?$filter=${encodeURIComponent("name eq 'hostile-batch-secret'")}`)
    expect(read.data.value).toEqual([])
  })
})

describe('parameters as a JSON object', () => {
  test('an object is accepted, read back as the object (and as text for forms) and sent to Service Manager as an object', async () => {
    const parameters = { xsappname: 'hostile-obj', 'hide-secret': true, oauth2: { 'redirect-uris': ['https://x'] } }
    const res = await admin.post(`${API}/ServiceInstances`, newInstance({ name: 'hostile-obj', parameters }))
    expect(res.status).toBe(201)
    const read = await admin.get(`${API}/ServiceInstances(${res.data.ID})`)
    expect(read.data.parameters).toEqual(parameters)
    expect(JSON.parse(read.data.parametersText)).toEqual(parameters)
    await waitFor(admin, `${API}/ServiceInstances(${res.data.ID})`, stateIs('Ready'))
    const sent = emu.calls.find(c => c.method === 'POST' && c.path === '/v1/service_instances' && c.body?.name === 'hostile-obj')
    // (the emulator's record masks values under names that look secret)
    expect(sent?.body.parameters).toEqual({ ...parameters, 'hide-secret': '***' })
  })

  test('names that merely contain a secret word, and 32 levels, are allowed', async () => {
    const res = await admin.post(`${API}/ServiceKeys`, { instance_ID: instance.ID, name: 'hostile-k32', parameters: { 'hide-secret': true, secretless: nest(30) } })
    expect(res.status).toBe(201)
    await waitFor(admin, `${API}/ServiceKeys(${res.data.ID})`, stateIs('Ready'))
  })

  test('a template\'s parameters as an object', async () => {
    const res = await admin.post(`${API}/Templates`, { name: 'hostile-t', offeringName: 'xsuaa', planName: 'application', parameters: { xsappname: 'a' }, keyParameters: {} })
    expect(res.status).toBe(201)
    expect(JSON.parse(res.data.parameters)).toEqual({ xsappname: 'a' })
  })
})

describe('Service Manager 429 inside a request', () => {
  const reveal = () => app.axios.post(`${API}/ServiceKeys(${key.ID})/ProvisioningService.revealCredentials`, {}, { auth: users.reader, validateStatus: () => true })
  const bindingGets = () => emu.calls.filter(c => c.method === 'GET' && c.path === `/v1/service_bindings/${keySmId}`).length
  let keySmId: string
  beforeAll(async () => {
    keySmId = (await admin.get(`${API}/ServiceKeys(${key.ID})?$select=smId`)).data.smId
  })
  afterEach(() => emu.clearFaults())

  test('credential answers are not cached', async () => {
    const res = await reveal()
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const download = await app.axios.get(`${API}/ServiceKeys(${key.ID})/ProvisioningService.downloadCredentials()`, { auth: users.reader, validateStatus: () => true })
    expect(download.status).toBe(200)
    expect(download.headers['cache-control']).toBe('no-store')
  })

  test('a 429 that passes within 5 s is retried: the reveal succeeds', async () => {
    const before = bindingGets()
    emu.addFault({ method: 'GET', path: `/v1/service_bindings/${keySmId}`, status: 429, retryAfter: '0', times: 5 })
    const res = await reveal()
    expect(res.status).toBe(200)
    // the client tries a GET four times; the fifth and sixth attempt come from the request's own retry
    expect(bindingGets() - before).toBe(6)
  })

  test.each([
    ['seconds', () => '60'],
    ['an HTTP date', () => new Date(Date.now() + 60_000).toUTCString()],
    ['a Go-style date', () => new Date(Date.now() + 60_000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC')]
  ])('Retry-After in %s becomes a Retry-After in seconds', (_form, retryAfter) => {
    const e = new ServiceManagerError({ status: 429, code: 'TooManyRequests', retryAfterMs: parseRetryAfter(retryAfter()) })
    const answer = rateLimitAnswer(e)
    expect(answer).toMatchObject({ status: 503, code: 'SM_RATE_LIMITED' })
    expect(answer!.retryAfterSeconds).toBeGreaterThanOrEqual(59)
    expect(answer!.retryAfterSeconds).toBeLessThanOrEqual(60)
  })

  // the offerings' endpoint is held back for a minute afterwards; nothing later in the file lists offerings
  test('a catalog sync that meets a long 429 answers 503 SM_RATE_LIMITED, and the subaccount stays reachable', async () => {
    emu.addFault({ method: 'GET', path: '/v1/service_offerings', status: 429, retryAfter: '60', times: 1 })
    const started = Date.now()
    const res = await admin.post(`${API}/Subaccounts(${SUB1})/ProvisioningService.syncCatalog`, {})
    expect({ status: res.status, code: res.data.error?.code }).toEqual({ status: 503, code: 'SM_RATE_LIMITED' })
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(55)
    expect(Date.now() - started).toBeLessThan(5000)
    expect((await admin.get(`${API}/Subaccounts(${SUB1})?$select=health`)).data.health).not.toBe('unreachable')
  })

  // last in the file: the rate budget then holds back this subaccount's binding calls for a minute
  test('a 429 that outlasts 5 s answers 503 SM_RATE_LIMITED with Retry-After in seconds at once', async () => {
    emu.addFault({ method: 'GET', path: `/v1/service_bindings/${keySmId}`, status: 429, retryAfter: '60', times: 1 })
    const started = Date.now()
    const res = await reveal()
    expect({ status: res.status, code: res.data.error.code }).toEqual({ status: 503, code: 'SM_RATE_LIMITED' })
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(55)
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(61)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(Date.now() - started).toBeLessThan(5000)

    // while SM's pause lasts, the next reveal does not queue behind it: 503 at once, the pause's rest as Retry-After
    const again = Date.now()
    const next = await reveal()
    expect({ status: next.status, code: next.data.error.code }).toEqual({ status: 503, code: 'SM_RATE_LIMITED' })
    expect(Number(next.headers['retry-after'])).toBeGreaterThanOrEqual(50)
    expect(Date.now() - again).toBeLessThan(2000)
  })
})
