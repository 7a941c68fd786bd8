// SqliteDataStore: the conformance suite on real files, plus what is SQLite's own:
// file modes, WAL, schema versions, atomicity under failure, the busy lock.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { MIGRATIONS } from '../../../server/datastore/sqlite/migrations.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { entryInput, schemaTables } from './conformance/fixtures.js'
import { checkNothingHalfWritten } from './conformance/half-written.js'
import { svidBatch } from './conformance/issued-svids.js'
import { runDataStoreConformance } from './conformance.js'

const root = mkdtempSync(join(tmpdir(), 'sigil-datastore-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
let n = 0
/** A path in a directory that does not exist yet. */
function freshPath(): string {
  n += 1
  return join(root, `case-${n}`, 'private', 'datastore.sqlite3')
}

/** A second, raw connection to the same file (what another process would see). */
function raw(t: Test, path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true })
  t.teardown(() => db.close())
  return db
}

t.test('conformance', async (t) => {
  runDataStoreConformance(t, async () => {
    const path = freshPath()
    return (options) => openDataStore({ kind: 'sqlite', path }, options)
  })
})

t.test('file modes: directory 0700, database and WAL files 0600', async (t) => {
  const path = freshPath()
  const ds = await SqliteDataStore.open({ path })
  t.teardown(() => ds.close())
  await ds.createEntry(entryInput())
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o700)
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(`${path}-wal`).mode & 0o777, 0o600)

  const loose = freshPath()
  const first = await SqliteDataStore.open({ path: loose })
  await first.close()
  chmodSync(loose, 0o644)
  const second = await SqliteDataStore.open({ path: loose })
  await second.close()
  t.equal(statSync(loose).mode & 0o777, 0o600, 'an existing file is tightened to 0600')
})

t.test('WAL journal mode and the schema are in place', async (t) => {
  const path = freshPath()
  const ds = await SqliteDataStore.open({ path })
  t.teardown(() => ds.close())
  const db = raw(t, path)
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.same(db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get(), { v: MIGRATIONS.length })
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all()
  t.same(tables, schemaTables('sqlite_sequence'))
})

t.test('a database with a newer schema version is refused and left alone', async (t) => {
  const path = freshPath()
  await (await SqliteDataStore.open({ path })).close()
  const db = new Database(path)
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)').run()
  db.close()
  await t.rejects(SqliteDataStore.open({ path }), { code: 'ERR_DATASTORE', message: /newer/ })
  const check = raw(t, path)
  t.same(check.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), [
    ...MIGRATIONS.map((_, i) => i + 1),
    99,
  ])
})

t.test('a file that is not a database is refused', async (t) => {
  const path = freshPath()
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, 'this is not a SQLite database, just some text that is long enough'.repeat(20))
  await t.rejects(SqliteDataStore.open({ path }), { code: 'ERR_DATASTORE' })
})

t.test('a write that fails half-way leaves nothing half-written', async (t) => {
  const path = freshPath()
  const ds = await SqliteDataStore.open({ path })
  t.teardown(() => ds.close())
  const db = raw(t, path)
  // another connection plants triggers that fail a later statement of each multi-statement write
  db.exec(`
    CREATE TRIGGER fail_entry BEFORE INSERT ON entry_selectors WHEN NEW.value = 'uid:666'
      BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
    CREATE TRIGGER fail_agent BEFORE INSERT ON agent_selectors WHEN NEW.value = 'cn:666'
      BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
    CREATE TRIGGER fail_svid BEFORE INSERT ON issued_svids WHEN NEW.serial_or_jti = 's000005dc'
      BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
    CREATE TRIGGER fail_tombstone BEFORE INSERT ON used_join_tokens
      BEGIN SELECT RAISE(ABORT, 'injected failure'); END;
  `)
  await checkNothingHalfWritten(t, ds, async () => {
    db.exec('DROP TRIGGER fail_tombstone')
  })
})

t.test('integrityCheck notices an entry whose selectors went missing', async (t) => {
  const path = freshPath()
  const ds = await SqliteDataStore.open({ path })
  t.teardown(() => ds.close())
  const e = await ds.createEntry(entryInput())
  await ds.integrityCheck()
  raw(t, path).prepare('DELETE FROM entry_selectors WHERE entry_id = ?').run(e.id)
  await t.rejects(ds.integrityCheck(), { code: 'ERR_DATASTORE', message: new RegExp(e.id) })
})

t.test('another connection holding the write lock: ERR_UNAVAILABLE, then success', async (t) => {
  const path = freshPath()
  const ds = await SqliteDataStore.open({ path, busyTimeoutMs: 50 })
  t.teardown(() => ds.close())
  const db = raw(t, path)
  db.exec('BEGIN IMMEDIATE')
  await t.rejects(ds.createEntry(entryInput()), { code: 'ERR_UNAVAILABLE' })
  db.exec('COMMIT')
  await ds.createEntry(entryInput())
  t.equal(await ds.countEntries(), 1)
})

t.test('measured: a 5000-record issuance batch (reported, not asserted)', async (t) => {
  const ds = await SqliteDataStore.open({ path: freshPath() })
  t.teardown(() => ds.close())
  const batch = svidBatch(5000)
  const start = process.hrtime.bigint()
  await ds.recordIssuedSvids(batch)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.comment(`recordIssuedSvids(5000) took ${ms.toFixed(1)} ms`)
  t.equal((await ds.listIssuedSvids({ limit: 1 }))[0]?.serialOrJti, batch[4999]!.serialOrJti)
})
