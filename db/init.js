/*
 * Runs with `cds deploy` (and the in-memory deployment of tests) once the tables exist: creates the indexes
 * declared with `@indexes` (db/indexes.cds) on SQLite and PostgreSQL and fills copied columns (BACKFILLS).
 * HANA gets the indexes from db/src/*.hdbindex.
 * Kept in JavaScript: `cds deploy` loads it without a TypeScript loader.
 */
const cds = require('@sap/cds')

/** Table name of an entity on SQLite and PostgreSQL (CAP's plain naming). */
const tableOf = entity => entity.replace(/\./g, '_')

/** An element, or the foreign key `<association>_<key>` of a managed association. */
function hasColumn(def, name) {
  if (def.elements?.[name]) return true
  const i = name.indexOf('_')
  const assoc = i > 0 && def.elements?.[name.slice(0, i)]
  return !!assoc?.target && (!assoc.keys || assoc.keys.some(k => k.ref?.join('_') === name.slice(i + 1)) || name.slice(i + 1) === 'ID')
}

/**
 * The indexes declared in `csn`: table, index name, columns (with their direction).
 * @returns {{ entity: string, table: string, name: string, columns: { name: string, descending: boolean }[] }[]}
 */
function declaredIndexes(csn) {
  const result = []
  for (const [entity, def] of Object.entries(csn.definitions)) {
    const indexes = def.kind === 'entity' && !def.query && !def.projection && def['@indexes']
    if (!Array.isArray(indexes)) continue
    for (const ix of indexes) {
      const columns = ix.columns.map(c => ({ name: c.replace(/^-/, ''), descending: c.startsWith('-') }))
      for (const c of columns) if (!hasColumn(def, c.name)) throw new Error(`@indexes of ${entity}: no column ${c.name}`)
      result.push({ entity, table: tableOf(entity), name: `${tableOf(entity)}_${ix.name}`, columns })
    }
  }
  return result
}

/**
 * CREATE INDEX statements for SQLite and PostgreSQL. Nulls come first in ascending and last in descending
 * order, as SQLite and HANA sort them and as CAP asks PostgreSQL to (ORDER BY ... NULLS FIRST/LAST): only an
 * index with the same order serves the ORDER BY.
 */
function indexStatements(csn, kind = 'sqlite') {
  const nulls = c => (kind === 'postgres' ? (c.descending ? ' NULLS LAST' : ' NULLS FIRST') : '')
  return declaredIndexes(csn).map(
    ix => `CREATE INDEX IF NOT EXISTS ${ix.name} ON ${ix.table} (${ix.columns.map(c => c.name + (c.descending ? ' DESC' : '') + nulls(c)).join(', ')})`
  )
}

/** The content of the .hdbindex artefact of each declared index, by file name. */
function hanaIndexes(csn) {
  const q = s => `"${s.toUpperCase()}"`
  return Object.fromEntries(
    declaredIndexes(csn).map(ix => [
      `${ix.name}.hdbindex`,
      `INDEX ${q(ix.name)} ON ${q(ix.table)} (${ix.columns.map(c => `${q(c.name)} ${c.descending ? 'DESC' : 'ASC'}`).join(', ')})\n`
    ])
  )
}

/**
 * Columns that copy facts of other rows, filled where rows written before the column existed lack them:
 * a service key's subaccount, its instance's (srv/lib/key-scope.ts, which runs the same at start-up for
 * databases deployed otherwise, e.g. HANA).
 */
const BACKFILLS = [
  {
    entities: ['btp.provisioning.ServiceKeys', 'btp.provisioning.ServiceInstances'],
    sql:
      'UPDATE btp_provisioning_ServiceKeys SET subaccount_ID = (SELECT i.subaccount_ID FROM btp_provisioning_ServiceInstances i WHERE i.ID = btp_provisioning_ServiceKeys.instance_ID) ' +
      'WHERE subaccount_ID IS NULL AND instance_ID IS NOT NULL'
  }
]

async function createIndexes(tx, csn) {
  const kind = tx.options?.kind ?? cds.db?.options?.kind
  if (kind !== 'sqlite' && kind !== 'better-sqlite' && kind !== 'postgres') return
  for (const sql of indexStatements(csn, kind === 'postgres' ? 'postgres' : 'sqlite')) await tx.run(sql)
  // only where the model deployed has the tables (this file runs for every model deployed from db/)
  for (const b of BACKFILLS) if (b.entities.every(e => csn.definitions?.[e])) await tx.run(b.sql)
}

module.exports = createIndexes
Object.assign(module.exports, { declaredIndexes, indexStatements, hanaIndexes, BACKFILLS })
