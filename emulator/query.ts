/**
 * fieldQuery / labelQuery: parser and evaluator.
 *
 * Grammar (as SM): criterion (' and ' criterion)*
 *   criterion := key ' ' op ' ' value | key ' ' ('in'|'notin') ' ' '(' value (',' value)* ')'
 *   value     := 'quoted string' ('' escapes a quote) | true | false | number | ISO datetime
 * Whitespace between tokens is accepted in any amount.
 */
import { SmError } from './errors'

export type QueryOp = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'en' | 'in' | 'notin' | 'contains'
export type LiteralKind = 'string' | 'number' | 'boolean' | 'datetime'

export interface Literal {
  kind: LiteralKind
  value: string
}

export interface Criterion {
  key: string
  op: QueryOp
  values: Literal[]
}

export type QueryKind = 'field' | 'label'

const OPS: QueryOp[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'en', 'in', 'notin', 'contains']
const MULTI: QueryOp[] = ['in', 'notin']
const ORDERING: QueryOp[] = ['gt', 'lt', 'ge', 'le']

const NUMBER_RE = /^[+-]?\d+(\.\d+)?$/
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
const KEY_RE = /[-_/a-zA-Z0-9.\\]/

class Scanner {
  pos = 0
  constructor(
    readonly text: string,
    readonly kind: QueryKind
  ) {}

  fail(msg: string): never {
    const param = this.kind === 'field' ? 'fieldQuery' : 'labelQuery'
    throw new SmError(400, 'BadRequest', `invalid ${param} '${this.text}': ${msg} (at position ${this.pos})`)
  }

  get done(): boolean {
    return this.pos >= this.text.length
  }

  peek(): string {
    return this.text[this.pos]
  }

  spaces(required: boolean): void {
    const start = this.pos
    while (!this.done && /\s/.test(this.peek())) this.pos++
    if (required && this.pos === start) this.fail('expected a space')
  }

  key(): string {
    const start = this.pos
    while (!this.done && KEY_RE.test(this.peek())) this.pos++
    if (this.pos === start) this.fail('expected a key')
    return this.text.slice(start, this.pos)
  }

  word(): string {
    const start = this.pos
    while (!this.done && /[a-zA-Z]/.test(this.peek())) this.pos++
    return this.text.slice(start, this.pos)
  }

  literal(): Literal {
    if (this.peek() === "'") {
      this.pos++
      let out = ''
      for (;;) {
        if (this.done) this.fail('unterminated string literal')
        const ch = this.text[this.pos++]
        if (ch === "'") {
          if (this.peek() === "'") {
            out += "'"
            this.pos++
            continue
          }
          return { kind: 'string', value: out }
        }
        out += ch
      }
    }
    const start = this.pos
    while (!this.done && !/[\s,()]/.test(this.peek())) this.pos++
    const raw = this.text.slice(start, this.pos)
    if (raw === '') this.fail('expected a value')
    if (raw === 'true' || raw === 'false') return { kind: 'boolean', value: raw }
    if (NUMBER_RE.test(raw)) return { kind: 'number', value: raw }
    if (DATETIME_RE.test(raw) && !isNaN(Date.parse(raw))) return { kind: 'datetime', value: raw }
    return this.fail(`'${raw}' is not a valid value (strings need single quotes)`)
  }

  list(): Literal[] {
    if (this.peek() !== '(') this.fail("expected '(' to start a value list")
    this.pos++
    const values: Literal[] = []
    for (;;) {
      this.spaces(false)
      values.push(this.literal())
      this.spaces(false)
      if (this.peek() === ',') {
        this.pos++
        continue
      }
      if (this.peek() === ')') {
        this.pos++
        return values
      }
      this.fail("expected ',' or ')'")
    }
  }
}

/** Parse a query expression; throws SmError 400 on any syntax or semantic problem. */
export function parseQuery(text: string, kind: QueryKind): Criterion[] {
  const s = new Scanner(text, kind)
  const criteria: Criterion[] = []
  s.spaces(false)
  if (s.done) return criteria
  for (;;) {
    const key = s.key()
    s.spaces(true)
    const opWord = s.word().toLowerCase()
    if (!OPS.includes(opWord as QueryOp)) s.fail(`unsupported operator '${opWord}'`)
    const op = opWord as QueryOp
    s.spaces(true)
    const values = MULTI.includes(op) ? s.list() : [s.literal()]
    criteria.push(validate({ key, op, values }, s))
    const beforeSpace = s.pos
    s.spaces(false)
    if (s.done) break
    if (s.pos === beforeSpace) s.fail('expected a space')
    if (s.word() !== 'and') s.fail("criteria must be joined with 'and'")
    s.spaces(true)
  }
  if (kind === 'label') {
    const seen = new Set<string>()
    for (const c of criteria) {
      if (seen.has(c.key)) s.fail(`label key '${c.key}' used more than once`)
      seen.add(c.key)
    }
  }
  return criteria
}

function validate(c: Criterion, s: Scanner): Criterion {
  if (c.values.some((v) => /[\r\n]/.test(v.value))) s.fail('values must not contain newlines')
  if (ORDERING.includes(c.op)) {
    if (s.kind === 'label') s.fail(`operator '${c.op}' is not supported in label queries`)
    if (c.values[0].kind !== 'number' && c.values[0].kind !== 'datetime') {
      s.fail(`operator '${c.op}' needs a number or datetime value`)
    }
  }
  if (c.op === 'en' && s.kind === 'label') s.fail("operator 'en' is not supported in label queries")
  return c
}

// ------------------------------------------------------------------------------------------------
// evaluation

/** A JSON value as text: a string as it is, anything else as JSON (numbers and booleans read as with String). */
export function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? 'undefined' : JSON.stringify(v)
}

function scalar(v: unknown): string | null {
  if (v === null || v === undefined) return null
  return jsonText(v)
}

function equals(actual: string | null, lit: Literal): boolean {
  if (actual === null) return false
  if (lit.kind === 'number') return NUMBER_RE.test(actual) && Number(actual) === Number(lit.value)
  if (lit.kind === 'datetime') return Date.parse(actual) === Date.parse(lit.value)
  return actual === lit.value
}

function compare(actual: string | null, lit: Literal): number | null {
  if (actual === null) return null
  const a = lit.kind === 'number' ? Number(actual) : Date.parse(actual)
  const b = lit.kind === 'number' ? Number(lit.value) : Date.parse(lit.value)
  if (isNaN(a) || isNaN(b)) return null
  return a - b
}

function test(actual: string | null, c: Criterion): boolean {
  const first = c.values[0]
  switch (c.op) {
    case 'eq':
      return equals(actual, first)
    case 'en':
      return actual === null || equals(actual, first)
    case 'ne':
      return !equals(actual, first)
    case 'in':
      return c.values.some((v) => equals(actual, v))
    case 'notin':
      return !c.values.some((v) => equals(actual, v))
    case 'contains':
      return actual !== null && actual.includes(first.value)
    default: {
      const d = compare(actual, first)
      if (d === null) return false
      if (c.op === 'gt') return d > 0
      if (c.op === 'ge') return d >= 0
      if (c.op === 'lt') return d < 0
      return d <= 0
    }
  }
}

/** Read a field by key; '/' separates path segments (e.g. context/subaccount_id). */
export function fieldValue(obj: unknown, key: string): unknown {
  let cur: unknown = obj
  for (const part of key.split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/**
 * Check the keys of a field query against the queryable fields of a resource type.
 * A key whose first path segment is in `allowed` is accepted.
 */
export function checkFieldKeys(criteria: Criterion[], allowed: string[]): void {
  for (const c of criteria) {
    const head = c.key.split('/')[0]
    if (!allowed.includes(head)) {
      throw new SmError(400, 'BadRequest', `unsupported field query key: ${c.key}`)
    }
  }
}

export function matchesFields(obj: unknown, criteria: Criterion[]): boolean {
  return criteria.every((c) => test(scalar(fieldValue(obj, c.key)), c))
}

/** A label criterion matches when any value of the label satisfies it; a missing label never matches. */
export function matchesLabels(labels: Record<string, string[]> | undefined, criteria: Criterion[]): boolean {
  return criteria.every((c) => {
    const values = labels?.[c.key]
    if (!values || values.length === 0) return false
    return values.some((v) => test(v, c))
  })
}
