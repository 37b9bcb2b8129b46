/**
 * The request guard in front of the OData adapters, and the error answer behind them.
 *
 * `requestGuard` runs after authentication and before the adapter of every served OData service. It reads
 * the body itself and refuses, with a message code, what CAP's adapter would crash on or let slip through:
 * bodies that are not one JSON object (top level, JSON `$batch` and multipart `$batch` parts), keys in URLs
 * and references in bodies that are not UUIDs, keys sent on create, deep inserts, `$top`/`$skip` below 0,
 * `environment` outside its code list, and `parameters` that are not a JSON object, too large, too deep or
 * hold a secret (`checkParameters`). Parameters sent as JSON text are taken as the object they hold.
 *
 * `errorAnswer` runs before CAP's final error handler: every 4xx leaves with a code from
 * `_i18n/messages.properties` (CAP's own codes and bare statuses are translated, unknown IDs name their
 * entity), and a programming error inside a request answers 500 instead of shutting the server down.
 */
import cds from '@sap/cds'
import express from 'express'
import fs from 'node:fs'
import path from 'node:path'
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express'
import { checkParameters, shown } from './naming'

const LOG = cds.log('input-guard')

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** Elements that hold parameters for Service Manager (a JSON object, or its text in templates). */
const PARAMETER_ELEMENTS = new Set(['parameters', 'keyParameters'])

/** Entities whose `@Core.Immutable` fields answer their own code when a PATCH or PUT tries to change them. */
const IMMUTABLE_CODES: Record<string, string> = { ServiceInstances: 'INSTANCE_IMMUTABLE', ServiceKeys: 'KEY_IMMUTABLE' }

/** A refused request: status, message code from _i18n/messages.properties, its arguments, the field. */
export class InputError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly args: unknown[] = [],
    readonly target?: string
  ) {
    super(code)
  }
}

type Definition = cds.entity & {
  elements: Record<string, Element>
  keys: Record<string, Element>
  actions?: Record<string, unknown>
}
type Element = {
  name: string
  type?: string
  key?: boolean
  virtual?: boolean
  isAssociation?: boolean
  is2many?: boolean
  enum?: Record<string, unknown>
  _target?: Definition
  '@odata.foreignKey4'?: string
  '@Core.Immutable'?: boolean
}

/** What a resource path addresses: an entity (a collection or one entry), an operation, or $batch. */
interface Addressed {
  entity?: Definition
  collection?: boolean
  operation?: string
  batch?: boolean
  /** the key of the last entry addressed by key, as sent */
  lastKey?: string
  lastKeyedEntity?: Definition
}

// ---- services and paths ---------------------------------------------------------------------------

/** The served OData service at a path (`req.baseUrl` of the adapter). */
function serviceAt(baseUrl: string): cds.ApplicationService | undefined {
  for (const srv of Object.values(cds.services)) {
    if (!(srv instanceof cds.ApplicationService)) continue
    const endpoints = (srv as unknown as { endpoints?: { kind: string; path: string }[] }).endpoints ?? []
    if (endpoints.some(e => e.kind.startsWith('odata') && e.path === baseUrl)) return srv
  }
  return undefined
}

const entitiesOf = (srv: cds.Service) => srv.entities as unknown as Record<string, Definition>

const decode = (segment: string) => {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new InputError(400, 'URL_INVALID', [shown(segment)])
  }
}

/** The UUID keys of an entity addressed as `Set(<key>)` or `Set(ID=<key>)`; anything else is refused. */
function checkKeyPredicate(entity: Definition, predicate: string): string {
  const keys = Object.values(entity.keys ?? {}).filter(k => !k.isAssociation && !k.virtual)
  const pairs = predicate.includes('=')
    ? predicate.split(',').map(p => p.split('=').map(s => s.trim()) as [string, string?])
    : [[keys[0]?.name ?? '', predicate.trim()] as [string, string?]]
  for (const [name, value = ''] of pairs) {
    const key = keys.find(k => k.name === name)
    if (key?.type === 'cds.UUID' && !UUID.test(value)) throw new InputError(400, 'ID_INVALID', [shown(value)])
  }
  return pairs[0]?.[1] ?? ''
}

const SEGMENT = /^([^()]+)(?:\((.*)\))?$/s

/**
 * Resolves a resource path (relative to the service) as far as the guard needs: entity sets, keys,
 * navigation and operations. Keys of UUID type are checked; an unknown path resolves to nothing (CAP
 * answers it).
 */
function resolve(srv: cds.Service, resourcePath: string): Addressed | undefined {
  const segments = resourcePath.split('/').filter(Boolean).map(decode)
  if (!segments.length) return undefined
  if (segments[0] === '$batch') return { batch: true }
  let found: Addressed | undefined
  for (const [i, segment] of segments.entries()) {
    if (segment.startsWith('$')) break // $count, $value, $ref, $metadata
    const m = SEGMENT.exec(segment)
    if (!m) return found
    const [, name, predicate] = m
    if (i === 0) {
      const entity = entitiesOf(srv)[name]
      if (!entity) return { operation: name }
      found = { entity, collection: predicate === undefined }
    } else {
      const current: Definition | undefined = found?.entity
      if (!current || found?.operation) return found
      if (name.includes('.') || current.actions?.[name]) return { ...found, operation: name }
      const element = current.elements?.[name]
      if (!element?.isAssociation || !element._target) return found
      found = { ...found, entity: element._target, collection: !!element.is2many && predicate === undefined }
    }
    if (predicate !== undefined && found.entity) {
      found.lastKey = checkKeyPredicate(found.entity, predicate)
      found.lastKeyedEntity = found.entity
      found.collection = false
    }
  }
  return found
}

// ---- bodies -----------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A value sent, as a message shows it: strings as they are, anything else as JSON. */
const asText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)))

/** The code list of `environment` (the instances' enum; templates use the same). */
function environments(srv: cds.Service, entity: Definition): string[] | undefined {
  const e = entity.elements.environment?.enum ?? entitiesOf(srv).ServiceInstances?.elements.environment?.enum
  return e ? Object.keys(e) : undefined
}

/** The entity set and key of an `@odata.bind` value such as `Subaccounts(<id>)`. */
function checkBind(srv: cds.Service, field: string, value: unknown) {
  for (const each of Array.isArray(value) ? value : [value]) {
    if (typeof each !== 'string') throw new InputError(400, 'REFERENCE_INVALID', [field, shown(String(each))], field)
    try {
      resolve(srv, each.replace(/^.*?\/(?=[^/]+\()/, ''))
    } catch (e) {
      if (e instanceof InputError) throw new InputError(400, 'REFERENCE_INVALID', [field, shown(each)], field)
      throw e
    }
  }
}

/**
 * Checks (and normalises) the body of a request to an addressed resource. Mutates `body`: parameters given
 * as a JSON object become their JSON text.
 */
function checkBody(srv: cds.Service, method: string, to: Addressed | undefined, body: unknown) {
  if (!['POST', 'PUT', 'PATCH'].includes(method) || body === undefined) return
  if (!isObject(body)) throw new InputError(400, 'BODY_NOT_OBJECT')
  const entity = to?.entity
  if (!entity || to.operation) return
  const creating = method === 'POST' && to.collection
  if ('parametersText' in body && entity.elements.parametersText?.virtual && entity.elements.parameters?.type === 'cds.Map') {
    // the forms' text field for the parameters: taken as the parameters themselves (CAP drops virtual input)
    if ('parameters' in body) throw new InputError(400, 'PARAMETERS_TWICE', [], 'parametersText')
    const checked = checkParameters(body.parametersText)
    if ('problem' in checked) throw new InputError(400, checked.problem.code, checked.problem.args, 'parametersText')
    body.parameters = checked.value ?? null
    delete body.parametersText
  }
  for (const [name, value] of Object.entries(body)) {
    if (name.endsWith('@odata.bind')) {
      const field = name.slice(0, -'@odata.bind'.length)
      if (entity.elements[field]?.is2many) throw new InputError(400, 'DEEP_INSERT_NOT_SUPPORTED', [field], field)
      checkBind(srv, field, value)
      continue
    }
    const element = entity.elements[name]
    if (!element) continue
    if (creating && element.key && !element.isAssociation) throw new InputError(400, 'KEY_NOT_ALLOWED', [name], name)
    // CAP would drop a changed immutable field silently and answer 200: say it cannot change
    const immutable = !creating && method !== 'POST' && element['@Core.Immutable'] && IMMUTABLE_CODES[entity.name.split('.').pop() ?? '']
    if (immutable) throw new InputError(405, immutable, [name], name)
    if (element.isAssociation) {
      if (value !== null && typeof value === 'object') throw new InputError(400, 'DEEP_INSERT_NOT_SUPPORTED', [name], name)
      continue
    }
    if (element['@odata.foreignKey4'] && element.type === 'cds.UUID' && value !== null && !(typeof value === 'string' && UUID.test(value)))
      throw new InputError(400, 'REFERENCE_INVALID', [name, shown(typeof value === 'string' ? value : JSON.stringify(value))], name)
    if (PARAMETER_ELEMENTS.has(name) && (element.type === 'cds.LargeString' || element.type === 'cds.Map')) {
      const checked = checkParameters(value)
      if ('problem' in checked) throw new InputError(400, checked.problem.code, checked.problem.args, name)
      // a Map element takes the object, a text element the JSON text
      if (checked.text !== undefined) body[name] = element.type === 'cds.Map' ? checked.value : checked.text
    }
    if (name === 'environment' && value !== null) {
      const allowed = environments(srv, entity)
      if (allowed && !(typeof value === 'string' && allowed.includes(value)))
        throw new InputError(400, 'ENVIRONMENT_INVALID', [shown(asText(value)), allowed.join(', ')], name)
    }
  }
}

/** `$top` and `$skip` are whole numbers of at least 0, at the top level and inside `$expand`. */
function checkQuery(query: Record<string, unknown>) {
  for (const option of ['$top', '$skip']) {
    const value = query[option]
    if (value === undefined) continue
    if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new InputError(400, 'QUERY_OPTION_INVALID', [option, shown(asText(value))], option)
  }
  const expand = query.$expand
  for (const text of Array.isArray(expand) ? expand : [expand]) {
    if (typeof text !== 'string') continue
    for (const [, option, value] of text.matchAll(/(\$top|\$skip)=([^;)&]*)/g))
      if (!/^\d+$/.test(value)) throw new InputError(400, 'QUERY_OPTION_INVALID', [option, shown(value)], '$expand')
  }
}

/** One request of a batch (or the request itself): URL relative to the service, method, parsed body. */
function checkRequest(srv: cds.Service, servicePath: string, method: string, url: string, body: unknown) {
  const [rawPath, search = ''] = url.split('?')
  checkQuery(Object.fromEntries(new URLSearchParams(search)))
  if (rawPath.startsWith('$')) {
    // a reference to an earlier request's result ($1/keys): its body still has to be an object
    if (['POST', 'PUT', 'PATCH'].includes(method) && body !== undefined && !isObject(body)) throw new InputError(400, 'BODY_NOT_OBJECT')
    return
  }
  const relative = rawPath.startsWith(servicePath + '/') ? rawPath.slice(servicePath.length) : rawPath
  const to = resolve(srv, relative)
  if (to?.batch) throw new InputError(400, 'BATCH_INVALID', ['a batch cannot contain a batch'])
  checkBody(srv, method.toUpperCase(), to, body)
}

function checkJsonBatch(srv: cds.Service, servicePath: string, batch: unknown) {
  if (!isObject(batch)) throw new InputError(400, 'BODY_NOT_OBJECT')
  const { requests } = batch
  if (!Array.isArray(requests)) throw new InputError(400, 'BATCH_INVALID', ['"requests" must be an array'])
  for (const [i, request] of requests.entries()) {
    if (!isObject(request) || typeof request.method !== 'string' || typeof request.url !== 'string')
      throw new InputError(400, 'BATCH_INVALID', [`request ${i + 1} needs a method and a url`])
    checkRequest(srv, servicePath, request.method, request.url, request.body)
  }
}

/** The requests of a multipart/mixed batch (change sets included), as far as they can be read. */
function* multipartRequests(text: string, boundary: string): Generator<{ method: string; url: string; body: string }> {
  for (const part of text.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break
    const split = /\r?\n\r?\n/.exec(part)
    if (!split) continue
    const headers = part.slice(0, split.index)
    const content = part.slice(split.index + split[0].length)
    const inner = /content-type:\s*multipart\/mixed;\s*boundary=("?)([^"\r\n;]+)\1/i.exec(headers)
    if (inner) {
      yield* multipartRequests(content, inner[2])
      continue
    }
    const line = /^([A-Z]+) (\S+) HTTP\/1\.1\r?\n/.exec(content)
    if (!line) continue
    const rest = content.slice(line[0].length)
    const bodyStart = /\r?\n\r?\n|^\r?\n/.exec(rest)
    const body = bodyStart ? rest.slice(bodyStart.index + bodyStart[0].length).trim() : ''
    yield { method: line[1], url: line[2], body }
  }
}

/** Checks the parts of a multipart batch; answers the batch's text with the bodies the checks normalised. */
function checkMultipartBatch(srv: cds.Service, servicePath: string, text: string, contentType: string): string {
  const boundary = /boundary=("?)([^";]+)\1/i.exec(contentType)?.[2]
  if (!boundary) return text // CAP answers that
  let result = text
  for (const request of multipartRequests(text, boundary)) {
    let body: unknown
    if (request.body) {
      try {
        body = JSON.parse(request.body)
      } catch {
        throw new InputError(400, 'BODY_NOT_JSON')
      }
    }
    const before = JSON.stringify(body)
    checkRequest(srv, servicePath, request.method, request.url, body)
    const after = JSON.stringify(body)
    if (after !== before) result = result.replace(request.body, after)
  }
  return result
}

// ---- the middleware ---------------------------------------------------------------------------------

const bodyLimit = () => (cds.env.server as { body_parser?: { limit?: string | number } }).body_parser?.limit ?? '100kb'

/** Reads the body as text (as CAP's own parsers would, who then find it read); a body over the limit is refused. */
function readText(req: Request, res: Response): Promise<void> {
  const parse = express.text({ type: () => true, limit: bodyLimit() })
  return new Promise((resolve, reject) =>
    parse(req, res, err => {
      if (!err) return resolve()
      const status = (err as { status?: number }).status
      if (status === 413) reject(new InputError(413, 'BODY_TOO_LARGE', [bodyLimit()]))
      else reject(new InputError(400, 'BODY_NOT_JSON'))
    })
  )
}

export function requestGuard() {
  return async function input_guard(req: Request, res: Response, next: NextFunction) {
    const srv = serviceAt(req.baseUrl)
    if (!srv) return next()
    try {
      checkQuery(req.query)
      const to = resolve(srv, req.path)
      const method = req.method.toUpperCase()
      const contentType = String(req.headers['content-type'] ?? '')
      if (to?.batch && method === 'POST' && !/^(application\/json|multipart\/mixed)\b/i.test(contentType))
        throw new InputError(400, 'BATCH_INVALID', ['a batch is sent as application/json or multipart/mixed'])
      if (!['POST', 'PUT', 'PATCH'].includes(method) || typeof req.body === 'object') return next()
      const multipart = /^multipart\/mixed\b/i.test(contentType)
      // other content types (streams, or what CAP answers 415) are left to CAP, unread
      if (!(multipart && to?.batch) && !/^application\/json\b/i.test(contentType)) return next()
      await readText(req, res)
      const text = typeof req.body === 'string' ? req.body : ''
      if (multipart) {
        req.body = checkMultipartBatch(srv, req.baseUrl, text, contentType)
        return next()
      }
      if (!text.trim()) {
        req.body = {} // what CAP makes of an empty JSON body
        return next()
      }
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        throw new InputError(400, 'BODY_NOT_JSON')
      }
      if (to?.batch) checkJsonBatch(srv, req.baseUrl, body)
      else checkBody(srv, method, to, body)
      req.body = body
      return next()
    } catch (e) {
      return next(e)
    }
  }
}

// ---- the error answer -------------------------------------------------------------------------------

let ownCodes: { has(code: string): boolean } | undefined
/**
 * The message codes of _i18n/messages.properties. Where the file is not at hand (a build that keeps the
 * texts elsewhere), any code with a text that is not a bare status counts.
 */
function messageCodes(): { has(code: string): boolean } {
  if (ownCodes) return ownCodes
  const file = path.join(cds.root, '_i18n', 'messages.properties')
  if (!fs.existsSync(file)) return (ownCodes = { has: code => !/^\d+$/.test(code) && cds.i18n.messages.at(code, 'en') !== undefined })
  ownCodes = new Set(
    fs
      .readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .map(l => /^\s*([A-Za-z0-9_.-]+)\s*[=:]/.exec(l)?.[1])
      .filter((c): c is string => !!c)
  )
  return ownCodes
}

/** Codes of the entities whose unknown IDs have their own message. */
const UNKNOWN_CODES: Record<string, string> = {
  ServiceInstances: 'INSTANCE_UNKNOWN',
  ServiceKeys: 'KEY_UNKNOWN',
  Subaccounts: 'SUBACCOUNT_UNKNOWN',
  Certificates: 'CERT_UNKNOWN',
  Templates: 'TEMPLATE_UNKNOWN',
  Findings: 'FINDING_UNKNOWN',
  Registrations: 'REGISTRATION_UNKNOWN',
  Operations: 'OPERATION_UNKNOWN',
  ServiceOfferings: 'OFFERING_UNKNOWN',
  ServicePlans: 'CATALOG_PLAN_UNKNOWN'
}

/** Codes for what CAP answers with a bare status. */
const STATUS_CODES: Record<number, string> = {
  400: 'REQUEST_INVALID',
  403: 'ACCESS_DENIED',
  404: 'RESOURCE_UNKNOWN',
  405: 'METHOD_NOT_ALLOWED',
  406: 'MEDIA_TYPE_UNSUPPORTED',
  409: 'REQUEST_CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'BODY_TOO_LARGE',
  415: 'MEDIA_TYPE_UNSUPPORTED',
  422: 'REQUEST_UNPROCESSABLE',
  428: 'PRECONDITION_FAILED',
  429: 'TOO_MANY_REQUESTS'
}

type AnyError = Error & {
  status?: number
  statusCode?: number
  code?: string | number
  args?: unknown[]
  target?: string
  details?: AnyError[]
}

const text4 = (code: string, args: unknown[]) => cds.i18n.messages.at(code, (args ?? []).map(shown)) ?? code

/** The entity and key a 404 is about, from the request's path. */
function unknownEntry(service: cds.Service | undefined, req: Request): { code: string; args: unknown[] } | undefined {
  const srv = service ?? serviceAt(req.baseUrl) ?? Object.values(cds.services).find(s => s instanceof cds.ApplicationService)
  if (!srv) return undefined
  let to: Addressed | undefined
  try {
    to = resolve(srv, (req.path ?? req.url ?? '').split('?')[0])
  } catch {
    return undefined
  }
  const name = to?.lastKeyedEntity?.name.split('.').pop()
  const code = name && UNKNOWN_CODES[name]
  return code ? { code, args: [shown(to?.lastKey)] } : undefined
}

/** A plain error with only what a client may see: status, code, message, target and details. */
function answer(status: number, code: string, args: unknown[], target?: string, details?: AnyError[]): AnyError {
  const e: AnyError = Object.assign(new Error(), { status, code })
  // enumerable, so that it is serialized in `details` as well
  Object.defineProperty(e, 'message', { value: text4(code, args), enumerable: true, writable: true, configurable: true })
  if (target) e.target = target
  if (details?.length) e.details = details
  return e
}

/** A 4xx with a code of our own, a text for it, and echoed values cut to 100 characters. */
function withOwnCode(err: AnyError, status: number, unknown: () => { code: string; args: unknown[] } | undefined): AnyError {
  const code = typeof err.code === 'string' ? err.code : String(err.code ?? '')
  const details = err.details?.map(d => withOwnCode(d, Number(d.status ?? d.statusCode ?? status), () => undefined))
  if (messageCodes().has(code)) {
    const e = answer(status, code, err.args ?? [], err.target, details)
    if (!err.args?.length && err.message && err.message !== code) e.message = err.message // localized without arguments
    return e
  }
  if (status === 404) {
    const entry = unknown()
    if (entry) return answer(404, entry.code, entry.args, err.target)
  }
  const generic = STATUS_CODES[status] ?? (status === 401 ? 'ACCESS_DENIED' : 'REQUEST_INVALID')
  return answer(status, generic, [shown(err.message ?? code)], err.target, details)
}

const isSystemError = (err: AnyError) => ['TypeError', 'ReferenceError', 'SyntaxError', 'RangeError', 'URIError'].includes(err?.name)

/**
 * Error middleware ahead of CAP's final one (`cds.middlewares.after`): own codes on 4xx answers, and 500
 * without a shutdown for programming errors raised while serving a request.
 */
export function errorAnswer(): ErrorRequestHandler {
  return function input_guard_error(this: { service?: cds.Service } | undefined, err: AnyError, req: Request, _res: Response, next: NextFunction) {
    if (err == null || typeof err !== 'object') return next(err)
    const status = Number(err.status ?? err.statusCode ?? (/^\d{3}$/.test(String(err.code)) ? err.code : NaN))
    if (Number.isNaN(status) && isSystemError(err)) {
      LOG.error('Request failed with a programming error; answered 500:', err)
      // the message stays for development; CAP's final handler hides every 5xx message in production
      return next(Object.assign(new Error(err.message), { status: 500, code: '500' }))
    }
    if (!(status >= 400 && status < 500) || status === 401) return next(err)
    return next(withOwnCode(err, status, () => unknownEntry(this?.service, req)))
  }
}
