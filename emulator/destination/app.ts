/**
 * HTTP side of the Destination service emulator: the UAA token endpoint of the service keys (client
 * credentials), the subaccount-level destinations and certificates of the REST API
 * (/destination-configuration/v1/subaccountDestinations, /subaccountCertificates), the find API
 * (/destination-configuration/v1/destinations/{name}) that answers a destination with the tokens it fetched for
 * it, fault injection, the received-request log and the admin API (/__destination).
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import http from 'http'
import https from 'https'
import { createHmac, timingSafeEqual } from 'crypto'
import { newId, randomToken } from '../ids'
import { jsonText } from '../query'
import type {
  DestinationCertificate,
  DestinationConfiguration,
  DestinationEmulator,
  DestinationEmulatorOptions,
  DestinationFault,
  DestinationRecordedCall,
  DestinationServiceKey
} from './types'

type Obj = Record<string, unknown>

/** A value of a JSON answer or form as text ('' when absent). */
const asText = (v: unknown) => (v === undefined || v === null ? '' : jsonText(v))

/** What one subaccount's Destination service instance holds. */
export interface SubaccountStore {
  destinations: Map<string, DestinationConfiguration>
  certificates: Map<string, DestinationCertificate>
}

export interface DestinationAppDeps {
  keys: DestinationServiceKey[]
  stores: Map<string, SubaccountStore>
  calls: DestinationRecordedCall[]
  faults: DestinationFault[]
  opts: DestinationEmulatorOptions
  admin?: express.Router
}

class ApiError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message)
  }
}

// ---- tokens -------------------------------------------------------------------------------------------

export class DestinationTokens {
  private readonly key = randomToken(32)
  constructor(private readonly ttlSeconds: number) {}

  issue(key: DestinationServiceKey): { access_token: string; token_type: string; expires_in: number; scope: string; jti: string } {
    const now = Math.floor(Date.now() / 1000)
    const jti = newId()
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
    const payload = Buffer.from(
      JSON.stringify({ jti, client_id: key.clientid, cid: key.clientid, zid: key.subaccountId, ext_attr: { subaccountid: key.subaccountId }, grant_type: 'client_credentials', scope: ['uaa.resource'], iat: now, exp: now + this.ttlSeconds })
    ).toString('base64url')
    const sig = createHmac('sha256', this.key).update(`${header}.${payload}`).digest('base64url')
    return { access_token: `${header}.${payload}.${sig}`, token_type: 'bearer', expires_in: this.ttlSeconds, scope: 'uaa.resource', jti }
  }

  /** The subaccount a valid token belongs to. */
  verify(token: string): string | undefined {
    const [h, p, s] = token.split('.')
    if (!h || !p || !s) return undefined
    const expected = Buffer.from(createHmac('sha256', this.key).update(`${h}.${p}`).digest('base64url'))
    const given = Buffer.from(s)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { exp: number; zid: string }
    return claims.exp * 1000 > Date.now() ? claims.zid : undefined
  }
}

// ---- helpers --------------------------------------------------------------------------------------------

const SECRET_PROPERTIES = /secret|password|pass$|content|keystorepassword/i

function redact(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(redact)
  if (!body || typeof body !== 'object') return body
  const copy: Obj = { ...(body as Obj) }
  for (const k of Object.keys(copy)) if (SECRET_PROPERTIES.test(k)) copy[k] = '***'
  return copy
}

const NAME = /^[A-Za-z0-9_-]{1,200}$/

/** A destination as the REST API takes it: an object of string properties with a valid Name, Type and URL. */
function checkDestination(body: unknown): DestinationConfiguration {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'The destination must be a JSON object')
  const d: DestinationConfiguration = {}
  for (const [k, v] of Object.entries(body as Obj)) {
    if (v === null || v === undefined) continue
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ApiError(400, `Property ${k} must be a string`)
    d[k] = String(v)
  }
  if (!d.Name || !NAME.test(d.Name)) throw new ApiError(400, 'Name is missing or invalid (letters, digits, - and _, 200 characters at most)')
  if (!d.Type) throw new ApiError(400, 'Type is missing')
  if (d.Type === 'HTTP' && !d.URL) throw new ApiError(400, 'URL is missing')
  if (d.Authentication === 'OAuth2ClientCredentials') {
    if (!d.tokenServiceURL) throw new ApiError(400, 'tokenServiceURL is missing')
    if (!d.clientId) throw new ApiError(400, 'clientId is missing')
    if (!d.clientSecret && !d['tokenService.KeyStoreLocation']) throw new ApiError(400, 'clientSecret or tokenService.KeyStoreLocation is missing')
  }
  return d
}

function checkCertificate(body: unknown): DestinationCertificate {
  const c = (body ?? {}) as Obj
  if (typeof c.Name !== 'string' || !/^[A-Za-z0-9_.-]{1,200}$/.test(c.Name)) throw new ApiError(400, 'Name is missing or invalid')
  if (typeof c.Content !== 'string' || !c.Content) throw new ApiError(400, 'Content is missing')
  return { Name: c.Name, Type: typeof c.Type === 'string' ? c.Type : 'CERTIFICATE', Content: c.Content }
}

/** The PEM blocks of a certificate file: certificates and the private key. */
function pemParts(content: string): { cert: string; key: string } | undefined {
  const text = Buffer.from(content, 'base64').toString('utf8')
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(text)
  return certs && key ? { cert: certs.join('\n'), key: key[0] } : undefined
}

/** A client-credentials token from a token endpoint, with a secret (Basic) or a client certificate (mTLS). */
function fetchToken(
  tokenUrl: string,
  clientId: string,
  auth: { secret: string } | { cert: string; key: string },
  ca: string | undefined
): Promise<{ status: number; body: Obj }> {
  return new Promise((resolve, reject) => {
    const target = new URL(tokenUrl)
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId })
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
    if ('secret' in auth) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`
    // agent: false: a connection of its own, whatever the process's global agent holds (sockets, TLS sessions, options)
    const options = { method: 'POST', headers, timeout: 10_000, agent: false, ...('cert' in auth ? { cert: auth.cert, key: auth.key, ...(ca ? { ca } : {}) } : {}) }
    const req = (target.protocol === 'https:' ? https : http).request(target, options, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', c => (text += c))
      res.on('end', () => {
        let body: Obj
        try {
          body = JSON.parse(text) as Obj
        } catch {
          body = { error: text.slice(0, 200) }
        }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('timeout', () => req.destroy(new Error('token request timed out')))
    req.on('error', reject)
    req.end(form.toString())
  })
}

// ---- the app ----------------------------------------------------------------------------------------------

export function buildDestinationApp(deps: DestinationAppDeps, tokens: DestinationTokens): express.Express {
  const { keys, stores, calls, faults, opts } = deps
  const app = express()
  app.disable('x-powered-by')
  if (deps.admin) app.use('/__destination', deps.admin)
  app.use(express.json({ limit: '1mb' }))
  app.use(express.urlencoded({ extended: false }))

  // recording and faults: every call but the admin API's
  app.use((req: Request, res: Response, next: NextFunction) => {
    const parsed = req.body as unknown
    const body = parsed && typeof parsed === 'object' && Object.keys(parsed).length ? parsed : undefined
    const call: DestinationRecordedCall = { method: req.method, path: req.path, body: redact(body), status: 0, at: Date.now() }
    calls.push(call)
    res.locals.call = call
    res.on('finish', () => (call.status = res.statusCode))
    const idx = faults.findIndex(
      f => (!f.method || f.method.toUpperCase() === req.method) && (f.path === undefined || (typeof f.path === 'string' ? f.path === req.path : f.path.test(req.path)))
    )
    if (idx >= 0) {
      const f = faults[idx]
      f.times = (f.times ?? 1) - 1
      if (f.times <= 0) faults.splice(idx, 1)
      if (f.status !== undefined) {
        call.fault = 'status'
        return void res.status(f.status).json({ ErrorMessage: `Injected fault: ${f.status}` })
      }
      if (f.dropResponse) {
        call.fault = 'dropResponse'
        const destroy = () => req.socket.destroy()
        res.json = (() => (destroy(), res)) as typeof res.json
        res.end = (() => (destroy(), res)) as typeof res.end
        res.send = (() => (destroy(), res)) as typeof res.send
      }
    }
    next()
  })

  const log = opts.log === true ? (l: string) => console.log(l) : typeof opts.log === 'function' ? opts.log : undefined
  if (log) app.use((req, res, next) => (res.on('finish', () => log(`destination ${req.method} ${req.path} ${res.statusCode}`)), next()))

  // ---- UAA of the service keys ----------------------------------------------------------------------
  app.post('/oauth/token', (req, res) => {
    const basic = /^Basic (.+)$/i.exec(req.get('authorization') ?? '')
    const form = (req.body ?? {}) as { client_id?: unknown; client_secret?: unknown; grant_type?: unknown }
    const [id, secret] = basic ? Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent) : [asText(form.client_id), asText(form.client_secret)]
    if (form.grant_type !== 'client_credentials')
      return void res.status(400).json({ error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${form.grant_type === undefined ? 'undefined' : asText(form.grant_type)}` })
    const key = keys.find(k => k.clientid === id)
    const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
    if (!key || !secret || !same(key.clientsecret, secret)) return void res.status(401).json({ error: 'invalid_client', error_description: 'Bad credentials' })
    ;(res.locals.call as DestinationRecordedCall).subaccountId = key.subaccountId
    res.json(tokens.issue(key))
  })

  // ---- REST API: bearer token of a key, the key's subaccount --------------------------------------------
  const API = '/destination-configuration/v1'
  app.use(API, (req: Request, res: Response, next: NextFunction) => {
    const m = /^bearer (.+)$/i.exec(req.get('authorization') ?? '')
    const subaccountId = m ? tokens.verify(m[1]) : undefined
    if (!subaccountId) return void res.status(401).json({ ErrorMessage: 'Unauthorized: a valid bearer token of the Destination service is required' })
    ;(res.locals.call as DestinationRecordedCall).subaccountId = subaccountId
    res.locals.store = stores.get(subaccountId)
    res.locals.subaccountId = subaccountId
    next()
  })
  const store = (res: Response) => res.locals.store as SubaccountStore
  const route = (fn: (req: Request, res: Response) => unknown) => (req: Request, res: Response, next: NextFunction) => {
    void (async () => {
      try {
        await fn(req, res)
      } catch (e) {
        if (e instanceof ApiError) return void res.status(e.status).json({ ErrorMessage: e.message })
        next(e)
      }
    })()
  }

  app.get(`${API}/subaccountDestinations`, route((_req, res) => res.json([...store(res).destinations.values()])))
  app.get(`${API}/subaccountDestinations/:name`, route((req, res) => {
    const d = store(res).destinations.get(req.params.name)
    if (!d) throw new ApiError(404, 'Configuration with the specified name was not found')
    res.json(d)
  }))
  app.post(`${API}/subaccountDestinations`, route((req, res) => {
    const list = many(req.body).map(checkDestination)
    const s = store(res).destinations
    const taken = list.find(d => s.has(d.Name))
    if (taken) throw new ApiError(409, `Configuration with the same name [${taken.Name}] already exists`)
    for (const d of list) s.set(d.Name, d)
    res.status(201).end()
  }))
  app.put(`${API}/subaccountDestinations`, route((req, res) => {
    const list = many(req.body).map(checkDestination)
    const s = store(res).destinations
    const missing = list.find(d => !s.has(d.Name))
    if (missing) throw new ApiError(404, `Configuration with the specified name [${missing.Name}] was not found`)
    for (const d of list) s.set(d.Name, d)
    res.json({ Confirmation: 'Configuration updated' })
  }))
  app.delete(`${API}/subaccountDestinations/:name`, route((req, res) => {
    if (!store(res).destinations.delete(req.params.name)) throw new ApiError(404, 'Configuration with the specified name was not found')
    res.json({ Count: 1 })
  }))

  const certView = (c: DestinationCertificate) => ({ Name: c.Name, Type: c.Type, Content: c.Content })
  app.get(`${API}/subaccountCertificates`, route((_req, res) => res.json([...store(res).certificates.values()].map(certView))))
  app.get(`${API}/subaccountCertificates/:name`, route((req, res) => {
    const c = store(res).certificates.get(req.params.name)
    if (!c) throw new ApiError(404, 'Certificate with the specified name was not found')
    res.json(certView(c))
  }))
  app.post(`${API}/subaccountCertificates`, route((req, res) => {
    const c = checkCertificate(req.body)
    if (store(res).certificates.has(c.Name)) throw new ApiError(409, `Certificate with the same name [${c.Name}] already exists`)
    store(res).certificates.set(c.Name, c)
    res.status(201).end()
  }))
  app.put(`${API}/subaccountCertificates`, route((req, res) => {
    const c = checkCertificate(req.body)
    if (!store(res).certificates.has(c.Name)) throw new ApiError(404, `Certificate with the specified name [${c.Name}] was not found`)
    store(res).certificates.set(c.Name, c)
    res.json({ Confirmation: 'Certificate updated' })
  }))
  app.delete(`${API}/subaccountCertificates/:name`, route((req, res) => {
    if (!store(res).certificates.delete(req.params.name)) throw new ApiError(404, 'Certificate with the specified name was not found')
    res.json({ Count: 1 })
  }))

  // ---- find API: the destination with the tokens fetched for it ------------------------------------------
  app.get(`${API}/destinations/:name`, route(async (req, res) => {
    const s = store(res)
    const d = s.destinations.get(req.params.name)
    if (!d) throw new ApiError(404, 'Configuration with the specified name was not found')
    const answer: Obj = { owner: { SubaccountId: res.locals.subaccountId as string, InstanceId: null }, destinationConfiguration: d }
    const keyStore = d['tokenService.KeyStoreLocation']
    const cert = keyStore ? s.certificates.get(keyStore) : undefined
    if (cert) answer.certificates = [certView(cert)]
    if (d.Authentication === 'OAuth2ClientCredentials' && req.query.$skipTokenRetrieval !== 'true') {
      let auth: { secret: string } | { cert: string; key: string } | undefined
      if (keyStore) auth = cert ? pemParts(cert.Content) : undefined
      else auth = { secret: d.clientSecret }
      if (!auth) answer.authTokens = [{ type: '', value: '', error: `Certificate ${keyStore} is missing or holds no private key`, expires_in: '0' }]
      else {
        try {
          const t = await fetchToken(d.tokenServiceURL, d.clientId, auth, opts.trustedCa)
          const token = t.body.access_token
          answer.authTokens =
            t.status === 200 && typeof token === 'string'
              ? [{ type: 'bearer', value: token, expires_in: asText(t.body.expires_in), http_header: { key: 'Authorization', value: `Bearer ${token}` } }]
              : [{ type: '', value: '', error: `Retrieval of OAuth token failed: ${t.status} ${asText(t.body.error)}`.trim(), expires_in: '0' }]
        } catch (e) {
          answer.authTokens = [{ type: '', value: '', error: `Retrieval of OAuth token failed: ${(e as Error).message}`, expires_in: '0' }]
        }
      }
    }
    res.json(answer)
  }))

  app.use(API, (_req, res) => res.status(404).json({ ErrorMessage: 'Unknown request' }))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- express knows an error handler by its four parameters
  app.use((e: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if ((e as { type?: string })?.type === 'entity.parse.failed') return void res.status(400).json({ ErrorMessage: 'Invalid JSON' })
    res.status(500).json({ ErrorMessage: 'Internal error' })
  })
  return app
}

// ---- admin API ---------------------------------------------------------------------------------------------

/**
 * Admin API (option `admin`): for tests that run the app in another process. Never recorded, never faulted.
 *   POST   /__destination/faults   a fault or an array of faults (a RegExp path as `pathRegex`), 204
 *   DELETE /__destination/faults   204
 *   GET    /__destination/state    { destinations: { <subaccount>: [...] }, calls } (?since=<n>: calls[n..])
 *   POST   /__destination/reset    204
 */
export function destinationAdminRouter(emu: () => DestinationEmulator): express.Router {
  const router = express.Router()
  router.use(express.json())
  router.post('/faults', (req, res) => {
    for (const raw of many(req.body)) {
      const { pathRegex, ...rest } = raw as DestinationFault & { pathRegex?: string }
      emu().addFault({ ...rest, ...(pathRegex ? { path: new RegExp(pathRegex) } : {}) })
    }
    res.status(204).end()
  })
  router.delete('/faults', (_req, res) => (emu().clearFaults(), res.status(204).end()))
  router.get('/state', (req, res) => {
    const e = emu()
    const destinations = Object.fromEntries(e.keys.map(k => [k.subaccountId, e.destinations(k.subaccountId).map(d => redact(d))]))
    res.json({ destinations, calls: e.calls.slice(Number(req.query.since ?? 0) || 0) })
  })
  router.post('/reset', (_req, res) => (emu().reset(), res.status(204).end()))
  return router
}

function many(body: unknown): unknown[] {
  return Array.isArray(body) ? body : [body]
}
