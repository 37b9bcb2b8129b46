// Types of db/init.js (plain JavaScript: cds deploy runs it as the database's init script).

/** An index declared with @index in db/indexes.cds, as created on SQLite, PostgreSQL and HANA. */
export interface DeclaredIndex {
  entity: string
  table: string
  name: string
  columns: { name: string; descending: boolean }[]
}

export interface Backfill {
  entities: string[]
  sql: string
}

declare function createIndexes(tx: unknown, csn: unknown): Promise<void>
declare namespace createIndexes {
  function declaredIndexes(csn: unknown): DeclaredIndex[]
  function indexStatements(csn: unknown, kind?: 'sqlite' | 'postgres'): string[]
  function hanaIndexes(csn: unknown): Record<string, string>
  const BACKFILLS: Backfill[]
}
export = createIndexes
