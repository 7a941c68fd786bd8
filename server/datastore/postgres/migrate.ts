/**
 * Brings a PostgreSQL database to the newest schema version: every pending migration in one
 * transaction (PostgreSQL's DDL is transactional, so a failing migration leaves the previous
 * version intact) under a transaction-level advisory lock, so several servers starting on one
 * database migrate once. A database whose version is newer than the code knows is refused,
 * never touched.
 */
import { SigilError } from '../../../certs/errors.js'
import type { PgSql, Queryable } from './pg-sql.js'

/** The advisory lock key every Sigil server takes while migrating ("Sigil" in ASCII). */
const MIGRATION_LOCK = 0x536967696c

const CREATE_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  applied_at BIGINT  NOT NULL
)`

/** The schema version recorded in the database (0 for a new one). */
export async function pgSchemaVersion(q: Queryable): Promise<number> {
  const table = await q.one<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")
  if (table?.t == null) return 0
  const row = await q.one<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations')
  return row?.v ?? 0
}

/**
 * Applies `migrations[current..]` and resolves the resulting version. Rejects `ERR_DATASTORE`
 * when the database is newer than `migrations.length`; SQL errors propagate unchanged (after
 * the transaction rolled back).
 *
 * @example
 * await migratePostgres(sql, PG_MIGRATIONS, new Date()) // 3
 */
export async function migratePostgres(sql: PgSql, migrations: readonly string[], now: Date): Promise<number> {
  return sql.write(async (q) => {
    await q.run('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await q.run(CREATE_VERSION_TABLE)
    const current = await pgSchemaVersion(q)
    if (current > migrations.length) {
      throw new SigilError(
        'ERR_DATASTORE',
        `datastore schema version ${current} is newer than this Sigil supports (${migrations.length}); ` +
          'upgrade Sigil or point it at another database',
      )
    }
    for (let v = current + 1; v <= migrations.length; v++) {
      await q.run(migrations[v - 1]!)
      await q.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, now.getTime()])
    }
    return migrations.length
  })
}
