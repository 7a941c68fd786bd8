// The metrics decorator at the DataStore boundary: the whole conformance suite passes through it
// (same results, same error codes), every call is timed by method, failures are counted, and
// task and revocation writes feed their counters.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { instrumentDataStore } from '../../../server/datastore/instrumented-data-store.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { SqliteDataStore } from '../../../server/datastore/sqlite/sqlite-data-store.js'
import { ServerMetrics } from '../../../server/metrics/server-metrics.js'
import { AGENT_A, entryInput, TD } from './conformance/fixtures.js'
import { runDataStoreConformance } from './conformance.js'

const root = mkdtempSync(join(tmpdir(), 'sigil-instrumented-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const freshPath = () => join(root, `case-${++n}`, 'datastore.sqlite3')

async function sample(metrics: ServerMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  )
  return value?.value ?? 0
}

t.test('conformance through the decorator', async (t) => {
  runDataStoreConformance(t, async () => {
    const path = freshPath()
    return async (options) =>
      instrumentDataStore(await openDataStore({ kind: 'sqlite', path }, options), new ServerMetrics())
  })
})

t.test('calls are timed by method; failures counted with the original error', async (t) => {
  const metrics = new ServerMetrics()
  const ds = instrumentDataStore(await SqliteDataStore.open({ path: freshPath() }), metrics)
  t.teardown(() => ds.close())
  const input = entryInput({ spiffeId: `${TD}/metered`, parentId: AGENT_A })
  await ds.createEntry(input)
  await t.rejects(ds.createEntry(input), { code: 'ERR_ENTRY_EXISTS' })
  await ds.listEntries()
  const count = (method: string) =>
    sample(metrics, 'sigil_server_datastore_query_duration_seconds', { method, le: '+Inf' })
  t.equal(await count('createEntry'), 2)
  t.equal(await count('listEntries'), 1)
  t.equal(await sample(metrics, 'sigil_server_datastore_errors_total', { method: 'createEntry' }), 1)
  t.equal(await sample(metrics, 'sigil_server_datastore_errors_total', { method: 'listEntries' }), 0)
  const text = await metrics.registry.metrics()
  t.match(text, /sigil_server_tasks_ended_total\{outcome="expired"\} 0/, 'outcome children exist up front')
})
