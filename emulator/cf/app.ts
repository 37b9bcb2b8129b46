/**
 * HTTP side of the Cloud Foundry emulator: the UAA token endpoint (password grant of the `cf` client), the v3
 * API (bearer tokens checked, CF error documents, paging, label selectors, jobs with Location headers),
 * CF's rate-limit headers with 429, fault injection, the received-request log and the admin API (/__cf).
 */
import express, { type NextFunction, type Request, type Response } from 'express'
import { createHmac, timingSafeEqual } from 'crypto'
import { newId, randomToken } from '../ids'
import { badRequest, CfError, type CfStore, notFound } from './store'
import type { CfEmulatorOptions, CfFault, CfJob, CfRecordedCall, CfRequestBody, CfSpaceSeed, CfUser, SpaceRoleType } from './types'

type Obj = Record<string, unknown>

/** The claims of the emulator's own tokens. */
interface CfClaims {
  user_id?: string
  user_name?: string
  client_id: string
  exp: number
}

/** The form of a UAA token request (or its JSON); any field may be missing. */
interface TokenRequest {
  client_id?: string
  client_secret?: string
  grant_type?: string
  username?: string
  password?: string
}

/** A v3 request's JSON body: express parses it untyped; the store checks each field it reads. */
const bodyOf = (req: Request) => req.body as CfRequestBody | undefined

export interface CfAppDeps {
  store: CfStore
  opts: CfEmulatorOptions
  url: () => string
  calls: CfRecordedCall[]
  faults: CfFault[]
  /** the admin API's view of the emulator */
  admin?: express.Router
}

const iso = (t: number) => new Date(t).toISOString()

// ---- tokens -------------------------------------------------------------------------------------------

export class CfTokens {
  private readonly key = randomToken(32)
  constructor(private readonly ttlSeconds: number) {}

  issue(sub: { user_id?: string; user_name?: string; client_id: string; grant_type: string }): { token: string; expiresIn: number } {
    const now = Math.floor(Date.now() / 1000)
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')
    const scope = sub.user_id ? ['cloud_controller.read', 'cloud_controller.write', 'openid'] : ['uaa.resource']
    const payload = Buffer.from(JSON.stringify({ jti: newId(), ...sub, scope, iat: now, exp: Math.ceil(Date.now() / 1000) + this.ttlSeconds, iss: 'cf-emulator' })).toString('base64url')
    const sig = createHmac('sha256', this.key).update(`${header}.${payload}`).digest('base64url')
    return { token: `${header}.${payload}.${sig}`, expiresIn: this.ttlSeconds }
  }

  verify(token: string): CfClaims | undefined {
    const [h, p, s] = token.split('.')
    if (!h || !p || !s) return undefined
    const expected = Buffer.from(createHmac('sha256', this.key).update(`${h}.${p}`).digest('base64url'))
    const given = Buffer.from(s)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined
    // signed by us above: our own claims
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as CfClaims
    return claims.exp * 1000 > Date.now() ? claims : undefined
  }
}

// ---- helpers -------------------------------------------------------------------------------------------

function cfError(res: Response, e: CfError) {
  res.status(e.status).json({ errors: [{ code: e.code, title: e.title, detail: e.detail }] })
}

const DEFAULT_ERRORS: Record<number, { code: number; title: string; detail: string }> = {
  400: { code: 10005, title: 'CF-BadQueryParameter', detail: 'The query parameter is invalid' },
  401: { code: 1000, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' },
  403: { code: 10003, title: 'CF-NotAuthorized', detail: 'You are not authorized to perform the requested action' },
  404: { code: 10010, title: 'CF-ResourceNotFound', detail: 'Resource not found' },
  409: { code: 60016, title: 'CF-AsyncServiceInstanceOperationInProgress', detail: 'An operation for the service instance is in progress.' },
  422: { code: 10008, title: 'CF-UnprocessableEntity', detail: 'The request is semantically invalid' },
  429: { code: 10013, title: 'CF-RateLimitExceeded', detail: 'Rate Limit Exceeded' },
  500: { code: 10001, title: 'UnknownError', detail: 'An unknown error occurred.' },
  502: { code: 10001, title: 'CF-ServiceBrokerBadResponse', detail: 'The service broker returned an invalid response' },
  503: { code: 10015, title: 'CF-ServiceUnavailable', detail: 'Service unavailable' }
}

/** A page of resources as the v3 API answers: `pagination` with first/last/next/previous links, `resources`. */
function page<T>(req: Request, base: string, all: T[], view: (t: T) => Obj) {
  const perPage = Math.min(5000, Math.max(1, Number(req.query.per_page ?? 50) || 50))
  const pageNo = Math.max(1, Number(req.query.page ?? 1) || 1)
  const totalPages = Math.max(1, Math.ceil(all.length / perPage))
  const link = (n: number) => {
    const q = new URLSearchParams(req.query as Record<string, string>)
    q.set('page', String(n))
    q.set('per_page', String(perPage))
    return { href: `${base}${req.path}?${q.toString()}` }
  }
  return {
    pagination: {
      total_results: all.length,
      total_pages: totalPages,
      first: link(1),
      last: link(totalPages),
      next: pageNo < totalPages ? link(pageNo + 1) : null,
      previous: pageNo > 1 ? link(pageNo - 1) : null
    },
    resources: all.slice((pageNo - 1) * perPage, pageNo * perPage).map(view)
  }
}

function redact(body: unknown): unknown {
  if (!body || typeof body !== 'object') return body
  // an array's indexes are its keys
  const copy = (Array.isArray(body) ? [...(body as unknown[])] : { ...body }) as Obj
  for (const k of Object.keys(copy)) if (/password|secret/i.test(k)) copy[k] = '***'
  return copy
}

// ---- the app -------------------------------------------------------------------------------------------

export function buildCfApp(deps: CfAppDeps, tokens: CfTokens): express.Express {
  const { store, opts, url, calls, faults } = deps
  const app = express()
  app.disable('x-powered-by')
  const limit = opts.rateLimit?.limit ?? 2000
  const windowMs = opts.rateLimit?.windowMs ?? 3_600_000
  const windows = new Map<string, { start: number; count: number }>()

  if (deps.admin) app.use('/__cf', deps.admin)

  app.use(express.json({ limit: '1mb' }))
  app.use(express.urlencoded({ extended: false }))

  // recording and faults: every call but the admin API's
  app.use((req: Request, res: Response, next: NextFunction) => {
    const call: CfRecordedCall = { method: req.method, path: req.path, query: { ...(req.query as Record<string, string>) }, body: redact(req.body), status: 0, at: Date.now() }
    calls.push(call)
    res.locals.call = call
    res.on('finish', () => (call.status = res.statusCode))
    const idx = faults.findIndex(
      f =>
        (!f.method || f.method.toUpperCase() === req.method) &&
        (f.path === undefined || (typeof f.path === 'string' ? f.path === req.path : f.path.test(req.path))) &&
        // a fault that changes a job only fits a call that creates one
        (f.status !== undefined || f.dropResponse || req.method === 'POST' || req.method === 'DELETE' || (req.method === 'PATCH' && req.path.startsWith('/v3/service_instances/')))
    )
    if (idx >= 0) {
      const f = faults[idx]
      f.times = (f.times ?? 1) - 1
      if (f.times <= 0) faults.splice(idx, 1)
      res.locals.fault = f
      if (f.status !== undefined) {
        call.fault = 'status'
        const e = { ...(DEFAULT_ERRORS[f.status] ?? DEFAULT_ERRORS[500]), ...(f.error ?? {}) }
        if (f.status === 429) {
          res.set('X-RateLimit-Limit', String(limit))
          res.set('X-RateLimit-Remaining', '0')
          res.set('X-RateLimit-Reset', String(Math.ceil((Date.now() + (f.resetInMs ?? 1000)) / 1000)))
        }
        res.status(f.status).json({ errors: [e] })
        return
      }
      if (f.dropResponse) {
        call.fault = 'dropResponse'
        // carry the call out, then hang up instead of answering
        const destroy = () => req.socket.destroy()
        res.json = (() => (destroy(), res)) as typeof res.json
        res.end = (() => (destroy(), res)) as typeof res.end
      } else call.fault = 'job'
    }
    next()
  })

  const log = opts.log === true ? (l: string) => console.log(l) : typeof opts.log === 'function' ? opts.log : undefined
  if (log) app.use((req, res, next) => (res.on('finish', () => log(`cf ${req.method} ${req.path} ${res.statusCode}`)), next()))

  // ---- root and UAA -------------------------------------------------------------------------------

  app.get('/', (_req, res) => {
    const u = url()
    res.json({
      links: {
        self: { href: u },
        cloud_controller_v3: { href: `${u}/v3`, meta: { version: '3.180.0' } },
        login: { href: `${u}/uaa` },
        uaa: { href: `${u}/uaa` }
      }
    })
  })

  app.post('/uaa/oauth/token', (req, res) => {
    const basic = /^Basic (.+)$/.exec(req.get('authorization') ?? '')
    const body = (req.body ?? {}) as TokenRequest
    const [clientId = '', clientSecret = ''] = basic ? Buffer.from(basic[1], 'base64').toString('utf8').split(':') : [body.client_id, body.client_secret ?? '']
    if (body.grant_type === 'password') {
      if (clientId !== 'cf' || clientSecret !== '') return void res.status(401).json({ error: 'invalid_client', error_description: 'Bad client credentials' })
      const user = store.users.find((u: CfUser) => u.username === body.username && u.password === body.password)
      if (!user) return void res.status(401).json({ error: 'unauthorized', error_description: 'Bad credentials' })
      const t = tokens.issue({ user_id: user.guid, user_name: user.username, client_id: 'cf', grant_type: 'password' })
      return void res.json({ access_token: t.token, token_type: 'bearer', expires_in: t.expiresIn, scope: 'cloud_controller.read cloud_controller.write openid', jti: newId() })
    }
    if (body.grant_type === 'client_credentials') {
      // the clients of keys whose credentials this UAA issued
      const known = [...store.bindingMap.values()].some(b => b.credentials?.clientid === clientId && b.credentials?.clientsecret === clientSecret && b.credentials?.url === url() + '/uaa')
      if (!known) return void res.status(401).json({ error: 'invalid_client', error_description: 'Bad credentials' })
      const t = tokens.issue({ client_id: clientId, grant_type: 'client_credentials' })
      return void res.json({ access_token: t.token, token_type: 'bearer', expires_in: t.expiresIn, scope: 'uaa.resource', jti: newId() })
    }
    res.status(400).json({ error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${String(body.grant_type)}` })
  })

  // ---- v3: authentication and rate limits ----------------------------------------------------------

  app.use('/v3', (req: Request, res: Response, next: NextFunction) => {
    const m = /^bearer (.+)$/i.exec(req.get('authorization') ?? '')
    const claims = m ? tokens.verify(m[1]) : undefined
    if (!claims?.user_id) return cfError(res, new CfError(401, 1000, 'CF-InvalidAuthToken', 'Invalid Auth Token'))
    res.locals.user = claims.user_id
    ;(res.locals.call as CfRecordedCall).user = claims.user_name
    const now = Date.now()
    let w = windows.get(claims.user_id)
    if (!w || now >= w.start + windowMs) windows.set(claims.user_id, (w = { start: now, count: 0 }))
    w.count++
    res.set('X-RateLimit-Limit', String(limit))
    res.set('X-RateLimit-Remaining', String(Math.max(0, limit - w.count)))
    res.set('X-RateLimit-Reset', String(Math.ceil((w.start + windowMs) / 1000)))
    if (w.count > limit) return cfError(res, new CfError(429, 10013, 'CF-RateLimitExceeded', 'Rate Limit Exceeded'))
    store.settle(now)
    next()
  })

  const user = (res: Response) => res.locals.user as string
  const jobOptions = (res: Response) => {
    const f = res.locals.fault as CfFault | undefined
    return { ms: f?.jobMs ?? opts.jobMs ?? 0, fail: f?.failJob }
  }
  const accepted = (res: Response, job: CfJob) => {
    // a job that is due at once is over before anyone polls it (the v3 API answers before the broker works)
    res.status(202).location(`${url()}/v3/jobs/${job.guid}`).end()
  }
  const route = (fn: (req: Request, res: Response) => void) => (req: Request, res: Response) => {
    try {
      fn(req, res)
    } catch (e) {
      if (e instanceof CfError) return cfError(res, e)
      throw e
    }
  }
  const q = (req: Request) => req.query as Record<string, string>

  // ---- views ---------------------------------------------------------------------------------------

  const u = () => `${url()}/v3`
  const orgView = (o: { guid: string; name: string }) => ({ guid: o.guid, name: o.name, suspended: false, metadata: { labels: {}, annotations: {} }, links: { self: { href: `${u()}/organizations/${o.guid}` } } })
  const spaceView = (s: { guid: string; name: string; orgGuid: string }) => ({
    guid: s.guid,
    name: s.name,
    relationships: { organization: { data: { guid: s.orgGuid } }, quota: { data: null } },
    metadata: { labels: {}, annotations: {} },
    links: { self: { href: `${u()}/spaces/${s.guid}` } }
  })
  const roleView = (r: { guid: string; type: string; userGuid: string; spaceGuid?: string; orgGuid?: string }) => ({
    guid: r.guid,
    type: r.type,
    relationships: { user: { data: { guid: r.userGuid } }, space: { data: r.spaceGuid ? { guid: r.spaceGuid } : null }, organization: { data: r.orgGuid ? { guid: r.orgGuid } : null } },
    links: { self: { href: `${u()}/roles/${r.guid}` } }
  })
  const instanceView = (i: ReturnType<CfStore['visibleInstance']>) => ({
    guid: i.guid,
    name: i.name,
    type: 'managed',
    created_at: i.createdAt,
    updated_at: i.updatedAt,
    tags: [],
    upgrade_available: false,
    last_operation: i.lastOperation,
    relationships: { space: { data: { guid: i.spaceGuid } }, service_plan: { data: { guid: i.planGuid } } },
    metadata: { labels: i.labels, annotations: i.annotations },
    links: { self: { href: `${u()}/service_instances/${i.guid}` }, space: { href: `${u()}/spaces/${i.spaceGuid}` }, service_plan: { href: `${u()}/service_plans/${i.planGuid}` } }
  })
  const bindingView = (b: ReturnType<CfStore['visibleBinding']>) => ({
    guid: b.guid,
    name: b.name,
    type: 'key',
    created_at: b.createdAt,
    updated_at: b.updatedAt,
    last_operation: b.lastOperation,
    relationships: { service_instance: { data: { guid: b.instanceGuid } } },
    metadata: { labels: b.labels, annotations: b.annotations },
    links: { self: { href: `${u()}/service_credential_bindings/${b.guid}` }, details: { href: `${u()}/service_credential_bindings/${b.guid}/details` } }
  })

  // ---- orgs, spaces, roles -------------------------------------------------------------------------

  app.get('/v3/organizations', route((req, res) => {
    const names = q(req).names?.split(',')
    const guids = q(req).guids?.split(',')
    const orgs = store.visibleOrgs(user(res)).filter(o => (!names || names.includes(o.name)) && (!guids || guids.includes(o.guid)))
    res.json(page(req, url(), orgs, orgView))
  }))
  app.get('/v3/organizations/:guid', route((req, res) => {
    const org = store.visibleOrgs(user(res)).find(o => o.guid === req.params.guid)
    if (!org) throw notFound('Organization')
    res.json(orgView(org))
  }))
  app.get('/v3/spaces', route((req, res) => {
    const names = q(req).names?.split(',')
    const orgs = q(req).organization_guids?.split(',')
    const spaces = store.visibleSpaces(user(res)).filter(s => (!names || names.includes(s.name)) && (!orgs || orgs.includes(s.orgGuid)))
    res.json(page(req, url(), spaces, spaceView))
  }))
  app.get('/v3/spaces/:guid', route((req, res) => {
    const space = store.visibleSpaces(user(res)).find(s => s.guid === req.params.guid)
    if (!space) throw notFound('Space')
    res.json(spaceView(space))
  }))
  app.get('/v3/roles', route((req, res) => {
    const types = q(req).types?.split(',')
    const spaces = q(req).space_guids?.split(',')
    const users = q(req).user_guids?.split(',')
    const orgs = q(req).organization_guids?.split(',')
    const visibleSpaces = new Set(store.visibleSpaces(user(res)).map(s => s.guid))
    const visibleOrgs = new Set(store.visibleOrgs(user(res)).map(o => o.guid))
    const roles = store.roleList.filter(
      r =>
        (r.spaceGuid ? visibleSpaces.has(r.spaceGuid) : visibleOrgs.has(r.orgGuid!)) &&
        (!types || types.includes(r.type)) &&
        (!spaces || (r.spaceGuid !== undefined && spaces.includes(r.spaceGuid))) &&
        (!orgs || (r.orgGuid !== undefined && orgs.includes(r.orgGuid))) &&
        (!users || users.includes(r.userGuid))
    )
    res.json(page(req, url(), roles, roleView))
  }))

  // ---- marketplace -----------------------------------------------------------------------------------

  app.get('/v3/service_offerings', route((req, res) => {
    const names = q(req).names?.split(',')
    res.json(page(req, url(), store.offerings.filter(o => !names || names.includes(o.name)), o => ({ guid: o.guid, name: o.name, description: o.description, available: true })))
  }))
  app.get('/v3/service_plans/:guid', route((req, res) => {
    const p = store.plans.find(x => x.guid === req.params.guid)
    if (!p) throw notFound('Service plan')
    res.json({ guid: p.guid, name: p.name, description: p.description, available: true, relationships: { service_offering: { data: { guid: p.offeringGuid } } } })
  }))
  app.get('/v3/service_offerings/:guid', route((req, res) => {
    const o = store.offerings.find(x => x.guid === req.params.guid)
    if (!o) throw notFound('Service offering')
    res.json({ guid: o.guid, name: o.name, description: o.description, available: true })
  }))
  app.get('/v3/service_plans', route((req, res) => {
    const names = q(req).names?.split(',')
    const offeringNames = q(req).service_offering_names?.split(',')
    const offeringGuids = q(req).service_offering_guids?.split(',')
    const spaceGuids = q(req).space_guids?.split(',')
    if (spaceGuids && !spaceGuids.some(g => store.visibleSpaces(user(res)).some(s => s.guid === g))) return void res.json(page(req, url(), [], () => ({})))
    const plans = store.plans.filter(p => {
      const off = store.offerings.find(o => o.guid === p.offeringGuid)!
      return (!names || names.includes(p.name)) && (!offeringNames || offeringNames.includes(off.name)) && (!offeringGuids || offeringGuids.includes(off.guid))
    })
    res.json(page(req, url(), plans, p => ({ guid: p.guid, name: p.name, description: p.description, available: true, relationships: { service_offering: { data: { guid: p.offeringGuid } } } })))
  }))

  // ---- service instances -----------------------------------------------------------------------------

  app.get('/v3/service_instances', route((req, res) => res.json(page(req, url(), store.listInstances(user(res), q(req)), instanceView))))
  app.get('/v3/service_instances/:guid', route((req, res) => res.json(instanceView(store.visibleInstance(user(res), req.params.guid)))))
  app.post('/v3/service_instances', route((req, res) => accepted(res, store.createInstance(user(res), bodyOf(req), Date.now(), jobOptions(res)))))
  app.patch('/v3/service_instances/:guid', route((req, res) => {
    const body = bodyOf(req) ?? {}
    // parameters or plan: the broker's asynchronous update; metadata only: at once
    if (body.parameters !== undefined || body.relationships?.service_plan !== undefined)
      return accepted(res, store.updateInstance(user(res), req.params.guid, body, Date.now(), jobOptions(res)))
    res.json(instanceView(store.patchLabels(store.visibleInstance(user(res), req.params.guid), body)))
  }))
  app.delete('/v3/service_instances/:guid', route((req, res) => accepted(res, store.deleteInstance(user(res), req.params.guid, Date.now(), jobOptions(res)))))

  // ---- credential bindings (keys) ----------------------------------------------------------------------

  app.get('/v3/service_credential_bindings', route((req, res) => res.json(page(req, url(), store.listBindings(user(res), q(req)), bindingView))))
  app.get('/v3/service_credential_bindings/:guid', route((req, res) => res.json(bindingView(store.visibleBinding(user(res), req.params.guid)))))
  app.get('/v3/service_credential_bindings/:guid/details', route((req, res) => {
    const b = store.visibleBinding(user(res), req.params.guid)
    if (b.lastOperation.state !== 'succeeded' || !b.credentials) throw notFound('Service credential binding details')
    res.json({ credentials: b.credentials, syslog_drain_url: null, volume_mounts: [] })
  }))
  app.post('/v3/service_credential_bindings', route((req, res) => accepted(res, store.createBinding(user(res), bodyOf(req), Date.now(), jobOptions(res)))))
  app.patch('/v3/service_credential_bindings/:guid', route((req, res) => res.json(bindingView(store.patchLabels(store.visibleBinding(user(res), req.params.guid), bodyOf(req))))))
  app.delete('/v3/service_credential_bindings/:guid', route((req, res) => accepted(res, store.deleteBinding(user(res), req.params.guid, Date.now(), jobOptions(res)))))

  // ---- jobs ------------------------------------------------------------------------------------------

  app.get('/v3/jobs/:guid', route((req, res) => {
    const job = store.jobMap.get(req.params.guid)
    if (!job) throw notFound('Job')
    res.json({
      guid: job.guid,
      operation: job.operation,
      state: job.state,
      errors: job.errors,
      warnings: job.warnings,
      created_at: iso(job.createdAt),
      updated_at: iso(Date.now()),
      links: { self: { href: `${u()}/jobs/${job.guid}` }, [job.resource.type]: { href: `${u()}/${job.resource.type}/${job.resource.guid}` } }
    })
  }))

  app.use('/v3', (req, res) => cfError(res, new CfError(404, 10000, 'CF-NotFound', 'Unknown request')))
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- express knows an error handler by its four parameters
  app.use((e: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (e instanceof CfError) return cfError(res, e)
    if ((e as { type?: string })?.type === 'entity.parse.failed') return cfError(res, badRequest('Request invalid due to parse error: invalid request body'))
    res.status(500).json({ errors: [DEFAULT_ERRORS[500]] })
  })
  return app
}

// ---- admin API ---------------------------------------------------------------------------------------

/**
 * Admin API (option `admin`): for tests that run the app in another process. Never recorded, never faulted.
 *   POST   /__cf/faults          a fault or an array of faults (a RegExp path as `pathRegex`), 204
 *   DELETE /__cf/faults          204
 *   GET    /__cf/state           { orgs, spaces, roles, instances, bindings, jobs, calls } (?since=<n>: calls[n..])
 *   POST   /__cf/spaces          { org, name, roles? }: a new space, 201
 *   POST   /__cf/roles           { space, username, type, present }: give or take a space role, 204
 *   POST   /__cf/reset           back to the seed, 204
 */
export function cfAdminRouter(emu: () => import('./types').CfEmulator): express.Router {
  const router = express.Router()
  router.use(express.json())
  const bad = (res: Response, e: unknown) => res.status(400).json({ error: e instanceof Error ? e.message : String(e) })
  router.post('/faults', (req, res) => {
    for (const raw of (Array.isArray(req.body) ? req.body : [req.body]) as unknown[]) {
      const { pathRegex, ...rest } = raw as CfFault & { pathRegex?: string }
      emu().addFault({ ...rest, ...(pathRegex ? { path: new RegExp(pathRegex) } : {}) })
    }
    res.status(204).end()
  })
  router.delete('/faults', (_req, res) => (emu().clearFaults(), res.status(204).end()))
  router.get('/state', (req, res) => {
    const e = emu()
    res.json({ orgs: e.orgs(), spaces: e.spaces(), roles: e.roles(), instances: e.instances(), bindings: e.bindings(), jobs: e.jobs(), calls: e.calls.slice(Number(req.query.since ?? 0) || 0) })
  })
  router.post('/spaces', (req, res) => {
    try {
      const { org, name, roles } = req.body as { org: string } & CfSpaceSeed
      res.status(201).json(emu().addSpace(org, { name, roles }))
    } catch (e) {
      bad(res, e)
    }
  })
  router.post('/roles', (req, res) => {
    try {
      const { space, username, type, present } = req.body as { space: string; username: string; type: SpaceRoleType; present?: boolean }
      emu().setSpaceRole(space, username, type, present !== false)
      res.status(204).end()
    } catch (e) {
      bad(res, e)
    }
  })
  router.post('/reset', (_req, res) => (emu().reset(), res.status(204).end()))
  return router
}
