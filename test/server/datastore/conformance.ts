/**
 * The one conformance suite every `DataStore` backend must pass (STYLE.md habit 10), run
 * against SQLite (sqlite.test.ts) and PostgreSQL (postgres.test.ts). A backend's test calls
 * `runDataStoreConformance(t, makeLocation)` with a factory for a fresh, empty store location
 * that opens handles on it (through the datastore boundary's checks, as the server does); each
 * subtest uses its own location, checks its integrity and closes it at the end. What is one
 * backend's own (file modes, WAL, pools, faults) lives in that backend's test.
 */
import type { Test } from 'tap'
import { agentTests } from './conformance/agents.js'
import { approvalTests } from './conformance/approvals.js'
import { auditTests } from './conformance/audit.js'
import { authorizationTests } from './conformance/authorization.js'
import { bundleMergeTests } from './conformance/bundle-merge.js'
import { bundleTests } from './conformance/bundles.js'
import { changeWatchTests } from './conformance/change-watch.js'
import { entryTests } from './conformance/entries.js'
import { entryExpiryTests } from './conformance/entry-expiry.js'
import { exclusiveJobTests } from './conformance/exclusive-jobs.js'
import { federationTests } from './conformance/federation.js'
import { entryInput, type MakeStore } from './conformance/fixtures.js'
import { issuedSvidTests } from './conformance/issued-svids.js'
import { joinTokenTests } from './conformance/join-tokens.js'
import { policyTests } from './conformance/policies.js'
import { raceTests } from './conformance/races.js'
import { revocationTests } from './conformance/revocations.js'
import { type MakeLocation, sharedStoreTests } from './conformance/shared-store.js'
import { taskTests } from './conformance/tasks.js'

export type { MakeLocation, OpenHandle } from './conformance/shared-store.js'

/** Runs every conformance subtest against stores at locations made by `makeLocation`. */
export function runDataStoreConformance(t: Test, makeLocation: MakeLocation): void {
  const makeStore: MakeStore = async () => (await makeLocation())()
  entryTests(t, makeStore)
  authorizationTests(t, makeStore)
  agentTests(t, makeStore)
  joinTokenTests(t, makeStore)
  bundleTests(t, makeStore)
  bundleMergeTests(t, makeLocation)
  changeWatchTests(t, makeLocation)
  exclusiveJobTests(t, makeLocation)
  raceTests(t, makeLocation)
  issuedSvidTests(t, makeStore)
  taskTests(t, makeStore)
  revocationTests(t, makeStore)
  approvalTests(t, makeStore)
  federationTests(t, makeStore)
  sharedStoreTests(t, makeLocation)
  auditTests(t, makeStore)
  policyTests(t, makeStore)
  entryExpiryTests(t, makeStore)

  t.test('a closed store refuses every call with ERR_DATASTORE', async (t) => {
    const ds = await makeStore()
    const e = await ds.createEntry(entryInput())
    await ds.integrityCheck()
    await ds.close()
    await ds.close()
    await t.rejects(ds.getEntry(e.id), { code: 'ERR_DATASTORE' })
    await t.rejects(ds.createEntry(entryInput({ hint: 'late' })), { code: 'ERR_DATASTORE' })
    await t.rejects(ds.listBundles(), { code: 'ERR_DATASTORE' })
    await t.rejects(ds.integrityCheck(), { code: 'ERR_DATASTORE' })
  })
}
