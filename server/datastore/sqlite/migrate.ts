/**
 * Brings a SQLite database to the newest schema version: every pending migration in one
 * IMMEDIATE transaction (so two processes opening the same file cannot both migrate, and a
 * failing migration leaves the previous version intact). A database whose version is newer
 * than the code knows is refused, never touched.
 */
import type Database from 'better-sqlite3'
import { SigilError } from '../../../certs/errors.js'

/** The version bookkeeping table; not itself part of any migration. */
const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  applied_at INTEGER NOT NULL
) STRICT`

/** The schema version recorded in `db` (0 for a new database). */
export function schemaVersion(db: Database.Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'")
    .get()
  if (table === undefined) return 0
  const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as {
    v: number
  }
  return row.v
}

/**
 * Applies `migrations[current..]` and resolves the resulting version. Throws `ERR_DATASTORE`
 * when the database is newer than `migrations.length`; SQL errors propagate unchanged
 * (after the transaction rolled back).
 *
 * @example
 * migrate(db, MIGRATIONS, new Date()) // 1
 */
export function migrate(db: Database.Database, migrations: readonly string[], now: Date): number {
  const run = db.transaction((): number => {
    db.exec(CREATE_VERSION_TABLE)
    const current = schemaVersion(db)
    if (current > migrations.length) {
      throw new SigilError(
        'ERR_DATASTORE',
        `datastore schema version ${current} is newer than this Sigil supports (${migrations.length}); ` +
          'upgrade Sigil or point it at another data dir',
      )
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
    for (let v = current + 1; v <= migrations.length; v++) {
      db.exec(migrations[v - 1]!)
      record.run(v, now.getTime())
    }
    return migrations.length
  })
  return run.immediate()
}
