/**
 * A decorator around any {@link DataStore} that times every call and counts failures by
 * method, and counts task and revocation writes — at the datastore boundary, so every backend
 * is measured the same way and no backend method carries metrics code. The method list is a
 * total map over the interface: a new DataStore method does not compile until it is listed here.
 */
import type { Counter, Histogram } from 'prom-client'
import type { DataStore } from './datastore.js'

/** The recorders the decorator feeds (see server/metrics/server-metrics.ts). */
export interface DataStoreMetrics {
  readonly datastoreSeconds: Histogram<'method'>
  readonly datastoreErrors: Counter<'method'>
  readonly tasksBegun: Counter
  readonly tasksEnded: Counter<'outcome'>
  readonly revocationsAdded: Counter
}

/** Every DataStore method; `true` when it is timed (close, watchChanges and runExclusive — whose time is the job's — are not queries). */
const METHODS: Record<keyof DataStore, boolean> = {
  createEntry: true,
  getEntry: true,
  listEntries: true,
  countEntries: true,
  updateEntry: true,
  deleteEntry: true,
  listEntriesByParentIds: true,
  listAuthorizedEntries: true,
  entriesVersion: true,
  pruneExpiredEntries: true,
  createOrUpdateAttestedAgent: true,
  getAttestedAgent: true,
  listAttestedAgents: true,
  updateAgentSvid: true,
  touchAgent: true,
  deleteAttestedAgent: true,
  banAttestedAgent: true,
  createJoinToken: true,
  consumeJoinToken: true,
  pruneExpiredJoinTokens: true,
  setBundle: true,
  updateBundle: true,
  getBundle: true,
  listBundles: true,
  deleteBundle: true,
  recordIssuedSvids: true,
  listIssuedSvids: true,
  pruneIssuedSvids: true,
  createTask: true,
  getTask: true,
  listTasks: true,
  endTask: true,
  recordTaskCredential: true,
  listTaskCredentials: true,
  recordTaskEvent: true,
  listTaskEvents: true,
  addRevocations: true,
  listRevocations: true,
  revocationSequence: true,
  pruneRevocations: true,
  createApproval: true,
  getApproval: true,
  listApprovals: true,
  decideApproval: true,
  findCoveringApproval: true,
  expireApprovals: true,
  createFederationRelationship: true,
  getFederationRelationship: true,
  listFederationRelationships: true,
  updateFederationRelationship: true,
  deleteFederationRelationship: true,
  recordFederationRefresh: true,
  storeFederatedBundle: true,
  appendAuditRecords: true,
  auditHead: true,
  listAuditRecords: true,
  readAuditRecords: true,
  addPolicyVersion: true,
  getPolicyVersion: true,
  listPolicyVersions: true,
  integrityCheck: true,
  watchChanges: false,
  runExclusive: false,
  close: false,
}

/**
 * Wraps `inner`; the result is a DataStore with the same behaviour plus metrics.
 *
 * @example
 * const datastore = instrumentDataStore(await SqliteDataStore.open({ path }), metrics)
 */
export function instrumentDataStore<D extends DataStore>(inner: D, metrics: DataStoreMetrics): DataStore {
  const wrapped: Record<string, unknown> = {}
  for (const [method, timed] of Object.entries(METHODS) as [keyof DataStore, boolean][]) {
    const call = (inner[method] as (...args: unknown[]) => Promise<unknown>).bind(inner)
    if (!timed) {
      wrapped[method] = call
      continue
    }
    const seconds = metrics.datastoreSeconds.labels(method)
    const errors = metrics.datastoreErrors.labels(method)
    const after = afterHook(method, metrics)
    wrapped[method] = async (...args: unknown[]) => {
      const start = process.hrtime.bigint()
      try {
        const result = await call(...args)
        after?.(result, args)
        return result
      } catch (err) {
        errors.inc()
        throw err
      } finally {
        seconds.observe(Number(process.hrtime.bigint() - start) / 1e9)
      }
    }
  }
  return wrapped as unknown as DataStore
}

/** The domain counters fed by a successful write. */
function afterHook(
  method: keyof DataStore,
  metrics: DataStoreMetrics,
): ((result: unknown, args: unknown[]) => void) | undefined {
  switch (method) {
    case 'createTask':
      return () => metrics.tasksBegun.inc()
    case 'endTask': {
      return (_result, args) => metrics.tasksEnded.labels(String(args[1])).inc()
    }
    case 'addRevocations':
      return (result) => metrics.revocationsAdded.inc((result as unknown[]).length)
    default:
      return undefined
  }
}
