/**
 * The express app: request intake (recording, faults, body), the UAA token endpoint, /v1 auth,
 * rate limits and the SM routes. Every response goes through reply(), which applies latency,
 * dropResponse and logging.
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import type { TLSSocket } from 'tls'
import type { EmulatorOptions, Fault, RecordedCall } from './types'
import type { Principal, TokenService } from './auth'
import { OFFERING_FIELDS, PLAN_FIELDS } from './catalog-index'
import { SmError, codeForStatus } from './errors'
import type { FaultBook } from './faults'
import { newId } from './ids'
import { jsonText } from './query'
import type { LimitCheck, RateLimiter } from './ratelimit'
import type { CallContext, Outcome, Store } from './store'
import type { EmulatorTenant } from './types'

const MAX_BODY_BYTES = 1024 * 1024

export interface AppDeps {
  store: Store
  tokens: TokenService
  faults: FaultBook
  limiter: RateLimiter
  calls: RecordedCall[]
  tenants: () => EmulatorTenant[]
  url: () => string
  opts: EmulatorOptions
  log?: (line: string) => void
  /** pending latency timers, cleared on close */
  timers: Set<NodeJS.Timeout>
  /** base URL of the mTLS token endpoint */
  certUrl: () => string
  /** 'plain' (default): SM API + token endpoint for secrets; 'mtls': the HTTPS token endpoint only */
  mode?: 'plain' | 'mtls'
  /** the admin API (opts.admin), mounted at /__emulator of the plain server before recording and faults */
  admin?: express.RequestHandler
  /** the emulator's clock for certificate validity and token expiry (moved by tests); the wall clock without it */
  now?: () => number
}

/** Per-request state kept in res.locals.emu */
interface Intake {
  record: RecordedCall
  fault?: Fault
  path: string
  query: Record<string, string>
  started: number
  contentType: string
  json?: unknown
  jsonError?: string
  form?: Record<string, string>
  tenant?: EmulatorTenant
}

const RESOURCE_PATH = /^\/v1\/service_(instances|bindings)(\/[^/]+)?\/?$/

function createsOperation(method: string, path: string): boolean {
  return ['POST', 'PATCH', 'DELETE'].includes(method.toUpperCase()) && RESOURCE_PATH.test(path)
}

function faultKind(f: Fault): string {
  if (f.resetConnection) return 'resetConnection'
  if (f.status !== undefined) return 'status'
  if (f.dropResponse) return 'dropResponse'
  if (f.delayResponseMs && f.delayResponseMs > 0) return 'delayResponse'
  return 'operation'
}

const SECRET_KEY = /secret|password/i

/** Deep copy with secret values replaced by '***'. */
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value) ? '***' : value
  if (Array.isArray(value)) return value.map(redact)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? '***' : redact(v)
    return out
  }
  return value
}

function redactRaw(text: string): string {
  return text
    .replace(/(client_?secret|password)=[^&\s]*/gi, '$1=***')
    .replace(/("[^"]*(?:secret|password)[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"***"')
    .slice(0, 2000)
}

function firstValues(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of params) if (!(k in out)) out[k] = v
  return out
}

function readBody(req: Request): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY_BYTES) {
        reject(new SmError(413, 'PayloadTooLarge', 'request body is too large'))
        req.removeAllListeners('data')
        req.resume()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(size > 0 ? Buffer.concat(chunks).toString('utf8') : undefined))
    req.on('error', reject)
  })
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const idx = decoded.indexOf(':')
  if (idx < 0) return undefined
  return { id: decoded.slice(0, idx), secret: decoded.slice(idx + 1) }
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
  return m?.[1]
}

export function buildApp(deps: AppDeps): express.Express {
  const { store, tokens, faults, limiter, opts } = deps
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)
  if (deps.admin && deps.mode !== 'mtls') app.use('/__emulator', deps.admin)

  const intakeOf = (res: Response): Intake => res.locals.emu as Intake

  const writeLog = (i: Intake, status: number, note?: string) => {
    if (!deps.log) return
    const ms = Date.now() - i.started
    deps.log(`[sm-emulator] ${i.record.method} ${i.path} ${status || '-'} ${ms}ms${note ? ' ' + note : ''}`)
  }

  /** The one place responses leave the emulator. */
  const reply = (res: Response, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const i = intakeOf(res)
    i.record.status = status
    const send = () => {
      if (res.headersSent || res.destroyed || res.socket?.destroyed) return
      if (i.fault?.dropResponse) {
        writeLog(i, status, '(response dropped)')
        res.socket?.destroy()
        return
      }
      res.status(status)
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
      res.json(body)
      writeLog(i, status)
    }
    const latency = (opts.requestLatencyMs ?? 0) + Math.max(0, i.fault?.delayResponseMs ?? 0)
    if (latency > 0) {
      const t = setTimeout(() => {
        deps.timers.delete(t)
        send()
      }, latency)
      deps.timers.add(t)
    } else {
      send()
    }
  }

  const replyError = (res: Response, e: unknown) => {
    if (e instanceof SmError) reply(res, e.status, e.body, e.headers)
    else reply(res, 500, { error: 'InternalError', description: e instanceof Error ? e.message : String(e) })
  }

  // --- intake: record, pick fault, reset, read body --------------------------------------------
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = Date.now()
    const url = new URL('http://emulator.local' + req.originalUrl)
    const query = firstValues(url.searchParams)
    const path = url.pathname
    const record: RecordedCall = { method: req.method, path, query: redact(query) as Record<string, string>, body: undefined, status: 0, at: started }
    if (deps.mode === 'mtls') record.mtls = true
    const h = req.headers
    const correlation = [h['x-correlationid'], h['x-correlation-id'], h['x-request-id'], h['x-vcap-request-id']].find(
      (v) => typeof v === 'string' && v
    ) as string | undefined
    if (correlation) record.correlationId = correlation
    deps.calls.push(record)
    const fault = faults.take(req.method, path, createsOperation(req.method, path))
    if (fault) record.fault = faultKind(fault)
    const intake: Intake = { record, fault, path, query, started, contentType: String(req.headers['content-type'] ?? '') }
    res.locals.emu = intake
    if (fault?.resetConnection) {
      writeLog(intake, 0, '(connection reset)')
      req.socket.destroy()
      return
    }
    readBody(req).then(
      (text) => {
        if (text !== undefined) {
          const ct = intake.contentType.toLowerCase()
          if (/^application\/([\w.+-]+\+)?json\b/.test(ct)) {
            try {
              intake.json = JSON.parse(text)
              record.body = redact(intake.json)
            } catch (e) {
              intake.jsonError = e instanceof Error ? e.message : 'invalid JSON'
              record.body = redactRaw(text)
            }
          } else if (ct === '' || ct.startsWith('application/x-www-form-urlencoded')) {
            intake.form = firstValues(new URLSearchParams(text))
            record.body = redact(intake.form)
          } else {
            record.body = redactRaw(text)
          }
        }
        next()
      },
      (e) => replyError(res, e)
    )
  })

  // --- attribution (best effort, for the record) and status faults ----------------------------
  app.use((req: Request, res: Response, next: NextFunction) => {
    const i = intakeOf(res)
    const tok = bearer(req)
    if (tok) i.record.subaccountId = tokens.verify(tok, (deps.now ?? Date.now)())?.subaccountId
    else {
      const id = basicCredentials(req.headers.authorization)?.id ?? i.form?.client_id ?? i.query.client_id
      if (id) i.record.subaccountId = (tokens.lookupClient(id) ?? tokens.lookupClient(formDecode(id)))?.subaccountId
    }
    const f = i.fault
    if (f && f.status !== undefined) {
      const headers: Record<string, string> = {}
      if (f.retryAfter !== undefined) headers['Retry-After'] = f.retryAfter
      const body = f.body !== undefined ? f.body : { error: codeForStatus(f.status), description: `injected fault: HTTP ${f.status}` }
      reply(res, f.status, body, headers)
      return
    }
    next()
  })

  // --- UAA ------------------------------------------------------------------------------------
  app.post('/oauth/token', (req: Request, res: Response) => {
    const i = intakeOf(res)
    const params: Record<string, unknown> = { ...i.query, ...(i.json && typeof i.json === 'object' ? (i.json) : {}), ...(i.form ?? {}) }
    const tokenError = (status: number, error: string, description: string) =>
      reply(res, status, { error, error_description: description }, { 'Cache-Control': 'no-store' })
    let creds = basicCredentials(req.headers.authorization)
    if (!creds && typeof params.client_id === 'string') {
      creds = { id: params.client_id, secret: typeof params.client_secret === 'string' ? params.client_secret : '' }
    }
    if (!creds) return tokenError(401, 'unauthorized', 'Full authentication is required to access this resource')
    let principal: Principal | undefined
    if (deps.mode === 'mtls') {
      if (creds.secret) {
        principal = tokens.authenticate(creds.id, creds.secret) ?? tokens.authenticate(formDecode(creds.id), formDecode(creds.secret))
        if (!principal) return tokenError(401, 'invalid_client', 'Bad credentials')
      } else {
        const id = tokens.lookupClient(creds.id) ? creds.id : formDecode(creds.id)
        const cert = (req.socket as TLSSocket).getPeerX509Certificate?.()
        const auth = tokens.authenticateCertificate(id, cert, (deps.now ?? Date.now)())
        if (!auth.ok) return tokenError(401, 'invalid_client', auth.description)
        principal = auth.principal
      }
    } else {
      const x509Client = [creds.id, formDecode(creds.id)].find((id) => tokens.usesCertificate(id))
      if (x509Client) {
        return tokenError(
          401,
          'invalid_client',
          `client ${x509Client} authenticates with an X.509 certificate: mTLS is required, request the token at ${deps.certUrl()}/oauth/token presenting the binding certificate`
        )
      }
      principal = tokens.authenticate(creds.id, creds.secret) ?? tokens.authenticate(formDecode(creds.id), formDecode(creds.secret))
      if (!principal) return tokenError(401, 'invalid_client', 'Bad credentials')
    }
    i.record.subaccountId = principal.subaccountId
    const grant = params.grant_type
    if (grant === undefined || grant === '') return tokenError(400, 'invalid_request', 'Missing grant type')
    if (grant !== 'client_credentials') return tokenError(400, 'unsupported_grant_type', `Unsupported grant type: ${jsonText(grant)}`)
    reply(res, 200, tokens.issue(principal, (deps.now ?? Date.now)()), { 'Cache-Control': 'no-store', Pragma: 'no-cache' })
  })

  app.get('/.well-known/openid-configuration', (_req: Request, res: Response) => {
    const base = deps.url()
    reply(res, 200, {
      issuer: `${base}/oauth/token`,
      token_endpoint: `${base}/oauth/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'tls_client_auth'],
      mtls_endpoint_aliases: { token_endpoint: `${deps.certUrl()}/oauth/token` }
    })
  })

  const notFoundRoute = (req: Request, res: Response) => {
    reply(res, 404, { error: 'NotFound', description: `no route for ${req.method} ${intakeOf(res).path}` })
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- express knows an error handler by its four parameters
  const errorHandler = (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (!res.locals.emu) {
      res.status(400).json({ error: 'BadRequest', description: 'malformed request' })
      return
    }
    replyError(res, err)
  }

  if (deps.mode === 'mtls') {
    // the cert host is a UAA host only
    app.use(notFoundRoute)
    app.use(errorHandler)
    return app
  }

  app.get('/v1/info', (_req: Request, res: Response) => {
    reply(res, 200, { token_issuer_url: deps.url(), token_basic_auth: false })
  })

  // --- /v1: auth, rate limit, settle, JSON body -----------------------------------------------
  app.use('/v1', (req: Request, res: Response, next: NextFunction) => {
    const i = intakeOf(res)
    const tok = bearer(req)
    const unauthorized = (description: string) =>
      reply(res, 401, { error: 'Unauthorized', description }, { 'WWW-Authenticate': 'Bearer realm="service-manager"' })
    if (!tok) return unauthorized('authentication required: Authorization: Bearer <token>')
    const info = tokens.verify(tok, (deps.now ?? Date.now)())
    if (!info) return unauthorized('invalid or expired token')
    if (info.kind !== 'tenant') {
      return reply(res, 403, { error: 'Forbidden', description: 'the token was not issued to a Service Manager client' })
    }
    const tenant = deps.tenants().find((t) => t.subaccountId === info.subaccountId && t.clientid === info.clientid)
    if (!tenant) return unauthorized('the token belongs to an unknown tenant')
    i.tenant = tenant
    i.record.subaccountId = tenant.subaccountId

    const rl = opts.rateLimit
    if (rl) {
      const checks: LimitCheck[] = []
      if (rl.perMinute !== undefined) checks.push({ category: 'all', limit: rl.perMinute })
      if (rl.instanceCreatesPerMinute !== undefined && req.method === 'POST' && /^\/v1\/service_instances\/?$/.test(i.path)) {
        checks.push({ category: 'instance-create', limit: rl.instanceCreatesPerMinute })
      }
      if (rl.bindingsPerMinute !== undefined && i.path.startsWith('/v1/service_bindings')) {
        checks.push({ category: 'bindings', limit: rl.bindingsPerMinute })
      }
      const retryAfter = checks.length ? limiter.hit(tenant.subaccountId, checks, Date.now()) : undefined
      if (retryAfter !== undefined) {
        return reply(
          res,
          429,
          { error: 'TooManyRequests', description: 'rate limit exceeded, retry later' },
          { 'Retry-After': String(retryAfter) }
        )
      }
    }

    store.settle(Date.now())

    if (req.method === 'POST' || req.method === 'PATCH') {
      if (!/^application\/json\b/i.test(i.contentType)) {
        return reply(res, 400, { error: 'BadRequest', description: 'unsupported media type: Content-Type must be application/json' })
      }
      if (i.jsonError) return reply(res, 400, { error: 'BadRequest', description: `request body is not valid JSON: ${i.jsonError}` })
    }
    next()
  })

  const ctxOf = (req: Request, res: Response): CallContext => {
    const i = intakeOf(res)
    const h = req.headers
    const correlation = [h['x-correlationid'], h['x-correlation-id'], h['x-request-id'], h['x-vcap-request-id']].find(
      (v) => typeof v === 'string' && v
    ) as string | undefined
    return {
      tenant: i.tenant!,
      now: Date.now(),
      query: i.query,
      opFault: i.fault,
      correlationId: correlation ?? newId()
    }
  }

  type Handler = (ctx: CallContext, req: Request, body: unknown) => Outcome | Promise<Outcome>
  const route = (fn: Handler) => (req: Request, res: Response) => {
    try {
      const out = fn(ctxOf(req, res), req, intakeOf(res).json)
      if (out instanceof Promise) {
        out.then(
          (o) => reply(res, o.status, o.body, o.headers),
          (e) => replyError(res, e)
        )
      } else {
        reply(res, out.status, out.body, out.headers)
      }
    } catch (e) {
      replyError(res, e)
    }
  }
  const p = (req: Request, name: string) => String(req.params[name])

  app.get('/v1/service_offerings', route((c) => store.listOfferings(c, '/v1/service_offerings', OFFERING_FIELDS)))
  app.get('/v1/service_offerings/:id', route((c, r) => store.getOffering(c, p(r, 'id'))))
  app.get('/v1/service_plans', route((c) => store.listPlans(c, '/v1/service_plans', PLAN_FIELDS)))
  app.get('/v1/service_plans/:id', route((c, r) => store.getPlan(c, p(r, 'id'))))

  app.get('/v1/service_instances', route((c) => store.listInstances(c)))
  app.post('/v1/service_instances', route((c, _r, b) => store.createInstance(c, b)))
  app.get('/v1/service_instances/:id', route((c, r) => store.getInstance(c, p(r, 'id'))))
  app.patch('/v1/service_instances/:id', route((c, r, b) => store.updateInstance(c, p(r, 'id'), b)))
  app.delete('/v1/service_instances/:id', route((c, r) => store.deleteInstance(c, p(r, 'id'))))
  app.get('/v1/service_instances/:id/parameters', route((c, r) => store.instanceParameters(c, p(r, 'id'))))
  app.get(
    '/v1/service_instances/:id/operations/:op',
    route((c, r) => store.getOperation(c, 'service_instances', p(r, 'id'), p(r, 'op')))
  )

  app.get('/v1/service_bindings', route((c) => store.listBindings(c)))
  app.post('/v1/service_bindings', route((c, _r, b) => store.createBinding(c, b)))
  app.get('/v1/service_bindings/:id', route((c, r) => store.getBinding(c, p(r, 'id'))))
  app.patch('/v1/service_bindings/:id', route((c, r, b) => store.updateBinding(c, p(r, 'id'), b)))
  app.delete('/v1/service_bindings/:id', route((c, r) => store.deleteBinding(c, p(r, 'id'))))
  app.get('/v1/service_bindings/:id/parameters', route((c, r) => store.bindingParameters(c, p(r, 'id'))))
  app.get(
    '/v1/service_bindings/:id/operations/:op',
    route((c, r) => store.getOperation(c, 'service_bindings', p(r, 'id'), p(r, 'op')))
  )

  app.use(notFoundRoute)
  app.use(errorHandler)

  return app
}
