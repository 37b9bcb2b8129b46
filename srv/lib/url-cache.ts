/**
 * Parsed OData URLs, kept for reuse. CAP's OData adapter parses the URL of every request (`cds.odata.parse`:
 * the OData grammar, then a pass that resolves and checks the query against the service's model) into the
 * CQN query the service's handlers get. A Fiori list report asks the same URLs again and again: on every
 * refresh, for every user. Measured with the list benchmark at 100k keys, parsing took about a tenth of a
 * list request's CPU time; a copy of the parsed query takes a twentieth of the parse.
 *
 * What a URL parses to depends on the URL, the service and its model, the base URL and the parse options;
 * not on the user or the request: restrictions, expands and everything else a request adds happen later,
 * in the service's handlers, on the query the adapter hands them. So a parsed query is kept, as plain data,
 * under those, in a small LRU cache per model, and each request gets its own copy of it (the handlers change
 * their query). A URL that does not parse is parsed, and refused, every time. Only what copies whole is kept:
 * a single query of plain data whose other own properties are strings (`_propertyAccess`); anything else is
 * parsed every time. Where a tenant has a model of its own (extensibility), its URLs are kept under that model.
 *
 * `cds.provisioning.parsedUrlCache: false` turns it off; a number sets the entries kept (default 500).
 */
import cds from '@sap/cds'
import { copyPlain, isPlainData } from './plain-data'
import { Lru, cacheObserver } from './query-cache'

interface ParseOptions {
  /** `isExtensible`: true for every service of the application's model (CAP's name for "a tenant may have its own") */
  service?: { name?: string; model?: object; isExtensible?: boolean }
  baseUrl?: string
  strict?: unknown
  protocol?: string
}

/** cds.ql as a function and its query class (not in @sap/cds's types) */
const ql = cds.ql as unknown as ((cqn: object) => object) & { Query: abstract new (...args: never[]) => object }

interface ODataApi {
  parse: (this: unknown, url: unknown, options?: unknown) => unknown
}

/** A parsed query as kept: its kind (SELECT, ...), its content and its other own properties */
interface Parsed {
  kind: string
  content: unknown
  extras: Array<{ name: string; value: string; enumerable: boolean }>
}

const DEFAULT_ENTRIES = 500
/** longer URLs are parsed every time: one that long (a filter over thousands of values) rarely comes again */
const MAX_URL_LENGTH = 8_000
/** the options the OData adapter passes; a call with others is not cached */
const KNOWN_OPTIONS = new Set(['service', 'baseUrl', 'strict', 'protocol'])

/** A parsed URL taken from the cache (hit) or parsed and kept (miss) */
export interface UrlCacheEvent {
  kind: 'hit' | 'miss'
  url: string
}
const events = cacheObserver<UrlCacheEvent>()
/** Calls `fn` with every hit and miss until the returned function is called (for tests). */
export const observeUrlCache = events.observe

/** The parts of a parsed query that make it again, or undefined when it is not only plain data and strings. */
function keep(query: unknown): Parsed | undefined {
  if (!(query instanceof ql.Query)) return undefined
  const names = Object.getOwnPropertyNames(query)
  const kinds = names.filter(n => n in ql && n.toUpperCase() === n)
  if (kinds.length !== 1 || Object.getOwnPropertySymbols(query).length) return undefined
  const [kind] = kinds
  const content = (query as unknown as Record<string, unknown>)[kind]
  if (!isPlainData(content)) return undefined
  const extras: Parsed['extras'] = []
  for (const name of names) {
    if (name === kind) continue
    const d = Object.getOwnPropertyDescriptor(query, name)!
    if (typeof d.value !== 'string') return undefined
    extras.push({ name, value: d.value, enumerable: !!d.enumerable })
  }
  return { kind, content: copyPlain(content), extras }
}

/** A query made from what `keep` kept, as the parse made it: a cds.ql query of the same kind and properties. */
function remake(p: Parsed): unknown {
  const query = ql({ [p.kind]: copyPlain(p.content) })
  for (const x of p.extras) Object.defineProperty(query, x.name, { value: x.value, enumerable: x.enumerable, writable: true, configurable: true })
  return query
}

let installed: { api: ODataApi; parse: ODataApi['parse'] } | undefined

/** Wraps `cds.odata.parse` with the cache described above; `entries` per model. Returns false if already wrapped. */
export function cacheParsedUrls(entries = DEFAULT_ENTRIES): boolean {
  if (installed) return false
  const api = (cds as unknown as { odata: ODataApi }).odata
  const parse = api.parse
  const perModel = new WeakMap<object, Lru<string, Parsed>>()
  api.parse = function (this: unknown, url: unknown, options?: unknown): unknown {
    const o = options as ParseOptions | undefined
    // the model the parse resolves against: a service that may be extended reads a tenant's own from the context
    const service = o?.service
    const model = service?.isExtensible ? ((cds.context as { model?: object } | undefined)?.model ?? service.model) : service?.model
    if (typeof url !== 'string' || url.length > MAX_URL_LENGTH || !model || Object.keys(o!).some(k => !KNOWN_OPTIONS.has(k))) return parse.call(this, url, options)
    const key = `${service!.name ?? ''}\n${o!.baseUrl ?? ''}\n${o!.strict ? 'strict' : ''}\n${o!.protocol ?? ''}\n${url}`
    let cache = perModel.get(model)
    if (!cache) perModel.set(model, (cache = new Lru(entries)))
    const hit = cache.get(key)
    if (hit) {
      events.emit({ kind: 'hit', url })
      return remake(hit)
    }
    const query = parse.call(this, url, options)
    const kept = keep(query)
    if (kept) {
      events.emit({ kind: 'miss', url })
      cache.set(key, kept)
    }
    return query
  }
  installed = { api, parse }
  return true
}

/** Puts `cds.odata.parse` back as it was (tests). */
export function uncacheParsedUrls() {
  if (!installed) return
  installed.api.parse = installed.parse
  installed = undefined
}

/** As `cds.provisioning.parsedUrlCache` sets it. */
export function cacheParsedUrlsAsConfigured(): boolean {
  const setting = (cds.env as unknown as { provisioning?: { parsedUrlCache?: boolean | number } }).provisioning?.parsedUrlCache
  if (setting === false) return false
  return cacheParsedUrls(typeof setting === 'number' && setting > 0 ? setting : DEFAULT_ENTRIES)
}
