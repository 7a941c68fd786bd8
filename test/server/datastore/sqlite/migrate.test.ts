// Versioned migrations: pending ones applied in one transaction, a failing one rolled back,
// a newer database refused.
import Database from 'better-sqlite3'
import t from 'tap'
import { migrate, schemaVersion } from '../../../../server/datastore/sqlite/migrate.js'
import { MIGRATIONS } from '../../../../server/datastore/sqlite/migrations.js'

const NOW = new Date('2030-01-01T00:00:00Z')
const M1 = 'CREATE TABLE a (x INTEGER NOT NULL);'
const M2 = 'ALTER TABLE a ADD COLUMN y TEXT; CREATE TABLE b (z TEXT);'
const BAD = 'CREATE TABLE c (q TEXT); INSERT INTO nowhere VALUES (1);'

function tables(db: Database.Database): string[] {
  return db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[]
}

t.test('pending migrations are applied in order, once', async (t) => {
  const db = new Database(`${t.testdir()}/m.db`)
  t.teardown(() => db.close())
  t.equal(schemaVersion(db), 0)
  t.equal(migrate(db, [M1], NOW), 1)
  db.prepare('INSERT INTO a (x) VALUES (1)').run()
  t.equal(migrate(db, [M1, M2], NOW), 2)
  t.same(tables(db), ['a', 'b', 'schema_migrations'])
  t.same(db.prepare('SELECT x, y FROM a').all(), [{ x: 1, y: null }], 'data kept across a migration')
  t.equal(migrate(db, [M1, M2], NOW), 2, 'nothing pending: a no-op')
  t.same(db.prepare('SELECT version, applied_at FROM schema_migrations').all(), [
    { version: 1, applied_at: NOW.getTime() },
    { version: 2, applied_at: NOW.getTime() },
  ])
})

t.test('a failing migration rolls back every pending step', async (t) => {
  const db = new Database(`${t.testdir()}/m.db`)
  t.teardown(() => db.close())
  migrate(db, [M1], NOW)
  t.throws(() => migrate(db, [M1, M2, BAD], NOW), { code: 'SQLITE_ERROR' })
  t.equal(schemaVersion(db), 1, 'still at version 1')
  t.same(tables(db), ['a', 'schema_migrations'], 'neither M2 nor the half of BAD remain')
})

t.test('a database newer than the code is refused untouched', async (t) => {
  const db = new Database(`${t.testdir()}/m.db`)
  t.teardown(() => db.close())
  migrate(db, [M1, M2], NOW)
  t.throws(() => migrate(db, [M1], NOW), { code: 'ERR_DATASTORE', message: /version 2 is newer/ })
  t.equal(schemaVersion(db), 2)
})

t.test('the real migrations apply to an empty database with foreign keys on', async (t) => {
  const db = new Database(`${t.testdir()}/m.db`)
  t.teardown(() => db.close())
  db.pragma('foreign_keys = ON')
  t.equal(migrate(db, MIGRATIONS, NOW), MIGRATIONS.length)
  t.same(db.pragma('foreign_key_check'), [])
  t.same(db.pragma('integrity_check', { simple: true }), 'ok')
})

t.test("the policy migration keeps every task, credential and event while adding 'drifted'", async (t) => {
  const db = new Database(`${t.testdir()}/m.db`)
  t.teardown(() => db.close())
  db.pragma('foreign_keys = ON')
  const policyMigration = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE policy_versions'))
  t.ok(policyMigration > 0)
  migrate(db, MIGRATIONS.slice(0, policyMigration), NOW)
  db.exec(`INSERT INTO tasks (id, state, spiffe_id, entry_id, agent_id, process_key, subject, purpose, scope,
    created_at, deadline) VALUES ('t1', 'active', 'spiffe://td/a', 'e', 'spiffe://td/agent', '1:2', 'spiffe://td/a',
    'p', '["aud"]', 1, 2);
    INSERT INTO task_credentials (task_id, kind, credential, issued_at, expires_at) VALUES ('t1', 'txn', 't1', 1, 2);
    INSERT INTO task_events (task_id, at, event) VALUES ('t1', 1, 'begun');`)
  t.throws(() => db.exec("UPDATE tasks SET state = 'ended', outcome = 'drifted', ended_at = 3"), /CHECK/)
  t.equal(migrate(db, MIGRATIONS, NOW), MIGRATIONS.length)
  t.same(db.prepare('SELECT COUNT(*) FROM task_credentials').pluck().get(), 1)
  t.same(db.prepare('SELECT event FROM task_events').pluck().all(), ['begun'])
  db.exec("UPDATE tasks SET state = 'ended', outcome = 'drifted', ended_at = 3")
  db.exec("DELETE FROM tasks WHERE id = 't1'")
  t.same(db.prepare('SELECT COUNT(*) FROM task_events').pluck().get(), 0, 'the cascade still points at tasks')
  t.same(db.pragma('foreign_key_check'), [])
  t.same(db.pragma('integrity_check', { simple: true }), 'ok')
})
