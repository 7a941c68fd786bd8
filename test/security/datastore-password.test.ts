// The PostgreSQL password of --datastore / SIGIL_DATASTORE never leaves the process: not on the
// command line (refused: every local user can read argv), not in --help, not in `validate`
// output, not in start-up errors (wrong password, unknown database, unreachable server, newer
// schema) — each of which exits 1 with a clear line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startPostgres } from '../helpers/postgres-server.js'
import { runBinWithin, SERVER_BIN } from '../helpers/server-process.js'

const SECRET = 'Sup3r-s3cret-pw'
const dir = mkdtempSync(join(tmpdir(), 'sigil-dspw-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const pgsrv = await startPostgres(t)
const database = await pgsrv.createDatabase()

/** `sigil-server <args>` with `env` added, killed if it is still running after 20 s. */
function server(args: string[], env: Record<string, string> = {}) {
  return runBinWithin(SERVER_BIN, args, 20_000, { env: { ...process.env, ...env } })
}

const runArgs = (name: string) => [
  'run',
  '--data-dir',
  join(dir, name),
  '--agent-api-address',
  '127.0.0.1:0',
  '--bundle-endpoint-address',
  'off',
]

t.test('a password on the command line is refused without echoing it', async (t) => {
  for (const flag of [
    ['--datastore', `postgres://sigil:${SECRET}@127.0.0.1:1/sigil`],
    [`--datastore=postgresql://sigil:${SECRET}@127.0.0.1:1/sigil`],
    ['--datastore', `postgres://sigil@127.0.0.1:1/sigil?password=${SECRET}`],
  ]) {
    const r = await server([...runArgs('argv'), ...flag])
    t.equal(r.code, 2, flag.join(' '))
    t.match(r.stderr, /password on the command line/)
    t.notMatch(r.stdout + r.stderr, SECRET)
  }
})

t.test('a mistyped URL is refused without echoing it', async (t) => {
  const r = await server(runArgs('typo'), { SIGIL_DATASTORE: `postgress://sigil:${SECRET}@db/sigil` })
  t.equal(r.code, 2)
  t.match(r.stderr, /must be sqlite:PATH or a postgres/)
  t.notMatch(r.stdout + r.stderr, SECRET)
})

t.test('--help does not show the configured URL', async (t) => {
  const r = await server(['run', '--help'], { SIGIL_DATASTORE: pgsrv.url(database, SECRET) })
  t.equal(r.code, 0)
  t.match(r.stdout, /--datastore/)
  t.notMatch(r.stdout + r.stderr, SECRET)
})

t.test('validate: neither a valid nor an invalid configuration prints the password', async (t) => {
  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify({ datastore: pgsrv.url(database, SECRET), trust_domain: 'example.org' }))
  const ok = await server(['validate', '--config', good])
  t.equal(ok.code, 0, ok.stderr)
  t.notMatch(ok.stdout + ok.stderr, SECRET)

  const bad = join(dir, 'bad.json')
  writeFileSync(
    bad,
    JSON.stringify({
      datastore: pgsrv.url(database, SECRET),
      datastore_pool_size: 0,
      trust_domain: 'example.org',
    }),
  )
  const refused = await server(['validate', '--config', bad])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /datastore-pool-size/)
  t.notMatch(refused.stdout + refused.stderr, SECRET)
})

t.test('wrong credentials: exit 1 with a clear line and without the password', async (t) => {
  const r = await server(runArgs('wrong'), { SIGIL_DATASTORE: pgsrv.url(database, SECRET) })
  t.equal(r.code, 1)
  t.notOk(r.timedOut)
  t.match(r.stdout + r.stderr, /refused the credentials/)
  t.match(r.stdout + r.stderr, `postgres://sigil@${pgsrv.host}:${pgsrv.port}/${database}`)
  t.notMatch(r.stdout + r.stderr, SECRET)
})

t.test('an unreachable database or a missing one: exit 1, clear, no password', async (t) => {
  const unreachable = await server(runArgs('unreachable'), {
    SIGIL_DATASTORE: `postgres://sigil:${SECRET}@127.0.0.1:1/${database}`,
  })
  t.equal(unreachable.code, 1)
  t.match(
    unreachable.stdout + unreachable.stderr,
    /cannot reach PostgreSQL at postgres:\/\/sigil@127\.0\.0\.1:1\//,
  )
  t.notMatch(unreachable.stdout + unreachable.stderr, SECRET)

  const missing = await server(runArgs('missing'), { SIGIL_DATASTORE: pgsrv.url('no_such_database') })
  t.equal(missing.code, 1)
  t.match(missing.stdout + missing.stderr, /does not exist/)
  t.notMatch(missing.stdout + missing.stderr, pgsrv.password)
})

t.test('a database with a newer schema: exit 1, untouched', async (t) => {
  const name = await pgsrv.createDatabase()
  await pgsrv.adminQuery(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); ' +
      'INSERT INTO schema_migrations VALUES (999, 0); ALTER TABLE schema_migrations OWNER TO sigil',
    name,
  )
  const r = await server(runArgs('newer'), { SIGIL_DATASTORE: pgsrv.url(name) })
  t.equal(r.code, 1)
  t.match(r.stdout + r.stderr, /newer than this Sigil supports/)
  const tables = await pgsrv.adminQuery("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", name)
  t.same(
    tables.rows.map((row) => row.tablename),
    ['schema_migrations'],
    'nothing was created',
  )
})
