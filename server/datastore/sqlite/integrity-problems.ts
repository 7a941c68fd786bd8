/**
 * The consistency checks behind `SqliteDataStore.integrityCheck`: SQLite's own page and
 * foreign-key checks, the entry selector invariant (every entry has selector rows that
 * agree with its canonical selector set), and the schema version.
 */
import type Database from 'better-sqlite3'
import type { EntryTable } from './entry-table.js'
import { schemaVersion } from './migrate.js'
import { MIGRATIONS } from './migrations.js'

/** Human-readable problems found in `db` (empty when consistent); call inside a read transaction. */
export function integrityProblems(db: Database.Database, entries: EntryTable): string[] {
  const found: string[] = []
  const integrity = db.pragma('integrity_check') as { integrity_check: string }[]
  if (integrity.length !== 1 || integrity[0]?.integrity_check !== 'ok') {
    found.push(`integrity_check: ${integrity.map((r) => r.integrity_check).join('; ')}`)
  }
  const fk = db.pragma('foreign_key_check') as { table: string; parent: string }[]
  for (const r of fk) found.push(`a row of ${r.table} points to a missing ${r.parent} row`)
  for (const id of entries.inconsistentIds()) found.push(`entry ${id} has missing or stray selectors`)
  const version = schemaVersion(db)
  if (version !== MIGRATIONS.length) found.push(`schema version ${version}, expected ${MIGRATIONS.length}`)
  return found
}
