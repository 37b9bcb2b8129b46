import axios from 'axios'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startJwtIssuer, type JwtIssuer } from '../fixtures/jwt-issuer'
import { API, SUB1, SUB2, eventually, waitFor, type Client } from '../helpers'
import { ROOT, run, spawnUntil, stopAll, tail, type Proc } from '../resilience/support'
import { CDS_LISTENING, onLoopback } from '../support/process'
import { startConsumer } from './support'

/**
 * Another CAP service as a consumer, as two processes: this service (`cds-tsx serve`) with the production
 * authentication (XSUAA, tokens of the local issuer), and examples/consumer (`cds-tsx serve` in its folder).
 * The consumer calls our OData API as its own technical user (a client-credentials token of its application,
 * holding our Provisioner and Viewer scopes as authorities), mapped by an Administrator to subaccount 1; our
 * key events reach it through file-based messaging on one file both processes share.
 */

jest.setTimeout(120_000)

const XSAPPNAME = 'service-key-manager-consumer-test!t4712'
const CLIENTID = `sb-${XSAPPNAME}`
const CONSUMER = 'skm-consumer-app!t4713'
const CONSUMER_CLIENT = `sb-${CONSUMER}`
const BIN = path.join(ROOT, 'node_modules', '.bin')
/** Integration Assessment APIs (seed 001): a client-secret key */
const TEMPLATE = '6a1e2d3c-0001-4a5b-8c7d-000000000002'
const CONSUMER_API = '/odata/v4/consumer'
/** what a key event carries, and nothing else (docs/events.md) */
const KEY_READY_FIELDS = ['credentialType', 'instance', 'name', 'purpose', 'serviceKey', 'subaccount']
const KEY_ROTATED_FIELDS = ['instance', 'name', 'reason', 'retireAt', 'rotatedFrom', 'rotatedFromName', 'serviceKey', 'subaccount']
const KEY_DELETED_FIELDS = ['instance', 'name', 'serviceKey', 'subaccount']

let issuer: JwtIssuer
let dir: string
let skm: Proc
let consumer: Proc
let admin: Client
let app: Client

function client(baseURL: string, headers: Record<string, string>): Client {
  const http = axios.create({ baseURL, headers, validateStatus: () => true })
  return {
    get: (url: string) => http.get(url),
    post: (url: string, body: unknown) => http.post(url, body),
    patch: (url: string, body: unknown) => http.patch(url, body),
    delete: (url: string) => http.delete(url)
  }
}

beforeAll(async () => {
  issuer = await startJwtIssuer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skm-consumer-'))
  const ca = path.join(dir, 'issuer-ca.pem')
  fs.writeFileSync(ca, issuer.caPem)
  // the one file both processes exchange messages through
  const messages = path.join(dir, 'messages')

  const started = await spawnUntil(
    'consumer-skm',
    path.join(BIN, 'cds-tsx'),
    ['serve', '--port', '0'],
    {
      NODE_ENV: 'test',
      CDS_TYPESCRIPT: 'true',
      CDS_PLUGIN_UI5_ACTIVE: 'false',
      HOST: '127.0.0.1',
      PORT: undefined,
      // xssec fetches the issuer's keys over HTTPS
      NODE_EXTRA_CA_CERTS: ca,
      CDS_CONFIG: JSON.stringify({
        requires: {
          auth: { kind: 'xsuaa', credentials: { clientid: CLIENTID, xsappname: XSAPPNAME, uaadomain: issuer.uaadomain, url: issuer.url, identityzone: 'test' } },
          messaging: { kind: 'file-based-messaging', file: messages }
        },
        // a rotated key is deleted a second after its successor took over
        provisioning: { rotationOverlap: '1s', expiryScanInterval: '1h' },
        log: { levels: { orchestrator: 'warn', queue: 'warn', 'persistent-queue': 'warn' } }
      })
    },
    CDS_LISTENING
  )
  skm = started.proc
  const skmUrl = onLoopback(started.match[1])

  const adminToken = await issuer.token({
    scope: ['openid', ...['Administrator', 'Provisioner', 'CredentialReader', 'Viewer'].map(r => `${XSAPPNAME}.${r}`)],
    aud: [XSAPPNAME, CLIENTID],
    cid: CLIENTID,
    azp: CLIENTID
  })
  admin = client(skmUrl, { authorization: `Bearer ${adminToken}` })
  // an Administrator lets the consumer application use subaccount 1
  const entry = await admin.post(`${API}/ConsumerApps`, { clientId: CONSUMER_CLIENT, description: 'examples/consumer' })
  expect(entry.status).toBe(201)
  expect((await admin.post(`${API}/ConsumerAppSubaccounts`, { app_ID: entry.data.ID, subaccount_ID: SUB1 })).status).toBe(201)

  // the consumer application's own token, as its XSUAA instance issues it: our scopes are its authorities
  const consumerToken = await issuer.token({
    claims: {
      grant_type: 'client_credentials',
      scope: ['uaa.resource', `${XSAPPNAME}.Provisioner`, `${XSAPPNAME}.Viewer`],
      aud: [XSAPPNAME, CONSUMER_CLIENT],
      cid: CONSUMER_CLIENT,
      azp: CONSUMER_CLIENT,
      sub: CONSUMER_CLIENT,
      client_id: CONSUMER_CLIENT
    },
    expiresIn: 3600
  })
  const other = await startConsumer('consumer-app', {
    credentials: { url: `${skmUrl}${API}`, authentication: 'NoAuthentication', username: null, password: null, headers: { authorization: `Bearer ${consumerToken}` } },
    messages
  })
  consumer = other.proc
  app = other.http
}, 120_000)

afterAll(async () => {
  await stopAll()
  await issuer?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

const logs = () => `\n--- service key manager ---\n${tail(skm?.output() ?? '', 30)}\n--- consumer ---\n${tail(consumer?.output() ?? '', 30)}`

async function events(serviceKey: string, event: string) {
  const res = await app.get(`${CONSUMER_API}/ReceivedEvents?$filter=serviceKey eq ${serviceKey} and event eq '${event}'`)
  return (res.data.value ?? []).map((e: { data: string }) => JSON.parse(e.data) as Record<string, unknown>)
}

describe('a CAP service consumes keys: provision through OData, events through messaging', () => {
  let keyId: string
  let instanceId: string

  test('the consumer asks for a key with provision, as its own technical user, in the subaccount it is mapped to', async () => {
    const res = await app.post(`${CONSUMER_API}/requestKey`, { template: TEMPLATE, subaccount: SUB1, instanceName: 'consumer-intas', keyName: 'consumer-intas-key' })
    expect([res.status, res.data.status]).toEqual([200, 'running'])
    keyId = res.data.serviceKey
    instanceId = res.data.instance
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/)
    // our records say who asked: the consumer application's client ID
    const inst = await admin.get(`${API}/ServiceInstances(${instanceId})?$select=createdBy`)
    expect(inst.data.createdBy).toBe(CONSUMER_CLIENT)
  })

  test('KeyReady reaches the consumer, which then reads the key\'s non-secret fields from our API', async () => {
    const kept = await waitFor(app, `${CONSUMER_API}/Keys(${keyId})`, k => k.state === 'Ready' && !!k.clientId, 60_000).catch(e => {
      throw new Error(`${(e as Error).message}${logs()}`)
    })
    const ours = (await admin.get(`${API}/ServiceKeys(${keyId})?$select=name,clientId,tokenUrl,apiUrl,credentialType`)).data
    expect(kept).toMatchObject({ name: 'consumer-intas-key', subaccount: SUB1, instance: instanceId, clientId: ours.clientId, tokenUrl: ours.tokenUrl, apiUrl: ours.apiUrl, credentialType: 'binding-secret' })
    expect(ours.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/token$/)
    const [ready] = await events(keyId, 'KeyReady')
    expect(Object.keys(ready).sort()).toEqual(KEY_READY_FIELDS)
    expect(ready).toMatchObject({ serviceKey: keyId, name: 'consumer-intas-key', instance: instanceId, subaccount: SUB1, credentialType: 'binding-secret' })
    // the secret never leaves Service Manager: not in the events, not in what the consumer could read
    const secret = JSON.parse((await admin.post(`${API}/ServiceKeys(${keyId})/revealCredentials`, {})).data.value).clientsecret as string
    expect(secret.length).toBeGreaterThan(8)
    const everything = JSON.stringify([(await app.get(`${CONSUMER_API}/ReceivedEvents`)).data, (await app.get(`${CONSUMER_API}/Keys`)).data])
    expect(everything).not.toContain(secret)
    expect(fs.readFileSync(path.join(dir, 'messages'), 'utf8')).not.toContain(secret)
  })

  test('a rotation reaches the consumer as KeyRotated (the new key\'s fields), and the old key\'s end as KeyDeleted', async () => {
    const rotate = await admin.post(`${API}/ServiceKeys(${keyId})/rotate`, {})
    expect(rotate.status).toBe(200)
    const successor = rotate.data.ID as string
    const old = await waitFor(app, `${CONSUMER_API}/Keys(${keyId})`, k => k.rotatedTo === successor && k.deleted === true, 60_000).catch(e => {
      throw new Error(`${(e as Error).message}${logs()}`)
    })
    expect(old.state).toBe('Deleted')
    const next = (await app.get(`${CONSUMER_API}/Keys(${successor})`)).data
    const ours = (await admin.get(`${API}/ServiceKeys(${successor})?$select=name,clientId`)).data
    expect(next).toMatchObject({ state: 'Ready', name: ours.name, clientId: ours.clientId, subaccount: SUB1, deleted: false })
    const [rotated] = await events(successor, 'KeyRotated')
    expect(Object.keys(rotated).sort()).toEqual(KEY_ROTATED_FIELDS)
    expect(rotated).toMatchObject({ serviceKey: successor, rotatedFrom: keyId, rotatedFromName: 'consumer-intas-key' })
    const [deleted] = await events(keyId, 'KeyDeleted')
    expect(Object.keys(deleted).sort()).toEqual(KEY_DELETED_FIELDS)
    // the successor was announced before the old key was gone
    const order = (await app.get(`${CONSUMER_API}/ReceivedEvents?$orderby=receivedAt&$select=event,serviceKey`)).data.value as { event: string; serviceKey: string }[]
    const at = (event: string, key: string) => order.findIndex(e => e.event === event && e.serviceKey === key)
    expect(at('KeyRotated', successor)).toBeGreaterThanOrEqual(0)
    expect(at('KeyRotated', successor)).toBeLessThan(at('KeyDeleted', keyId))
  })

  test('outside its subaccounts the consumer gets nothing: provision refused, a key event there not followed up', async () => {
    const refused = await app.post(`${CONSUMER_API}/requestKey`, { template: TEMPLATE, subaccount: SUB2, instanceName: 'consumer-elsewhere', keyName: 'consumer-elsewhere-key' })
    expect([refused.status, refused.data.error?.message]).toEqual([400, `Subaccount ${SUB2} is not registered.`])
    expect((await admin.get(`${API}/ServiceInstances?$filter=name eq 'consumer-elsewhere'&$select=ID`)).data.value).toEqual([])
    // a key an Administrator makes in subaccount 2: the event arrives, but the consumer cannot read the key
    const made = await admin.post(`${API}/provision`, { template: TEMPLATE, subaccount: SUB2, instanceName: 'admin-elsewhere', keyName: 'admin-elsewhere-key' })
    expect(made.status).toBe(200)
    const key = made.data.serviceKey as string
    await eventually(() => events(key, 'KeyReady'), { what: 'KeyReady at the consumer', until: e => e.length > 0, timeout: 60_000, interval: 200 })
    expect((await events(key, 'KeyReady')).length).toBe(1)
    expect((await app.get(`${CONSUMER_API}/Keys(${key})`)).status).toBe(404)
  })
})

test('the consumer\'s TypeScript passes the type check (its own tsconfig, as `npm run typecheck -w examples/consumer`)', async () => {
  await expect(run(path.join(BIN, 'tsc'), ['-p', 'examples/consumer'])).resolves.toBe('')
})
