// PostgresDataStore: the conformance suite on a real PostgreSQL (test/helpers/postgres-server.ts),
// plus what is PostgreSQL's own: the schema and its versions, start-up errors without the
// password, the database going away and coming back, the statement timeout, atomicity.
import pg from 'pg'
import t from 'tap'
import { sealAuditRecords } from '../../../server/audit/audit-chain.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { EXCLUSIVE_JOB_CLASS } from '../../../server/datastore/postgres/advisory-locks.js'
import { RECONCILE_MS } from '../../../server/datastore/postgres/change-listener.js'
import { migratePostgres } from '../../../server/datastore/postgres/migrate.js'
import { PG_MIGRATIONS } from '../../../server/datastore/postgres/migrations.js'
import { PG_TYPES, PgSql } from '../../../server/datastore/postgres/pg-sql.js'
import { PostgresDataStore } from '../../../server/datastore/postgres/postgres-data-store.js'
import { hasPassword, redactPostgresUrl } from '../../../server/datastore/postgres/postgres-url.js'
import { startPostgres } from '../../helpers/postgres-server.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { ALL_CHANGES, Recorder } from './conformance/change-watch.js'
import { entryInput, schemaTables, tokenHash } from './conformance/fixtures.js'
import { checkNothingHalfWritten } from './conformance/half-written.js'
import { svidBatch } from './conformance/issued-svids.js'
import { runDataStoreConformance } from './conformance.js'

const server = await startPostgres(t)

/** A fresh database's URL. */
async function freshUrl(): Promise<string> {
  return server.url(await server.createDatabase())
}

function open(url: string, over: { statementTimeoutMs?: number; poolSize?: number } = {}) {
  return openDataStore({
    kind: 'postgres',
    url,
    poolSize: over.poolSize ?? 5,
    statementTimeoutMs: 10_000,
    ...over,
  })
}

/** A raw connection as the test's own (what another program on the database would do). */
async function raw(t: { teardown(fn: () => unknown): void }, url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))
  return client
}

t.test('conformance', async (t) => {
  runDataStoreConformance(t, async () => {
    const url = await freshUrl()
    return (options) =>
      openDataStore({ kind: 'postgres', url, poolSize: 4, statementTimeoutMs: 10_000 }, options)
  })
})

t.test('the schema is in place and versioned', async (t) => {
  const url = await freshUrl()
  const ds = await open(url)
  t.teardown(() => ds.close())
  const db = await raw(t, url)
  t.same((await db.query('SELECT MAX(version) AS v FROM schema_migrations')).rows, [
    { v: PG_MIGRATIONS.length },
  ])
  const tables = await db.query(
    'SELECT tablename FROM pg_tables WHERE schemaname = \'public\' ORDER BY tablename COLLATE "C"',
  )
  t.same(
    tables.rows.map((r) => r.tablename),
    schemaTables(),
  )
})

t.test('audit records: SQL cannot change them, and two servers racing on one head append once', async (t) => {
  const url = await freshUrl()
  const [a, b] = await Promise.all([open(url), open(url)])
  t.teardown(() => Promise.all([a.close(), b.close()]))
  const record = (i: number) => ({
    at: 1_900_000_000_000 + i,
    kind: 'admin_operation',
    decision: 'allow' as const,
    spiffeId: '',
    taskId: '',
    serialOrJti: '',
    actor: `server-${i}`,
    details: '{}',
  })
  const first = sealAuditRecords(undefined, [record(1)])
  t.equal(await a.appendAuditRecords(first, undefined), true)
  const head = { seq: 1, hash: first[0]!.hash }
  // both sealed against the same head: exactly one lands, the other is told to re-read the head
  const results = await Promise.all([
    a.appendAuditRecords(sealAuditRecords(head, [record(2)]), head),
    b.appendAuditRecords(sealAuditRecords(head, [record(3)]), head),
  ])
  t.same(
    results.filter((r) => r),
    [true],
    'one winner',
  )
  t.equal((await b.readAuditRecords(0, 10)).length, 2, 'the chain did not fork')
  const db = await raw(t, url)
  await t.rejects(db.query("UPDATE audit_records SET kind = 'x' WHERE seq = 1"), /append-only/)
  await t.rejects(db.query('DELETE FROM audit_records'), /append-only/)
  await t.rejects(db.query('TRUNCATE audit_records'), /append-only/)
  t.equal((await a.readAuditRecords(0, 10)).length, 2)
})

t.test("a database at migration 5 upgrades in place: its tasks may then end 'drifted'", async (t) => {
  const url = await freshUrl()
  const policyMigration = PG_MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE policy_versions'))
  t.ok(policyMigration > 0)
  const pool = new pg.Pool({ connectionString: url, max: 1, types: PG_TYPES })
  await migratePostgres(new PgSql(pool), PG_MIGRATIONS.slice(0, policyMigration), new Date(1))
  await pool.end()
  const db = await raw(t, url)
  await db.query(`INSERT INTO tasks (id, state, spiffe_id, entry_id, agent_id, process_key, subject, purpose, scope,
    created_at, deadline) VALUES ('t1', 'active', 'spiffe://td/a', 'e', 'spiffe://td/agent', '1:2', 'spiffe://td/a',
    'p', '{aud}', 1, 2)`)
  await t.rejects(
    db.query("UPDATE tasks SET state = 'ended', outcome = 'drifted', ended_at = 3"),
    /tasks_outcome_check/,
  )
  const ds = await open(url)
  t.teardown(() => ds.close())
  const ended = await ds.endTask('t1', 'drifted', 'out of scope', new Date(3))
  t.equal(ended.outcome, 'drifted')
  t.same([ended.spiffeId, ended.purpose, ended.scope], ['spiffe://td/a', 'p', ['aud']], 'the task row kept')
})

t.test('two servers opening a new database at once migrate it once', async (t) => {
  const url = await freshUrl()
  const stores = await Promise.all([open(url), open(url), open(url)])
  t.teardown(() => Promise.all(stores.map((s) => s.close())))
  const db = await raw(t, url)
  const versions = await db.query('SELECT version FROM schema_migrations ORDER BY version')
  t.same(
    versions.rows.map((r) => r.version),
    PG_MIGRATIONS.map((_, i) => i + 1),
  )
  for (const s of stores) await s.integrityCheck()
})

t.test('a database with a newer schema version is refused and left alone', async (t) => {
  const url = await freshUrl()
  await (await open(url)).close()
  const db = await raw(t, url)
  await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)')
  await t.rejects(open(url), { code: 'ERR_DATASTORE', message: /newer/ })
  const versions = await db.query('SELECT version FROM schema_migrations ORDER BY version')
  t.same(
    versions.rows.map((r) => r.version),
    [...PG_MIGRATIONS.map((_, i) => i + 1), 99],
  )
})

t.test('start-up errors name the database but never the password', async (t) => {
  const name = await server.createDatabase()
  const wrong = server.url(name, 'not-the-password-x9')
  const err = await PostgresDataStore.open({ url: wrong }).catch((e: Error) => e)
  t.match(err, { code: 'ERR_DATASTORE', message: /refused the credentials/ })
  t.notMatch(String((err as Error).message), /not-the-password-x9/)
  t.match((err as Error).message, `sigil@${server.host}:${server.port}/${name}`, 'names user, host, database')

  const missing = await PostgresDataStore.open({ url: server.url('no_such_db') }).catch((e: Error) => e)
  t.match(missing, { code: 'ERR_DATASTORE', message: /does not exist/ })
  t.notMatch((missing as Error).message, server.password)

  const noPassword = await PostgresDataStore.open({
    url: `postgres://sigil@${server.host}:${server.port}/${name}`,
  }).catch((e: Error) => e)
  t.match(noPassword, { code: 'ERR_DATASTORE', message: /asks for a password/ })

  const closedPort = `postgres://sigil:${server.password}@127.0.0.1:1/${name}`
  const unreachable = await PostgresDataStore.open({ url: closedPort }).catch((e: Error) => e)
  t.match(unreachable, {
    code: 'ERR_UNAVAILABLE',
    message: /cannot reach PostgreSQL at postgres:\/\/sigil@127.0.0.1:1\//,
  })
  t.notMatch((unreachable as Error).message, server.password)
})

t.test('connects over the Unix socket (host= in the URL)', async (t) => {
  const name = await server.createDatabase()
  const url = `postgres://sigil:${server.password}@/${name}?host=${server.socketDir}&port=${server.port}`
  const ds = await open(url)
  t.teardown(() => ds.close())
  await ds.createEntry(entryInput())
  t.equal(await ds.countEntries(), 1)
})

t.test('URLs reach messages only without their password', async (t) => {
  t.equal(
    redactPostgresUrl('postgres://sigil:s3cret@db:5432/sigil?sslmode=require'),
    'postgres://sigil@db:5432/sigil',
  )
  t.equal(redactPostgresUrl('postgresql://db/sigil?password=s3cret'), 'postgres://db/sigil')
  t.equal(redactPostgresUrl('postgres:///sigil?host=/run/postgresql'), 'postgres://[/run/postgresql]/sigil')
  t.equal(redactPostgresUrl('postgres://u:p@[bad'), 'postgres://(unparsable URL)')
  t.ok(hasPassword('postgres://u:p@db/x'))
  t.ok(hasPassword('postgres://u@db/x?password=p'))
  t.notOk(hasPassword('postgres://u@db/x?sslmode=require'))
})

t.test('a write that fails half-way leaves nothing half-written', async (t) => {
  const url = await freshUrl()
  const ds = await open(url)
  t.teardown(() => ds.close())
  const db = await raw(t, url)
  // another connection plants triggers that fail a later statement of each multi-statement write
  await db.query(`
    CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
    CREATE TRIGGER fail_entry BEFORE INSERT ON entry_selectors FOR EACH ROW WHEN (NEW.value = 'uid:666') EXECUTE FUNCTION fail();
    CREATE TRIGGER fail_agent BEFORE INSERT ON agent_selectors FOR EACH ROW WHEN (NEW.value = 'cn:666') EXECUTE FUNCTION fail();
    CREATE TRIGGER fail_svid BEFORE INSERT ON issued_svids FOR EACH ROW WHEN (NEW.serial_or_jti = 's000005dc') EXECUTE FUNCTION fail();
    CREATE TRIGGER fail_tombstone BEFORE INSERT ON used_join_tokens FOR EACH ROW EXECUTE FUNCTION fail();
  `)
  await checkNothingHalfWritten(t, ds, async () => {
    await db.query('DROP TRIGGER fail_tombstone ON used_join_tokens')
  })
})

t.test('integrityCheck notices an entry whose selectors went missing', async (t) => {
  const url = await freshUrl()
  const ds = await open(url)
  t.teardown(() => ds.close())
  const e = await ds.createEntry(entryInput())
  await ds.integrityCheck()
  await (await raw(t, url)).query('DELETE FROM entry_selectors WHERE entry_id = $1', [e.id])
  await t.rejects(ds.integrityCheck(), { code: 'ERR_DATASTORE', message: new RegExp(e.id) })
})

t.test('a statement past the statement timeout: ERR_UNAVAILABLE, then success', async (t) => {
  const url = await freshUrl()
  const ds = await open(url, { statementTimeoutMs: 200 })
  t.teardown(() => ds.close())
  const db = await raw(t, url)
  await db.query('BEGIN')
  await db.query('LOCK TABLE registration_entries IN ACCESS EXCLUSIVE MODE')
  await t.rejects(ds.createEntry(entryInput()), { code: 'ERR_UNAVAILABLE', message: /57014/ })
  await t.rejects(ds.listEntries(), { code: 'ERR_UNAVAILABLE' }, 'reads wait on the lock too')
  await db.query('COMMIT')
  await ds.createEntry(entryInput())
  t.equal(await ds.countEntries(), 1)
})

t.test('measured: a 5000-record issuance batch (reported, not asserted)', async (t) => {
  const ds = await open(await freshUrl())
  t.teardown(() => ds.close())
  const batch = svidBatch(5000)
  const start = process.hrtime.bigint()
  await ds.recordIssuedSvids(batch)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.comment(`recordIssuedSvids(5000) on PostgreSQL took ${ms.toFixed(1)} ms`)
  t.equal((await ds.listIssuedSvids({ limit: 1 }))[0]?.serialOrJti, batch[4999]!.serialOrJti)
})

/** The pids of the backends LISTENing for changes on the database of `db`. */
async function listenerPids(db: pg.Client): Promise<number[]> {
  const r = await db.query(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
       AND (application_name = 'sigil-server-listen' OR query LIKE 'LISTEN%')`,
  )
  return r.rows.map((row) => row.pid as number)
}

t.test(
  'watchChanges: one dedicated LISTEN connection per watching store, none without a watcher',
  async (t) => {
    const url = await freshUrl()
    const ds = await open(url)
    t.teardown(() => ds.close())
    const db = await raw(t, url)
    t.same(await listenerPids(db), [], 'nothing listens before watchChanges')
    const a = new Recorder(ds)
    const b = new Recorder(ds)
    await a.live()
    await b.live()
    t.equal((await listenerPids(db)).length, 1, 'two listeners share one connection')
    a.unsubscribe()
    t.equal((await listenerPids(db)).length, 1, 'still listening for the other')
    b.unsubscribe()
    await waitUntil(
      'the LISTEN connection to close after the last unsubscribe',
      async () => (await listenerPids(db)).length === 0,
      {
        timeoutMs: 5_000,
      },
    )
  },
)

t.test(
  'watchChanges: the LISTEN connection killed, it reconnects, reports every kind, and later changes arrive',
  async (t) => {
    const url = await freshUrl()
    const [writer, watched] = await Promise.all([open(url), open(url)])
    t.teardown(() => Promise.all([writer.close(), watched.close()]))
    const watcher = new Recorder(watched)
    await watcher.live()
    const db = await raw(t, url)
    const [pid, ...others] = await listenerPids(db)
    t.ok(pid !== undefined && others.length === 0, 'one listening backend')
    const from = watcher.calls.length
    await db.query('SELECT pg_terminate_backend($1)', [pid])
    // written while nobody listens: covered by the report of every kind after the reconnect
    await writer.createEntry(entryInput({ spiffeId: 'spiffe://example.org/while-down' }))
    await waitUntil(
      'every kind reported after the reconnect',
      () => ALL_CHANGES.every((k) => watcher.kindsSince(from).has(k)),
      {
        timeoutMs: 10_000,
      },
    )
    const now = await listenerPids(db)
    t.equal(now.length, 1, 'listening again')
    t.not(now[0], pid, 'on a new backend')
    const ms = await watcher.reported('entries', () =>
      writer.createEntry(entryInput({ spiffeId: 'spiffe://example.org/after' })),
    )
    t.comment(`after the reconnect, an entry commit reached the watcher in ${ms.toFixed(0)} ms`)
    t.ok(ms < RECONCILE_MS, 'notified, not found by the reconcile')
  },
)

t.test('watchChanges: a counter moved without a notification is found by the reconcile', async (t) => {
  const url = await freshUrl()
  const ds = await open(url)
  t.teardown(() => ds.close())
  const watcher = new Recorder(ds)
  await watcher.live()
  const db = await raw(t, url)
  const from = watcher.calls.length
  // what a lost notification looks like: the counter moved, nothing was sent
  await db.query("UPDATE sigil_counters SET value = value + 1 WHERE name = 'changed:policies'")
  await waitUntil('the reconcile to report policies', () => watcher.kindsSince(from).has('policies'), {
    timeoutMs: RECONCILE_MS * 3,
  })
  t.same([...watcher.kindsSince(from)], ['policies'], 'only the kind whose counter moved')
})

t.test('runExclusive takes a database advisory lock: another process holding it wins', async (t) => {
  const url = await freshUrl()
  const ds = await open(url)
  t.teardown(() => ds.close())
  const db = await raw(t, url)
  const locks = async () =>
    (
      await db.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND granted",
        [EXCLUSIVE_JOB_CLASS],
      )
    ).rows[0].n as number
  t.same(
    await ds.runExclusive('purge', locks),
    { ran: true, value: 1 },
    'held in the database while the job runs',
  )
  t.equal(await locks(), 0, 'released after')
  await db.query('SELECT pg_advisory_lock($1, hashtext($2))', [EXCLUSIVE_JOB_CLASS, 'purge'])
  t.same(await ds.runExclusive('purge', async () => 1), { ran: false }, 'another session holds it')
  await db.query('SELECT pg_advisory_unlock($1, hashtext($2))', [EXCLUSIVE_JOB_CLASS, 'purge'])
  t.same(await ds.runExclusive('purge', async () => 2), { ran: true, value: 2 })
})

// last: it stops and restarts the shared server
t.test(
  'the database goes away: calls fail fast with ERR_UNAVAILABLE, and work again once it is back',
  async (t) => {
    const url = await freshUrl()
    const ds = await open(url, { poolSize: 3 })
    t.teardown(() => ds.close())
    const e = await ds.createEntry(entryInput())
    const watcher = new Recorder(ds)
    await watcher.live()
    await server.stop()
    await t.rejects(ds.getEntry(e.id), { code: 'ERR_UNAVAILABLE' }, 'a pooled connection was cut')
    await t.rejects(ds.getEntry(e.id), { code: 'ERR_UNAVAILABLE' }, 'no new connection')
    await t.rejects(ds.createEntry(entryInput({ hint: 'while down' })), { code: 'ERR_UNAVAILABLE' })
    await t.rejects(ds.consumeJoinToken(tokenHash(), new Date()), { code: 'ERR_UNAVAILABLE' })
    await server.start()
    await waitUntil(
      'the store to answer again after PostgreSQL restarted',
      async () => (await ds.getEntry(e.id).catch(() => undefined)) !== undefined,
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    t.same(await ds.getEntry(e.id), e)
    const from = watcher.calls.length
    await waitUntil(
      'the watcher to reconnect and report every kind',
      () => ALL_CHANGES.every((k) => watcher.kindsSince(from).has(k)),
      { timeoutMs: 20_000 },
    )
    await watcher.reported('entries', () =>
      ds.createEntry(entryInput({ spiffeId: 'spiffe://example.org/after' })),
    )
    t.equal(await ds.countEntries(), 2)
    await ds.integrityCheck()
  },
)

// pg reports a wait for a free pooled connection exactly like a failed connect; the message must
// say which it was, or an overloaded server looks like a database outage (scale-out bench finding)
t.test('every pooled connection busy: Unavailable saying so, and fine again once one is free', async (t) => {
  const url = await freshUrl()
  const ds = await open(url, { poolSize: 2 })
  t.teardown(() => ds.close())
  let release: () => void = () => {}
  const held = new Promise<void>((r) => {
    release = r
  })
  // two jobs, each holding one pooled connection for its advisory lock (a job runs once it holds it)
  let running = 0
  const job = () => {
    running++
    return held
  }
  const jobs = [ds.runExclusive('busy-1', job), ds.runExclusive('busy-2', job)]
  await waitUntil('both jobs to hold their connections', () => running === 2, { timeoutMs: 10_000 })
  const err = await t.rejects(ds.countEntries(), { code: 'ERR_UNAVAILABLE' })
  t.match((err as Error).message, /all 2 pooled connections busy; raise --datastore-pool-size/)
  release()
  await Promise.all(jobs)
  t.equal(await ds.countEntries(), 0, 'a free connection: the call works')
})
