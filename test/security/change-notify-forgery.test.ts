// Attack: another role on the shared PostgreSQL (anyone who can connect may NOTIFY any channel)
// sends forged `sigil_changes` notifications — unknown kinds, malformed payloads, a huge counter
// meant to make the server believe it has seen every future change — hoping to crash the
// watching server, make it ignore real changes, or flood it. Each is ignored or costs one
// coalesced report; a real change afterwards is still reported at once, by its notification.
import pg from 'pg'
import t from 'tap'
import { openDataStore } from '../../server/datastore/open-data-store.js'
import { RECONCILE_MS } from '../../server/datastore/postgres/change-listener.js'
import { startPostgres } from '../helpers/postgres-server.js'
import { Recorder } from '../server/datastore/conformance/change-watch.js'
import { entryInput, TD } from '../server/datastore/conformance/fixtures.js'

const server = await startPostgres(t)

t.test('forged change notifications neither crash the watcher nor silence real changes', async (t) => {
  const url = server.url(await server.createDatabase())
  const [writer, watched] = await Promise.all(
    [0, 1].map(() => openDataStore({ kind: 'postgres', url, poolSize: 4, statementTimeoutMs: 10_000 })),
  )
  t.teardown(() => Promise.all([writer!.close(), watched!.close()]))
  const watcher = new Recorder(watched!)
  await watcher.live()
  const intruder = new pg.Client({ connectionString: url })
  await intruder.connect()
  t.teardown(() => intruder.end())

  const from = watcher.calls.length
  for (const payload of [
    'nonsense',
    'secrets:1',
    'entries',
    'entries:-1',
    'entries:1e400',
    'entries:1:2',
    `${'x'.repeat(7000)}`,
    '',
  ]) {
    await intruder.query('SELECT pg_notify($1, $2)', ['sigil_changes', payload])
  }
  // the forgery meant to silence: a counter far ahead of any real one
  await intruder.query("SELECT pg_notify('sigil_changes', 'entries:999999999999999')")
  // a flood: one coalesced report, not ten thousand
  await intruder.query(
    "SELECT pg_notify('sigil_changes', 'policies:' || g) FROM generate_series(1, 10000) AS g",
  )
  await watcher.reported('bundles', () =>
    writer!.setBundle('example.org', { spiffeBundleJson: '{}', sequenceNumber: 1 }),
  )
  const forged = watcher.kindsSince(from)
  t.ok(
    [...forged].every((k) => ['entries', 'policies', 'bundles'].includes(k)),
    `only well-formed kinds were reported: ${[...forged].join(', ')}`,
  )
  t.ok(watcher.calls.length - from <= 4, `the flood cost ${watcher.calls.length - from} calls`)

  const ms = await watcher.reported('entries', () =>
    writer!.createEntry(entryInput({ spiffeId: `${TD}/real` })),
  )
  t.comment(`a real entry after the forgeries was reported in ${ms.toFixed(0)} ms`)
  t.ok(ms < RECONCILE_MS, 'by its own notification: the forged counter silenced nothing')
  t.equal(await watched!.countEntries(), 1, 'the watching store still answers')
})
