import cds from '@sap/cds'
import type { Request, Service } from '@sap/cds'
import { copyPlain } from './plain-data'

/**
 * Instance-based authorization around CAP's own, using the `@restrict` conditions declared in
 * srv/access-control.cds and nothing else.
 *
 * 1. Who reaches which subaccounts (`subaccountScope`): a named user without the `Subaccount` attribute
 *    (XSUAA: the attribute left unrestricted) reaches all; a user with a list reaches the subaccounts listed,
 *    an empty list none; a client-credentials token (no user) reaches none. Before CAP evaluates a condition,
 *    the request's user carries the attribute in a form that CAP 9 resolves without untyped parameters
 *    (`scopedUser`): absent, or a list of at least two values, so that `$user.Subaccount is null` becomes a
 *    constant and `x in $user.Subaccount` a list compared with a column, on SQLite, PostgreSQL and HANA.
 * 2. READ: CAP adds the condition of the entity read. This guard folds its constant parts (the unrestricted
 *    user reads without any condition) and adds the condition of every restricted entity the query reaches
 *    through an association: `$expand` (so `$top` and `$count` inside it count only rows within reach),
 *    paths and `any`/`all` in `$filter`, and paths in `$orderby`. All in the one query: no extra round trip.
 *    A to-one step whose condition follows from the row it starts from (a key's instance) is left alone.
 * 3. CREATE/UPDATE: every to-one association set in the input must point to a row the user can read
 *    (403 otherwise), checked right after CAP's own authorization and before the service's validation, so
 *    that validation messages never describe another subaccount's data; and the written row must be
 *    readable by the user afterwards (403 otherwise, rolling the transaction back). "Can read" is decided
 *    by a READ through the service as the same user.
 */
export function guardInstanceAccess(srv: Service) {
  if (guarded.has(srv)) return
  guarded.add(srv)
  const entities = Object.values(srv.entities as Record<string, unknown>) as Definition[]
  if (!entities.some(e => restrictsWithCondition(e, 'READ'))) return

  // the user's attribute in the form CAP resolves: first of all initial handlers, before CAP's own checks
  const scopeUser = initial((req: Request) => {
    const user = scopedUser(req.user)
    if (user !== req.user) req.user = user
  })
  srv.prepend(() => srv.before('*', scopeUser))

  // registered last among the initial handlers: after CAP's role and instance checks, before the service's
  // own `before` handlers (which run in parallel, so no order among them would do)
  const checkReferences = initial(async (req: Request) => {
    if (isPrivileged(req) || !req.target) return
    await assertReferencesReadable(srv, target(req), req)
  })
  srv.before(['CREATE', 'UPSERT', 'UPDATE'], '*', checkReferences)

  srv.after(['CREATE', 'UPSERT', 'UPDATE'], '*', async (result: unknown, req: Request) => {
    if (isPrivileged(req) || !req.target) return
    const entity = target(req)
    if (!restrictsWithCondition(entity, req.event)) return
    if (req.event === 'UPDATE') {
      // the row addressed by the request, as it is now
      const k = keyElement(entity)
      if (k && !(await srv.run(SELECT.one.from(req.subject).columns(k)))) req.reject(403)
      return
    }
    const key = keyOf(entity, isRow(result) ? { ...(req.data as Row), ...result } : (req.data as Row))
    if (key === undefined) return
    if (!(await readable(srv, entity, [key])).has(key)) req.reject(403)
  })

  srv.before('READ', '*', (req: Request) => {
    if (isPrivileged(req) || !req.target) return
    const query = req.query as unknown as { SELECT?: Select }
    if (query?.SELECT) restrictRead(query.SELECT, target(req), new Conditions(req.user))
  })
}

/** The version of @sap/cds whose handler phases `initial` was checked against (test/instance-auth.test.ts). */
export const CHECKED_WITH_CDS = '9.9.3'

/**
 * Marks a handler as one of CAP's initial handlers. CAP runs them one after the other before all `before`
 * handlers, and its own authorization and input checks are among them (lib/srv/srv-dispatch.js `handle`).
 * CAP 9 documents no way to run a handler in that phase: the flag `_initial` is CAP's internal one, read when
 * the handler is registered (lib/srv/srv-handlers.js `register`). test/instance-auth.test.ts fails when the
 * installed @sap/cds is not CHECKED_WITH_CDS, and when the marked handlers no longer run before CAP's checks.
 */
export function initial<H extends (req: Request) => unknown>(handler: H): H {
  return Object.assign(handler, { _initial: true })
}

// ---- who reaches which subaccounts ------------------------------------------------------------------

/** The user attribute that limits users to subaccounts (GUIDs, `Subaccounts.subaccountId`). */
export const SUBACCOUNT = 'Subaccount'
/** 'all', or the subaccount GUIDs the user reaches (none when empty). */
export type SubaccountScope = 'all' | readonly string[]

const SCOPE = Symbol('subaccount scope')
/** never a subaccount GUID (those are checked on write): stands for "no subaccount" */
const NONE = '(none)'

type ScopedUser = cds.User & { [SCOPE]?: SubaccountScope }

/**
 * The subaccounts `user` reaches: all for the privileged user and for a named user without the attribute
 * (XSUAA leaves an unrestricted attribute out of the token); the values listed otherwise, none for an empty
 * list or a value that is no list of strings; none for a client-credentials token (no named user: mapping
 * consumers to subaccounts is not there yet) and for the anonymous user.
 */
export function subaccountScope(user: cds.User): SubaccountScope {
  const known = (user as ScopedUser)[SCOPE]
  if (known) return known
  if (user instanceof cds.User.Privileged) return 'all'
  if ((user as { _is_anonymous?: boolean })._is_anonymous || user.is('system-user')) return []
  const attr = (user.attr ?? {}) as Record<string, unknown>
  if (!Object.prototype.hasOwnProperty.call(attr, SUBACCOUNT) || attr[SUBACCOUNT] === undefined) return 'all'
  const value = attr[SUBACCOUNT]
  const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : []
  return values.filter((v): v is string => typeof v === 'string' && v !== '')
}

/**
 * The user with the `Subaccount` attribute in the form CAP 9.9 resolves into constants and typed lists:
 * absent for all subaccounts, otherwise a list of at least two values (one value is repeated; no value
 * becomes two values no subaccount has). A list of one value would be left as an untyped parameter in
 * `$user.Subaccount is null`, which PostgreSQL refuses; an empty list would count as null, i.e. all.
 * The original user object is left as it is (mocked users are shared between requests).
 */
export function scopedUser(user: cds.User): cds.User {
  if ((user as ScopedUser)[SCOPE] || user instanceof cds.User.Privileged || (user as { _is_anonymous?: boolean })._is_anonymous) return user
  const scope = subaccountScope(user)
  const attr = { ...(user.attr as Record<string, unknown>) }
  if (scope === 'all') delete attr[SUBACCOUNT]
  else attr[SUBACCOUNT] = scope.length > 1 ? [...scope] : scope.length === 1 ? [scope[0], scope[0]] : [NONE, NONE]
  const scoped = Object.create(user) as ScopedUser
  scoped.attr = attr as Record<string, string>
  Object.defineProperty(scoped, SCOPE, { value: scope })
  return scoped
}

// ------------------------------------------------------------------------------------------------------

type Row = Record<string, unknown>
type Token = unknown
/** a condition: always true, always false, or CXN tokens */
type Condition = boolean | Token[]

interface Element {
  name: string
  target?: string
  key?: boolean
  isAssociation?: boolean
  is2one?: boolean
  keys?: { ref: string[]; $generatedFieldName?: string }[]
  /** elements of the row that equal those of the row this to-one association reaches (see `implied`) */
  '@instanceAuth.same'?: string[]
}

interface Restriction {
  grant?: string | string[]
  to?: string | string[]
  where?: unknown
}

interface Definition {
  name: string
  kind?: string
  elements: Record<string, Element>
  '@restrict'?: Restriction[]
}

interface Step {
  id: string
  where?: Token[]
  [more: string]: unknown
}

interface Column {
  ref?: (string | Step)[]
  as?: string
  expand?: (Column | '*')[] | '*'
  where?: Token[]
  xpr?: Token[]
  func?: string
  args?: Token[]
}

interface Select {
  from?: { ref?: (string | Step)[] }
  columns?: (Column | '*')[]
  where?: Token[]
  having?: Token[]
  orderBy?: Column[]
}

const guarded = new WeakSet<Service>()
/** keys per visibility query */
const CHUNK = 500
const WRITE = new Set(['CREATE', 'UPSERT', 'UPDATE', 'DELETE'])

function target(req: Request): Definition {
  return req.target as unknown as Definition
}

function isPrivileged(req: Request): boolean {
  return req.user instanceof cds.User.Privileged
}

function isRow(x: unknown): x is Row {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function definition(name: string | undefined): Definition | undefined {
  return name ? (cds.model?.definitions[name] as unknown as Definition | undefined) : undefined
}

const asList = <T>(x: T | T[] | undefined, fallback: T): T[] => (x === undefined ? [fallback] : Array.isArray(x) ? x : [x])

function grants(r: Restriction, event: string): boolean {
  return asList(r.grant, '*').some(
    g => g === '*' || g === event || (event === 'UPSERT' && (g === 'CREATE' || g === 'UPDATE')) || (g === 'WRITE' && WRITE.has(event))
  )
}

/** Whether some grant of `event` on the entity carries a `where` condition. */
function restrictsWithCondition(entity: Definition | undefined, event: string): boolean {
  return !!entity?.['@restrict']?.some(r => !!r.where && grants(r, event))
}

// ---- conditions ---------------------------------------------------------------------------------------

const TRUE_SQL = () => ({ xpr: [{ val: 1, param: false }, '=', { val: 1, param: false }] })
const FALSE_SQL = () => ({ xpr: [{ val: 1, param: false }, '=', { val: 2, param: false }] })
const isXpr = (x: Token): x is { xpr: Token[] } => isRow(x) && Array.isArray(x.xpr) && Object.keys(x).length === 1
const isPlainVal = (x: Token): x is { val: unknown } => isRow(x) && 'val' in x && !('ref' in x) && !('func' in x) && !('list' in x)
const isUserRef = (x: Token): x is { ref: string[] } => isRow(x) && Array.isArray(x.ref) && x.ref[0] === '$user'
const isConnector = (x: Token) => typeof x === 'string' && /^(and|or)$/i.test(x)

/** READ conditions resolved before, per entity definition (of its model) and user; at most REMEMBERED each */
const resolvedBefore = new WeakMap<Definition, Map<string, Condition>>()
const REMEMBERED = 500

/** The READ conditions of entities for one request's user, resolved once per entity. */
class Conditions {
  private readonly resolved = new Map<string, Condition>()
  private readonly scope: SubaccountScope
  constructor(private readonly user: cds.User) {
    this.scope = subaccountScope(user)
  }

  /** The entity's READ condition for the user, from its `@restrict`: true when unrestricted. */
  of(entity: Definition): Condition {
    let c = this.resolved.get(entity.name)
    if (c === undefined) {
      c = this.resolve(entity)
      this.resolved.set(entity.name, c)
    }
    return c
  }

  private resolve(entity: Definition): Condition {
    const restrictions = entity['@restrict']
    if (!restrictions) return true
    const applicable = restrictions.filter(r => grants(r, 'READ') && asList(r.to, 'any').some(role => this.user.is(role)))
    if (!applicable.length) return false
    if (applicable.some(r => !r.where)) return true
    // the same restrictions for the same user and attributes resolve the same: once, then a copy each time
    const key = `${applicable.map(r => restrictions.indexOf(r)).join()}|${this.user.id}|${JSON.stringify(this.user.attr ?? {})}|${JSON.stringify(this.scope)}`
    let known = resolvedBefore.get(entity)
    if (!known) resolvedBefore.set(entity, (known = new Map<string, Condition>()))
    let c = known.get(key)
    if (c === undefined) {
      c = or(applicable.map(r => this.substitute(whereTokens(r.where), entity)))
      if (known.size >= REMEMBERED) known.clear()
      known.set(key, c)
    }
    return typeof c === 'boolean' ? c : copyPlain(c)
  }

  /** `$user...` replaced as CAP does, with the attribute values of `subaccountScope` for `Subaccount`. */
  private substitute(where: Token[], entity: Definition): Condition {
    const out: Token[] = []
    for (let i = 0; i < where.length; i++) {
      const x = where[i]
      if (isXpr(x)) {
        const inner = this.substitute(x.xpr, entity)
        out.push(inner === true ? TRUE_SQL() : inner === false ? FALSE_SQL() : { xpr: inner })
        continue
      }
      if (!isUserRef(x)) {
        out.push(x)
        continue
      }
      const name = x.ref[1]
      if (name === undefined || name === 'id') {
        out.push({ val: this.user.id })
        continue
      }
      const values = this.values(name)
      if (where[i + 1] === 'is' && where[i + 2] === 'null') {
        out.push(values === undefined ? TRUE_SQL() : FALSE_SQL())
        i += 2
      } else if (where[i + 1] === 'is' && where[i + 2] === 'not' && where[i + 3] === 'null') {
        out.push(values === undefined ? FALSE_SQL() : TRUE_SQL())
        i += 3
      } else if ((out.at(-1) === 'in' || out.at(-1) === '=') && out.length >= 2) {
        const left = out.splice(out.length - 2, 2)[0]
        out.push(values?.length ? { xpr: [left, 'in', { list: values.map(v => ({ val: v })) }] } : FALSE_SQL())
      } else {
        throw new Error(`@restrict of ${entity.name}: $user.${name} is supported with 'is null', 'is not null', '=' and 'in' only`)
      }
    }
    return fold(out)
  }

  /** An attribute's values; undefined when the user is unrestricted in it. */
  private values(name: string): readonly string[] | undefined {
    if (name === SUBACCOUNT) return this.scope === 'all' ? undefined : this.scope
    const v = (this.user.attr as Record<string, unknown> | undefined)?.[name]
    if (v === undefined || v === null) return undefined
    return (Array.isArray(v) ? v : [v]).map(String)
  }
}

/** parsed `where` strings of `@restrict`: the model's strings do not change, parsing them costs a compiler call */
const parsed = new Map<string, Token[]>()

function whereTokens(where: unknown): Token[] {
  if (typeof where === 'string') {
    let tokens = parsed.get(where)
    if (!tokens) {
      const x = cds.parse.expr(where) as { xpr?: Token[] }
      tokens = x.xpr ?? [x]
      parsed.set(where, tokens)
    }
    return copyPlain(tokens)
  }
  if (isRow(where) && Array.isArray(where.xpr)) return copyPlain(where.xpr as Token[])
  return copyPlain(where as Token[])
}

function or(conditions: Condition[]): Condition {
  if (conditions.some(c => c === true)) return true
  const rest = conditions.filter((c): c is Token[] => c !== false)
  if (!rest.length) return false
  return rest.length === 1 ? rest[0] : rest.flatMap((c, i) => (i ? ['or', { xpr: c }] : [{ xpr: c }]))
}

function and(where: Token[] | undefined, c: Condition): Token[] | undefined {
  if (c === true) return where
  const add = c === false ? [FALSE_SQL()] : c
  return where?.length ? [{ xpr: where }, 'and', { xpr: add }] : add
}

/**
 * Folds constant comparisons (`1 = 1`, `'1' = '2'`, as CAP resolves `$user... is null`) and the `and`/`or`
 * around them: true, false, or the tokens that remain. Token lists with `not` (other than `is not`),
 * `between` or `case` keep their structure; only their nested expressions are folded.
 */
export function fold(tokens: Token[]): Condition {
  const t: Token[] = tokens.map(x => {
    if (!isXpr(x)) return x
    const inner = fold(x.xpr)
    return inner === true || inner === false ? inner : { xpr: inner }
  })
  const keeps = t.some((x, i) => typeof x === 'string' && (/^(between|case)$/i.test(x) || (/^not$/i.test(x) && !/^is$/i.test(String(t[i - 1])))))
  if (keeps) return t.map(x => (x === true ? TRUE_SQL() : x === false ? FALSE_SQL() : x))

  // terms between connectors; `and` binds tighter than `or`
  const groups: Token[][][] = [[[]]]
  for (const x of t) {
    if (isConnector(x)) {
      if (/^or$/i.test(x as string)) groups.push([[]])
      else groups.at(-1)!.push([])
    } else groups.at(-1)!.at(-1)!.push(x)
  }
  const constant = (term: Token[]): boolean | undefined => {
    if (term.length === 1 && typeof term[0] === 'boolean') return term[0]
    if (term.length === 3 && isPlainVal(term[0]) && isPlainVal(term[2]) && (term[1] === '=' || term[1] === '!=' || term[1] === '<>'))
      return (String(term[0].val) === String(term[2].val)) === (term[1] === '=')
    return undefined
  }
  const conjunctions: Token[][][] = []
  for (const terms of groups) {
    if (terms.some(term => constant(term) === false)) continue // false and ... = false
    const rest = terms.filter(term => constant(term) !== true)
    if (!rest.length) return true // ... or true = true
    conjunctions.push(rest)
  }
  if (!conjunctions.length) return false
  return conjunctions.flatMap((terms, i) => [...(i ? ['or'] : []), ...terms.flatMap((term, j) => [...(j ? ['and'] : []), ...term])])
}

function setWhere(holder: { where?: Token[] }, c: Condition | undefined) {
  if (c === undefined || c === true) delete holder.where
  else holder.where = c === false ? [FALSE_SQL()] : c
}

// ---- READ: one query with every condition ---------------------------------------------------------------

function stepId(s: string | Step): string {
  return typeof s === 'string' ? s : s.id
}

/** `tokens` with every association path prefixed by `prefix` (for comparing conditions across a step). */
function prefixed(tokens: Token[], prefix: string): Token[] {
  return tokens.map(x => {
    if (!isRow(x)) return x
    if (Array.isArray(x.ref) && x.ref[0] !== '$user') return { ...x, ref: [prefix, ...(x.ref as unknown[])] }
    if (Array.isArray(x.xpr)) return { ...x, xpr: prefixed(x.xpr as Token[], prefix) }
    return x
  })
}

/** Every association path in `tokens` starts with one of `names`. */
function pathsStartWith(tokens: Token[], names: readonly string[]): boolean {
  return tokens.every(x => {
    if (!isRow(x)) return true
    if (Array.isArray(x.ref) && x.ref[0] !== '$user') return names.includes(stepId(x.ref[0] as string | Step))
    if (Array.isArray(x.xpr)) return pathsStartWith(x.xpr as Token[], names)
    if (Array.isArray(x.args)) return pathsStartWith(x.args as Token[], names)
    return !('SELECT' in x)
  })
}

/**
 * Whether the rows reached through the to-one `assoc` from rows satisfying `from` satisfy `to` anyway: `to`
 * is `from` seen across the step, or (`@instanceAuth.same`: elements the row copies from the row the step
 * reaches, e.g. a key's subaccount from its instance) `to` is `from` and reads only such elements.
 */
function implied(from: Condition, assoc: Element, to: Condition): boolean {
  if (to === true || from === false) return true
  if (!assoc.is2one || from === true || to === false) return false
  if (JSON.stringify(prefixed(to, assoc.name)) === JSON.stringify(from)) return true
  const same = assoc['@instanceAuth.same']
  return Array.isArray(same) && same.length > 0 && pathsStartWith(to, same) && JSON.stringify(to) === JSON.stringify(from)
}

function restrictRead(q: Select, entity: Definition, conditions: Conditions) {
  // what CAP added for the entity read, and for the entities along a navigation path, folded
  for (const s of q.from?.ref ?? []) if (typeof s === 'object' && s.where) setWhere(s, fold(s.where))
  if (q.where) setWhere(q, fold(q.where))
  // CAP restricts the rows of the entity read (at the end of the path); they satisfy its condition
  const own = conditions.of(entity)
  if (q.columns) restrictColumns(q.columns, entity, own, conditions)
  if (q.where) q.where = restrictPaths(q.where, entity, own, conditions)
  if (q.having) q.having = restrictPaths(q.having, entity, own, conditions)
  for (const o of q.orderBy ?? []) restrictColumn(o, entity, own, conditions)
}

function restrictColumns(columns: (Column | '*')[], entity: Definition, own: Condition, conditions: Conditions) {
  for (const c of columns) if (c !== '*') restrictColumn(c, entity, own, conditions)
}

function restrictColumn(c: Column, entity: Definition, own: Condition, conditions: Conditions) {
  if (c.expand && c.ref?.length === 1) {
    const assoc = entity.elements[stepId(c.ref[0])]
    const to = assoc?.isAssociation ? definition(assoc.target) : undefined
    if (!assoc || !to) return
    const cond = conditions.of(to)
    if (c.where) c.where = restrictPaths(c.where, to, cond, conditions)
    const step = c.ref[0]
    if (typeof step === 'object' && step.where) step.where = restrictPaths(step.where, to, cond, conditions)
    if (!implied(own, assoc, cond)) c.where = and(c.where, cond)
    if (Array.isArray(c.expand)) restrictColumns(c.expand, to, cond, conditions)
    return
  }
  if (c.ref) restrictRef(c as Column & { ref: (string | Step)[] }, entity, own, conditions)
  if (c.xpr) c.xpr = restrictPaths(c.xpr, entity, own, conditions)
  if (c.args) c.args = restrictPaths(c.args, entity, own, conditions)
}

/** Adds the condition of each restricted entity a path steps into as the step's filter. */
function restrictRef(x: { ref: (string | Step)[] }, entity: Definition, own: Condition, conditions: Conditions) {
  let from = entity
  let fromCond = own
  for (const [i, s] of x.ref.entries()) {
    // a path goes on through associations only; it ends at the first element that is none
    const assoc = from.elements?.[stepId(s)]
    const to = assoc?.isAssociation ? definition(assoc.target) : undefined
    if (!assoc || !to) return
    const cond = conditions.of(to)
    let step: Step = typeof s === 'object' ? s : { id: s }
    if (step.where) step = { ...step, where: restrictPaths(step.where, to, cond, conditions) }
    if (!implied(fromCond, assoc, cond)) step = { ...step, where: and(step.where, cond) }
    if (step.where || typeof s === 'object') x.ref[i] = step
    from = to
    fromCond = cond
  }
}

function restrictPaths(tokens: Token[], entity: Definition, own: Condition, conditions: Conditions): Token[] {
  return tokens.map(x => {
    if (!isRow(x)) return x
    if (Array.isArray(x.ref) && x.ref[0] !== '$user') {
      const copy = { ...x, ref: [...(x.ref as (string | Step)[])] }
      restrictRef(copy, entity, own, conditions)
      return copy
    }
    if (Array.isArray(x.xpr)) return { ...x, xpr: restrictPaths(x.xpr as Token[], entity, own, conditions) }
    if (Array.isArray(x.args)) return { ...x, args: restrictPaths(x.args as Token[], entity, own, conditions) }
    return x
  })
}

// ---- CREATE / UPDATE ----------------------------------------------------------------------------------

/** The entity's single key element; entities with compound keys are not handled (none is restricted). */
function keyElement(entity: Definition): string | undefined {
  const keys = Object.values(entity.elements).filter(e => e.key && !e.isAssociation)
  return keys.length === 1 ? keys[0].name : undefined
}

function keyOf(entity: Definition, row: Row): string | undefined {
  const k = keyElement(entity)
  const v = k ? row[k] : undefined
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined
}

/** The keys among `keys` of rows of `entity` that the current user can read, asked through the service. */
async function readable(srv: Service, entity: Definition, keys: string[]): Promise<Set<string>> {
  const k = keyElement(entity)
  const unique = [...new Set(keys)]
  const result = new Set<string>()
  if (!k) return result
  for (let i = 0; i < unique.length; i += CHUNK) {
    const rows = (await srv.run(SELECT.from(entity.name).columns(k).where({ [k]: { in: unique.slice(i, i + CHUNK) } }))) as Row[]
    for (const r of rows) result.add(String(r[k]))
  }
  return result
}

async function exists(entity: Definition, key: string): Promise<boolean> {
  const k = keyElement(entity)!
  return !!(await SELECT.one.from(entity.name).columns(k).where({ [k]: key }))
}

async function assertReferencesReadable(srv: Service, entity: Definition, req: Request) {
  const data = req.data as Row
  if (!isRow(data)) return
  for (const assoc of Object.values(entity.elements)) {
    if (!assoc.isAssociation || !assoc.is2one || !assoc.keys?.length) continue
    const to = definition(assoc.target)
    if (!to || !to.name.startsWith(srv.name + '.') || !restrictsWithCondition(to, 'READ')) continue
    const fk = assoc.keys[0].$generatedFieldName ?? `${assoc.name}_${assoc.keys[0].ref.join('_')}`
    const nested = data[assoc.name]
    const value = data[fk] ?? (isRow(nested) ? nested[assoc.keys[0].ref[0]] : undefined)
    // a reference that is no key value (input-guard.ts refuses those) is left to the service's validation too
    if (typeof value !== 'string' && typeof value !== 'number') continue
    const key = String(value)
    // unknown references are left to the service's own validation and its message codes
    if (!(await readable(srv, to, [key])).has(key) && (await exists(to, key))) req.reject(403)
  }
}
