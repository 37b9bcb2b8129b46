import cds from '@sap/cds'
import type { Request, Service } from '@sap/cds'

/**
 * Closes the gaps of CAP's (Node.js) instance-based authorization, using the `@restrict` conditions
 * declared in srv/access-control.cds and nothing else: CAP applies a `where` to READ, UPDATE, DELETE and
 * bound actions, but not to the input of CREATE and UPDATE, and not to $expand.
 *
 * - CREATE/UPDATE: every to-one association set in the input must point to a row the user can read
 *   (403 otherwise), checked right after CAP's own authorization and before the service's validation, so
 *   that validation messages never describe another subaccount's data.
 * - CREATE/UPDATE: the written row must be readable by the user afterwards (403 otherwise, rolling the
 *   transaction back); this covers the entity's own scoping elements, e.g. `Subaccounts.subaccountId`.
 * - READ: expanded rows of a restricted entity that the user cannot read are removed from the result.
 *
 * "Can read" is decided by a READ through the service as the same user, so CAP evaluates the conditions.
 */
export function guardInstanceAccess(srv: Service) {
  if (guarded.has(srv)) return
  guarded.add(srv)
  const entities = Object.values(srv.entities as Record<string, unknown>) as Definition[]
  if (!entities.some(e => restrictsWithCondition(e, 'READ'))) return

  // CAP runs its authorization as "initial" handlers, in sequence and before all `before` handlers (which
  // run in parallel); registered last among them, this check runs after CAP's role and instance checks.
  const checkReferences = Object.assign(
    async (req: Request) => {
      if (isPrivileged(req) || !req.target) return
      await assertReferencesReadable(srv, target(req), req)
    },
    { _initial: true }
  )
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
    selectKeysOfRestrictedExpands(target(req), req.query?.SELECT?.columns as Column[] | undefined)
  })

  srv.after('READ', '*', async (rows: unknown, req: Request) => {
    if (isPrivileged(req) || !req.target || !Array.isArray(rows)) return
    await pruneExpands(srv, target(req), rows as Row[], req.query?.SELECT?.columns as Column[] | undefined)
  })
}

// ------------------------------------------------------------------------------------------------------

type Row = Record<string, unknown>

interface Element {
  name: string
  target?: string
  key?: boolean
  isAssociation?: boolean
  is2one?: boolean
  keys?: { ref: string[]; $generatedFieldName?: string }[]
}

interface Restriction {
  grant?: string | string[]
  where?: unknown
}

interface Definition {
  name: string
  kind?: string
  elements: Record<string, Element>
  '@restrict'?: Restriction[]
}

interface Column {
  ref?: string[]
  as?: string
  expand?: (Column | '*')[] | '*'
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

/** Whether some grant of `event` on the entity carries a `where` condition. */
function restrictsWithCondition(entity: Definition | undefined, event: string): boolean {
  return !!entity?.['@restrict']?.some(r => {
    if (!r.where) return false
    const grants = Array.isArray(r.grant) ? r.grant : [r.grant ?? '*']
    return grants.some(g => g === '*' || g === event || (event === 'UPSERT' && (g === 'CREATE' || g === 'UPDATE')) || (g === 'WRITE' && WRITE.has(event)))
  })
}

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
    if (value === undefined || value === null) continue
    const key = String(value)
    // unknown references are left to the service's own validation and its message codes
    if (!(await readable(srv, to, [key])).has(key) && (await exists(to, key))) req.reject(403)
  }
}

function expandsOf(entity: Definition, columns: Column[] | undefined) {
  const result: { column: Column; name: string; target: Definition }[] = []
  for (const column of columns ?? []) {
    if (!column.expand || column.ref?.length !== 1) continue
    const assoc = entity.elements[column.ref[0]]
    const to = assoc?.isAssociation ? definition(assoc.target) : undefined
    if (to) result.push({ column, name: column.as ?? column.ref[0], target: to })
  }
  return result
}

/** Expanded rows can only be checked by their key: make sure explicit $select lists carry it. */
function selectKeysOfRestrictedExpands(entity: Definition, columns: Column[] | undefined) {
  for (const { column, target: to } of expandsOf(entity, columns)) {
    const expand = column.expand
    if (!Array.isArray(expand)) continue
    const k = keyElement(to)
    const explicit = !expand.some(c => c === '*')
    if (k && explicit && restrictsWithCondition(to, 'READ') && !expand.some(c => c !== '*' && c.ref?.length === 1 && c.ref[0] === k && !c.expand))
      expand.push({ ref: [k] })
    selectKeysOfRestrictedExpands(to, expand.filter((c): c is Column => c !== '*'))
  }
}

async function pruneExpands(srv: Service, entity: Definition, rows: Row[], columns: Column[] | undefined) {
  for (const { column, name, target: to } of expandsOf(entity, columns)) {
    let children = rows.flatMap(r => {
      const v = r[name]
      return Array.isArray(v) ? (v as Row[]) : isRow(v) ? [v] : []
    })
    if (!children.length) continue
    if (restrictsWithCondition(to, 'READ')) {
      const visible = await readable(srv, to, children.map(c => keyOf(to, c)).filter((k): k is string => k !== undefined))
      const ok = (c: Row) => {
        const k = keyOf(to, c)
        return k !== undefined && visible.has(k)
      }
      for (const r of rows) {
        const v = r[name]
        if (Array.isArray(v)) r[name] = (v as Row[]).filter(ok)
        else if (isRow(v) && !ok(v)) r[name] = null
      }
      children = children.filter(ok)
    }
    const nested = Array.isArray(column.expand) ? column.expand.filter((c): c is Column => c !== '*') : undefined
    await pruneExpands(srv, to, children, nested)
  }
}
