// A real sigil-server process on a real PostgreSQL (SIGIL_DATASTORE, password in the environment,
// never on argv) with a real agent: a workload gets its SVID; the registry lives in PostgreSQL (no
// SQLite file); while the database is down admin calls fail at once with Unavailable and the agent
// keeps serving the workload and /ready is 503; once the database is back the server answers again by itself.
import { existsSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { printedSvids, startSigilNode, startWorkload, writeWorkloadScript } from '../helpers/agent-process.js'
import { startPostgres } from '../helpers/postgres-server.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const pgsrv = await startPostgres(t)
const database = await pgsrv.createDatabase()
const node = await startSigilNode(t, {
  serverArgs: ['--metrics-address', '127.0.0.1:0'],
  serverEnv: { SIGIL_DATASTORE: pgsrv.url(database) },
})
const metricsUrl = String(node.server.logs.find((l) => l.msg === 'sigil-server started')?.metrics)
/** The status of GET /ready on the metrics listener. */
const ready = async () => (await fetch(new URL('/ready', metricsUrl))).status
const script = writeWorkloadScript(node.dir, 'workload.mjs')

t.test('a workload gets its SVID from a server on PostgreSQL', async (t) => {
  await node.createEntry(`${TD}/pg-workload`, ['unix:uid:0', `proc:script:${realpathSync(script)}`])
  const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
  const update = await w.next('update')
  t.same(
    printedSvids(update).map((s) => s.spiffeId),
    [`${TD}/pg-workload`],
  )
  const rows = await pgsrv.adminQuery(
    "SELECT spiffe_id FROM registration_entries WHERE spiffe_id LIKE '%pg-workload'",
    database,
  )
  t.equal(rows.rowCount, 1, 'the entry is a row in PostgreSQL')
  const agents = await pgsrv.adminQuery('SELECT spiffe_id FROM attested_agents', database)
  t.same(
    agents.rows.map((r) => r.spiffe_id),
    [node.agentId],
  )
  t.notOk(existsSync(join(node.server.dataDir, 'datastore.sqlite3')), 'no SQLite file was made')
  const started = node.server.logs.find((l) => l.msg === 'sigil-server started')
  t.equal(started?.datastore, `postgres://sigil@${pgsrv.host}:${pgsrv.port}/${database}`)
  t.notMatch(JSON.stringify(node.server.logs), pgsrv.password, 'the password is in no log line')
})

t.test(
  'database down: Unavailable at once, the agent keeps serving; back: the server recovers',
  async (t) => {
    const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
    await w.next('update')
    t.equal(await ready(), 200)
    await pgsrv.stop()
    t.equal(await ready(), 503, '/ready is 503 while the database is down')
    const down = await node.server.cli('entry', 'show')
    t.equal(down.code, 1)
    t.match(down.stderr, /datastore unavailable/, 'the server says what is unavailable')
    t.notMatch(down.stderr + down.stdout, pgsrv.password)
    const fetched = await w.fetch()
    t.equal(fetched.kind, 'fetch', 'the agent serves its cached SVID while the database is down')
    t.same(
      printedSvids(fetched).map((s) => s.spiffeId),
      [`${TD}/pg-workload`],
    )

    await pgsrv.start()
    await waitUntil(
      'the server to answer admin calls again after PostgreSQL came back',
      async () => (await node.server.cli('entry', 'show')).code === 0,
      { timeoutMs: 20_000, intervalMs: 200 },
    )
    t.equal(await ready(), 200, '/ready is 200 again')
    await node.createEntry(`${TD}/after-outage`, ['unix:uid:1234'])
    const shown = await node.server.cli('entry', 'show', '--spiffe-id', `${TD}/after-outage`)
    t.equal(shown.code, 0, shown.stderr)
    t.notMatch(JSON.stringify(node.server.logs), pgsrv.password, 'still no password in any log line')
  },
)
