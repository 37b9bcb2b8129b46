/**
 * Builders for SM `fieldQuery` / `labelQuery` expressions.
 *
 * Grammar (Peripli query language): `criterion( and criterion)*`, criterion = `key op literal` or
 * `key in|notin (l1, l2, ...)`. String literals are single-quoted with embedded quotes doubled; numbers and
 * booleans are bare; dates are bare ISO-8601. The result is one query-string value: URL-encoding is done
 * by the client when the request URL is built.
 */
import { ServiceManagerError } from './errors'

export type QueryOp = 'eq' | 'ne' | 'in' | 'notin' | 'gt' | 'lt' | 'ge' | 'le' | 'contains' | 'en'
export type QueryScalar = string | number | boolean | Date
export interface Criterion {
  key: string
  op: QueryOp
  value: QueryScalar | readonly QueryScalar[]
}

const LIST_OPS: ReadonlySet<QueryOp> = new Set(['in', 'notin'])
const ORDER_OPS: ReadonlySet<QueryOp> = new Set(['gt', 'lt', 'ge', 'le'])
const ALL_OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'in', 'notin', 'gt', 'lt', 'ge', 'le', 'contains', 'en'])

/** Field keys may be JSON paths into `context`, e.g. `context/clusterid`. */
const FIELD_KEY = /^[-_/a-zA-Z0-9\\]+$/
/** Label keys: alphanumerics, `.`, `-`, `_`; at most 100 characters. */
const LABEL_KEY = /^[-_.a-zA-Z0-9]{1,100}$/

function invalid(description: string): ServiceManagerError {
  return new ServiceManagerError({ code: 'InvalidQuery', description, retryable: false })
}

/** Quote a string literal: `it's` -> `'it''s'`. */
export function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

function literal(value: QueryScalar, key: string, forLabel: boolean): string {
  if (typeof value === 'string') {
    if (/[\r\n]/.test(value)) throw invalid(`value for "${key}" must not contain line breaks`)
    if (forLabel && (value.length === 0 || value.length > 255))
      throw invalid(`label value for "${key}" must have 1 to 255 characters`)
    return quote(value)
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`value for "${key}" must be a finite number`)
    return String(value)
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid(`value for "${key}" is an invalid date`)
    return value.toISOString()
  }
  throw invalid(`unsupported value type for "${key}"`)
}

function criterion(c: Criterion, forLabel: boolean): string {
  const { key, op, value } = c
  if (typeof key !== 'string' || !(forLabel ? LABEL_KEY : FIELD_KEY).test(key))
    throw invalid(`invalid ${forLabel ? 'label' : 'field'} key "${String(key).replace(/[\r\n]/g, ' ')}"`)
  if (!ALL_OPS.has(op)) throw invalid(`unsupported operator "${String(op)}" for "${key}"`)
  if (forLabel && (ORDER_OPS.has(op) || op === 'en'))
    throw invalid(`operator "${op}" is not supported in label queries`)
  if (LIST_OPS.has(op)) {
    const values: readonly QueryScalar[] = Array.isArray(value) ? value : [value as QueryScalar]
    if (values.length === 0) throw invalid(`operator "${op}" for "${key}" needs at least one value`)
    return `${key} ${op} (${values.map((v) => literal(v, key, forLabel)).join(', ')})`
  }
  if (Array.isArray(value)) throw invalid(`operator "${op}" for "${key}" takes a single value`)
  return `${key} ${op} ${literal(value as QueryScalar, key, forLabel)}`
}

/** Build a fieldQuery expression from criteria joined with ` and `. */
export function fieldQuery(criteria: readonly Criterion[]): string {
  return criteria.map((c) => criterion(c, false)).join(' and ')
}

/** Build a labelQuery expression; label keys/values are validated and each key may appear only once. */
export function labelQuery(criteria: readonly Criterion[]): string {
  const seen = new Set<string>()
  for (const c of criteria) {
    if (seen.has(c.key)) throw invalid(`label key "${c.key}" may appear only once in a label query`)
    seen.add(c.key)
  }
  return criteria.map((c) => criterion(c, true)).join(' and ')
}

/** Validate a label key/values pair as used in create bodies and PATCH label operations. */
export function validateLabel(key: string, values: readonly string[] | undefined): void {
  if (typeof key !== 'string' || !LABEL_KEY.test(key)) throw invalid(`invalid label key "${String(key).replace(/[\r\n]/g, ' ')}"`)
  if (values === undefined) return
  if (!Array.isArray(values)) throw invalid(`label values for "${key}" must be an array`)
  const seen = new Set<string>()
  for (const v of values) {
    if (typeof v !== 'string' || v.length === 0 || v.length > 255 || /[\r\n]/.test(v))
      throw invalid(`invalid value for label "${key}" (1 to 255 characters, no line breaks)`)
    if (seen.has(v)) throw invalid(`duplicate value for label "${key}"`)
    seen.add(v)
  }
}

/**
 * Percent-encode one query-string component. Stricter than encodeURIComponent: also encodes
 * `!'()*` so quotes in query expressions travel as %27.
 */
export function encodeQueryComponent(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}
