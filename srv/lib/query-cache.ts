/**
 * Compiled reads, kept for reuse. For every SELECT, @cap-js/db-service infers the query against the model,
 * rewrites it for SQL (cqn4sql: paths, expands, restrictions) and renders it (cqn2sql); better-sqlite3 then
 * prepares the statement. For the Fiori lists that is most of a request's CPU time (measured with the list
 * benchmark at 100k keys: compile and prepare about a third of it, the SQL itself a tenth), and a list report
 * asks the same page again and again: on every refresh, for every user with the same restrictions.
 *
 * What a SELECT compiles to depends on the query itself, the model it is read against and, for a localized
 * order, the locale of the request; nothing else (`$user` and `$now` are session variables of the connection,
 * the @restrict conditions are in the query as literal values, values passed for `?` parameters are bound
 * as they come). So the compiled form of a SELECT is kept under its text (`queryKey`), per model and locale,
 * in a small LRU cache per database service; a query with values a text cannot tell apart (dates, buffers,
 * streams, functions) is compiled every time. Only SQL is kept, never rows. On SQLite, prepared statements
 * are kept per connection under their SQL text as well.
 *
 * For the database services whose SELECT path is the generic one of @cap-js/db-service: SQLite and
 * PostgreSQL. Others (HANA renders more than SQL and values) compile every query as before.
 * `cds.requires.db.compiledQueryCache: false` turns it off; a number sets the entries kept (default 500).
 */
import cds from '@sap/cds'
import { requiresEntry } from './config'

const LOG = cds.log('sql')

/** What the generic SELECT path of @cap-js/db-service reads of a compiled query (SQLService.onSELECT). */
interface Compiled {
  sql: string
  values: unknown[]
  cqn: unknown
}

interface DatabaseService {
  name?: string
  model?: object
  context?: { locale?: string }
  /** called on a transaction of the service, whose model, context and connection it reads */
  cqn2sql: (this: DatabaseService, query: unknown, data?: unknown) => Compiled
  prepare?: (this: DatabaseService, sql: string) => unknown
  constructor: { name: string }
}

/** The statement of better-sqlite3 as @cap-js/sqlite's `prepare` wraps it */
interface SqliteStatement {
  /** true while an iteration of its rows is open */
  readonly busy: boolean
  /** true for statements that return rows */
  readonly reader: boolean
  raw(on: boolean): SqliteStatement
}

/** the class of cds.ql queries (not in @sap/cds's types) */
const Query = (cds.ql as unknown as { Query: abstract new (...args: never[]) => object }).Query

const GENERIC_SELECT = new Set(['SQLiteService', 'PostgresService'])
const DEFAULT_ENTRIES = 500
/** queries with a longer text are compiled every time: a query that large (an IN list of thousands) rarely comes again */
const MAX_KEY_LENGTH = 32_000

class Uncacheable extends Error {}

/** A bounded map that forgets the entry used longest ago. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>()
  constructor(readonly size: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key)
    if (v !== undefined) {
      this.map.delete(key)
      this.map.set(key, v)
    }
    return v
  }
  set(key: K, value: V) {
    this.map.delete(key)
    this.map.set(key, value)
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value as K)
  }
  get length() {
    return this.map.size
  }
}

/**
 * The text of a query, or undefined when it holds something a text cannot tell apart. Like JSON, but with
 * the properties a query inherits: cds.ql derives queries from others by prototype (`cds.ql.clone`, e.g. the
 * count of a list page), so what an object inherits is part of it. Undefined values are kept apart from
 * missing ones; dates, buffers, streams, other class instances, functions, bigints and non-finite numbers
 * make the query uncacheable, and so does a text longer than MAX_KEY_LENGTH.
 */
export function queryKey(query: unknown): string | undefined {
  const parts: string[] = []
  let length = 0
  const add = (text: string) => {
    parts.push(text)
    length += text.length
    if (length > MAX_KEY_LENGTH) throw new Uncacheable()
  }
  const walk = (value: unknown): void => {
    switch (typeof value) {
      case 'string':
        return add(JSON.stringify(value))
      case 'number':
        if (!Number.isFinite(value)) throw new Uncacheable()
        return add(`#${value}`)
      case 'boolean':
        return add(value ? 'T' : 'F')
      case 'undefined':
        return add('U')
      case 'object':
        if (value === null) return add('N')
        if (Array.isArray(value)) {
          add('[')
          for (const item of value) {
            walk(item)
            add(',')
          }
          return add(']')
        }
        if (!isQueryPart(value)) throw new Uncacheable()
        add('{')
        for (const name in value) {
          add(JSON.stringify(name))
          add(':')
          walk((value as Record<string, unknown>)[name])
          add(',')
        }
        return add('}')
      default:
        throw new Uncacheable()
    }
  }
  try {
    walk(query)
    return parts.join('')
  } catch (e) {
    if (e instanceof Uncacheable) return undefined
    throw e
  }
}

/** A plain object (possibly derived from other plain objects), or a cds.ql query */
function isQueryPart(value: object): boolean {
  const ctor = (value as { constructor?: unknown }).constructor
  return ctor === Object || ctor === undefined || value instanceof Query
}

/** Prepared statements taken from a connection's cache, on all database services */
export const queryCacheStats = { statementHits: 0 }

/** A compiled read taken from the cache (hit) or compiled and kept (miss) */
export interface QueryCacheEvent {
  kind: 'hit' | 'miss'
  sql: string
}

/**
 * One observer of a cache's events at a time (tests): `observe(fn)` calls `fn` with every event until the
 * function it returns is called; `emit` tells the observer, if any.
 */
export function cacheObserver<E>() {
  let observer: ((e: E) => void) | undefined
  return {
    emit: (e: E) => observer?.(e),
    observe: (fn: (e: E) => void): (() => void) => {
      observer = fn
      return () => {
        if (observer === fn) observer = undefined
      }
    }
  }
}

const events = cacheObserver<QueryCacheEvent>()
/** Calls `fn` with every hit and miss until the returned function is called (for tests: other work runs meanwhile). */
export const observeQueryCache = events.observe

function sanitizeValues(): boolean {
  return process.env.NODE_ENV === 'production' && (cds.env.log as { sanitize_values?: boolean }).sanitize_values !== false
}

/** The data of a read (`req.data`, `{}` for a list) is rendered only when it holds values (CQN2SQL.render). */
function noValues(data: unknown): boolean {
  return data === undefined || data === null || (typeof data === 'object' && Object.keys(data).length === 0)
}

/** A SELECT from an entity or a subquery; custom joins (which cqn4sql leaves as they are) are compiled every time */
function isPlainSelect(query: unknown): boolean {
  const q = query as { SELECT?: { from?: { join?: unknown; args?: unknown } } } | null
  // a query in `from` (e.g. a count's) is a cds.ql query, whose `join` is a method; a CQN join is a string
  return !!q?.SELECT && typeof q.SELECT.from?.join !== 'string' && !Array.isArray(q.SELECT.from?.args)
}

/** Wraps `cqn2sql` (and on SQLite `prepare`) of a database service with the caches described above. */
export function cacheCompiledQueries(db: DatabaseService, entries = DEFAULT_ENTRIES) {
  if (!GENERIC_SELECT.has(db.constructor.name)) return false
  const perModel = new WeakMap<object, Lru<string, Compiled>>()
  const compile = db.cqn2sql
  db.cqn2sql = function (this: DatabaseService, query: unknown, data?: unknown): Compiled {
    const model = this.model
    // values passed for the query's parameters (`?`) are bound as they come: the SQL does not depend on them
    const params = Array.isArray(data) && data.length > 0 ? (data as unknown[]) : undefined
    if ((!params && !noValues(data)) || !model || !isPlainSelect(query)) return compile.call(this, query, data)
    const text = queryKey(query)
    if (text === undefined) return compile.call(this, query, data)
    const key = `${params ? 'params' : ''}\n${(this.context ?? cds.context)?.locale ?? ''}\n${text}`
    let cache = perModel.get(model)
    if (!cache) perModel.set(model, (cache = new Lru(entries)))
    const hit = cache.get(key)
    if (hit) {
      events.emit({ kind: 'hit', sql: hit.sql })
      // a copy of the values: the caller may bind or change them
      const values = params ?? [...hit.values]
      // logged as CAP logs what it renders: in production without the values, unless log.sanitize_values is false
      if (LOG._debug) LOG.debug(hit.sql, sanitizeValues() && values.length ? ['***'] : values)
      return { sql: hit.sql, values, cqn: hit.cqn }
    }
    const compiled = compile.call(this, query, data)
    // with parameters, only a query whose values are all parameters (CQN2SQL.render then binds `data` as they are)
    if (params && compiled.values !== data) return compiled
    events.emit({ kind: 'miss', sql: compiled.sql })
    cache.set(key, { sql: compiled.sql, values: params ? [] : [...compiled.values], cqn: compiled.cqn })
    return compiled
  }
  if (db.constructor.name === 'SQLiteService' && db.prepare) cacheStatements(db, entries)
  return true
}

/**
 * @cap-js/sqlite prepares every statement anew. A prepared statement of better-sqlite3 may be run again with
 * other values (SQLite re-prepares it by itself when the schema changed), so each connection keeps its
 * statements under their SQL text. A statement still being iterated (a streamed read) is busy: then the
 * same SQL is prepared anew. A streamed read switches its statement to raw rows; a statement taken from
 * the cache is switched back.
 */
function cacheStatements(db: DatabaseService, entries: number) {
  const wrapped = new WeakSet<object>()
  const prepare = db.prepare!
  db.prepare = function (this: DatabaseService, sql: string) {
    const dbc = (this as { dbc?: { prepare(sql: string): SqliteStatement } }).dbc
    if (dbc && !wrapped.has(dbc)) {
      wrapped.add(dbc)
      const prepareOnConnection = dbc.prepare.bind(dbc)
      const cache = new Lru<string, SqliteStatement>(entries)
      dbc.prepare = (text: string) => {
        const cached = cache.get(text)
        if (cached && !cached.busy) {
          queryCacheStats.statementHits++
          if (cached.reader) cached.raw(false)
          return cached
        }
        const stmt = prepareOnConnection(text)
        cache.set(text, stmt)
        return stmt
      }
    }
    return prepare.call(this, sql)
  }
}

/** The primary database's caches as `cds.requires.db.compiledQueryCache` sets them; other services are left as they are. */
export function cacheAsConfigured(srv: unknown): boolean {
  const db = srv as DatabaseService
  if (db.name !== 'db') return false
  const setting = requiresEntry<{ compiledQueryCache?: boolean | number }>('db')?.compiledQueryCache
  if (setting === false) return false
  return cacheCompiledQueries(db, typeof setting === 'number' && setting > 0 ? setting : DEFAULT_ENTRIES)
}

/** On connect of the primary database. */
export function cacheCompiledQueriesOfDb() {
  cds.on('connect', cacheAsConfigured)
}
