/**
 * The server's datastore contract: everything the server persists — registration entries,
 * attested agents, join tokens, trust bundles, the issuance record, tasks, revocations and the audit trail — behind one async
 * interface, so that a second backend (PostgreSQL) can follow without touching callers.
 * The embedded default is `sqlite/sqlite-data-store.ts`; every backend must pass the one
 * conformance suite in `test/server/datastore/conformance.ts`.
 *
 * Trust: the datastore trusts its callers. SPIFFE IDs, trust domains and selectors are
 * validated before they get here (the datastore stores canonical strings as given, and
 * only checks the shape of what it stores); join tokens arrive already hashed. Values
 * always travel as bound parameters, never spliced into SQL.
 *
 * Contract shared by every method:
 * - every method returns a Promise; a write is all-or-nothing (one transaction);
 * - `get*` resolves `undefined` when the row is absent; `update*`, `delete*`, `ban*`,
 *   `touch*` reject with `ERR_NOT_FOUND`;
 * - rule violations reject with the `SigilError` code named on the method;
 *   storage failures reject with `ERR_DATASTORE` (`ERR_UNAVAILABLE` when the store is busy),
 *   the driver's error attached as `cause`; a caller's bug (wrong type) rejects with `TypeError`;
 * - returned records are fresh copies: mutating them changes nothing stored.
 *
 * Several servers on one datastore (issue 15: N servers on one PostgreSQL, or several on one
 * machine sharing a SQLite file) see one state: every rule above (single use of join tokens,
 * entry uniqueness, revocation numbering, the audit chain's head) holds across them, decided
 * inside the database, never by timing. What they need besides plain reads and writes is here
 * too: {@link DataStore.watchChanges} tells each server what another changed (to refresh its
 * caches), {@link DataStore.updateBundle} changes the shared trust bundle without losing another
 * server's authorities, and {@link DataStore.runExclusive} keeps a job (CA rotation, purges) to
 * one server at a time.
 *
 * @example
 * const ds: DataStore = await SqliteDataStore.open({ path: join(dataDir, 'datastore.sqlite3') })
 * const entry = await ds.createEntry({ spiffeId, parentId, selectors, ...defaults })
 */
import type { Selector } from '../../certs/selector/selector.js'
import type {
  ApprovalDecision,
  ApprovalFilter,
  ApprovalInput,
  ApprovalKey,
  ApprovalRecord,
} from './approval-record.js'
import type { AuditFilter, AuditHead, AuditRecord } from './audit-records.js'
import type {
  AttestedAgent,
  AttestedAgentFilter,
  AttestedAgentInput,
  BundleInput,
  BundleRecord,
  EntryFilter,
  EntryPatch,
  FederatedBundleOutcome,
  FederationRefreshRecord,
  FederationRelationship,
  FederationRelationshipInput,
  IssuedSvidFilter,
  IssuedSvidRecord,
  JoinTokenInput,
  PolicyVersionInput,
  PolicyVersionRecord,
  RegistrationEntry,
  RegistrationEntryInput,
  RevocationFilter,
  RevocationInput,
  RevocationRecord,
  TaskCredential,
  TaskEvent,
  TaskFilter,
  TaskInput,
  TaskOutcome,
  TaskRecord,
} from './records.js'

export type * from './approval-record.js'
export type * from './audit-records.js'
export type * from './records.js'

/** What kinds of stored data changed (by any server on the datastore). */
export type DataChange = 'entries' | 'agents' | 'bundles' | 'revocations' | 'policies' | 'tasks' | 'approvals'

/** The storage contract every backend implements (see the module comment for shared rules). */
export interface DataStore {
  // ----- registration entries -----

  /**
   * Stores a new entry with a generated `id`, `revisionNumber` 0 and `createdAt` now.
   * Selectors are normalized (sorted, de-duplicated); at least one is required.
   * Rejects `ERR_ENTRY_EXISTS` when an entry with the same SPIFFE ID, parent ID and
   * selector set exists; `ERR_ENTRY_INVALID` for an entry that breaks a shape rule.
   */
  createEntry(input: RegistrationEntryInput): Promise<RegistrationEntry>

  /** The entry with this id, or `undefined`. */
  getEntry(id: string): Promise<RegistrationEntry | undefined>

  /** Entries matching every given filter field, oldest first. No filter lists all. */
  listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]>

  /** How many entries {@link DataStore.listEntries} would return for the same filter. */
  countEntries(filter?: EntryFilter): Promise<number>

  /**
   * Applies `patch` and bumps `revisionNumber` by one; resolves the updated entry.
   * Rejects `ERR_NOT_FOUND`, `ERR_ENTRY_EXISTS` (the result would duplicate another
   * entry) or `ERR_ENTRY_INVALID`; on rejection nothing changes.
   */
  updateEntry(id: string, patch: EntryPatch): Promise<RegistrationEntry>

  /** Deletes the entry and its selectors; resolves what was deleted. Rejects `ERR_NOT_FOUND`. */
  deleteEntry(id: string): Promise<RegistrationEntry>

  /** Entries whose `parentId` is one of `parentIds` (one level, no recursion), oldest first. */
  listEntriesByParentIds(parentIds: readonly string[]): Promise<RegistrationEntry[]>

  /**
   * The entries an agent may hold SVIDs for — the one authorization rule, kept here:
   * start from the agent's ID plus the SPIFFE ID of every node-alias entry (`node: true`)
   * whose selectors are all among `agentSelectors`; return every entry whose parent is one
   * of those IDs, then every entry whose parent is the SPIFFE ID of a returned entry, and
   * so on (a visited set makes cycles harmless). The node-alias entries themselves are not
   * returned: they name the agent, not its workloads. Oldest first, each entry once.
   */
  listAuthorizedEntries(agentId: string, agentSelectors: readonly Selector[]): Promise<RegistrationEntry[]>

  // ----- entry expiry (issue 16 item 4, migration #8) -----

  /**
   * Deletes every entry whose `entryExpiry` is set and ≤ `now` (SPIRE's entry pruning);
   * resolves the deleted entries. Expired entries not pruned yet are already left out of
   * {@link DataStore.listAuthorizedEntries}.
   */
  pruneExpiredEntries(now: Date): Promise<RegistrationEntry[]>

  /**
   * A token that changes whenever a registration entry is created, updated or deleted
   * through this store, and whenever the backend can tell that another process changed
   * the stored data (it may also change for other writes). Equal tokens mean the entries
   * are unchanged, so callers may keep what they derived from them (the agent API caches
   * each agent's authorized entries by it).
   */
  entriesVersion(): Promise<string>

  // ----- attested agents -----

  /**
   * Records a (re-)attestation: inserts the agent, or replaces its attestation type,
   * serial, expiry and selectors, keeping `createdAt`. `lastSeen` becomes `now`.
   * Rejects `ERR_AGENT_BANNED` for a banned agent (the ban is never cleared here; only
   * {@link DataStore.deleteAttestedAgent} removes it).
   */
  createOrUpdateAttestedAgent(input: AttestedAgentInput, now: Date): Promise<AttestedAgent>

  /** The agent with this SPIFFE ID, or `undefined`. */
  getAttestedAgent(spiffeId: string): Promise<AttestedAgent | undefined>

  /** Agents ordered by SPIFFE ID, optionally only banned (or only not banned) ones. */
  listAttestedAgents(filter?: AttestedAgentFilter): Promise<AttestedAgent[]>

  /** Records the agent's renewed SVID. Rejects `ERR_NOT_FOUND`, or `ERR_AGENT_BANNED`. */
  updateAgentSvid(spiffeId: string, serialNumber: string, expiresAt: Date): Promise<AttestedAgent>

  /** Sets `lastSeen`. Rejects `ERR_NOT_FOUND`. */
  touchAgent(spiffeId: string, now: Date): Promise<void>

  /** Evicts: the row is deleted, so the agent may attest again. Rejects `ERR_NOT_FOUND`. */
  deleteAttestedAgent(spiffeId: string): Promise<void>

  /** Bans: the row stays with `banned: true` and an empty serial. Rejects `ERR_NOT_FOUND`. */
  banAttestedAgent(spiffeId: string): Promise<void>

  // ----- join tokens (stored only as hex SHA-256 hashes computed by the caller) -----

  /**
   * Stores a token hash. Rejects `ERR_TOKEN_INVALID` if the hash is already stored, and
   * `ERR_TOKEN_USED` if a token with this hash was already consumed.
   */
  createJoinToken(input: JoinTokenInput): Promise<void>

  /**
   * Atomically deletes a valid token and resolves its alias (`''` when none), leaving a
   * tombstone so a second use rejects `ERR_TOKEN_USED`. Unknown hash → `ERR_TOKEN_INVALID`;
   * `expiresAt <= now` → `ERR_TOKEN_EXPIRED` (and the token is deleted).
   */
  consumeJoinToken(tokenHash: string, now: Date): Promise<{ spiffeId: string }>

  /**
   * Deletes tokens with `expiresAt <= now`, and tombstones of tokens that would have
   * expired by then (a reuse of those is then `ERR_TOKEN_INVALID`). Resolves how many
   * unused tokens were deleted.
   */
  pruneExpiredJoinTokens(now: Date): Promise<number>

  // ----- trust bundles (own and federated; opaque SPIFFE bundle JSON) -----

  /** Inserts or replaces the bundle of `trustDomain`. */
  setBundle(trustDomain: string, bundle: BundleInput): Promise<BundleRecord>

  /**
   * Read-modify-write of a trust domain's bundle, serialized across every server on the datastore
   * (SQLite: one IMMEDIATE transaction; PostgreSQL: pg_advisory_xact_lock(<bundle lock key>) then
   * SELECT … FOR UPDATE, one transaction). `merge` (synchronous) gets the stored bundle or undefined
   * and returns the bundle to store, or undefined to leave it. Resolves the bundle stored afterwards
   * (undefined if none). `merge` may run more than once (a transaction retried after a deadlock), so
   * it must have no side effects; when it throws, nothing is written and the call rejects with
   * what it threw. Servers that each add their own authorities to a shared bundle use this, never
   * getBundle + setBundle (which would lose a concurrent writer's keys).
   */
  updateBundle(
    trustDomain: string,
    merge: (stored: BundleRecord | undefined) => BundleInput | undefined,
  ): Promise<BundleRecord | undefined>

  /** The bundle of `trustDomain`, or `undefined`. */
  getBundle(trustDomain: string): Promise<BundleRecord | undefined>

  /** Every stored bundle, ordered by trust domain name. */
  listBundles(): Promise<BundleRecord[]>

  /** Deletes the bundle of `trustDomain`. Rejects `ERR_NOT_FOUND`. */
  deleteBundle(trustDomain: string): Promise<void>

  // ----- issuance record -----

  /**
   * Appends records in one transaction (all or none). Rejects `ERR_INVALID_ARGUMENT` if
   * a `(kind, serialOrJti)` pair is already recorded or repeated in the batch.
   */
  recordIssuedSvids(records: readonly IssuedSvidRecord[]): Promise<void>

  /** Records matching every filter field, newest `issuedAt` first, at most `limit`. */
  listIssuedSvids(filter?: IssuedSvidFilter): Promise<IssuedSvidRecord[]>

  /** Deletes records whose `notAfter` is before `before`; resolves how many. */
  pruneIssuedSvids(before: Date): Promise<number>

  // ----- tasks -----

  /** Stores a new active task. Rejects `ERR_INVALID_ARGUMENT` if the id is taken. */
  createTask(input: TaskInput): Promise<TaskRecord>

  /** The task with this id, or `undefined`. */
  getTask(id: string): Promise<TaskRecord | undefined>

  /** Tasks matching every filter field, newest first. */
  listTasks(filter?: TaskFilter): Promise<TaskRecord[]>

  /**
   * Ends an active task with `outcome` (and a free-text `reason`, `''` for none).
   * Rejects `ERR_NOT_FOUND`, or `ERR_TASK_ENDED` when it has already ended (nothing changes).
   */
  endTask(id: string, outcome: TaskOutcome, reason: string, now: Date): Promise<TaskRecord>

  /** Records a credential issued for a task (recording the same one twice is harmless). Rejects `ERR_NOT_FOUND`. */
  recordTaskCredential(credential: TaskCredential): Promise<void>

  /** Every credential issued for a task, oldest first (`[]` for an unknown task). */
  listTaskCredentials(taskId: string): Promise<TaskCredential[]>

  /**
   * Appends a decision to a task's trail; once a task has 1000, further refusals (events ending
   * in `_refused`) are dropped (the server's log keeps them). Rejects `ERR_NOT_FOUND`.
   */
  recordTaskEvent(event: TaskEvent): Promise<void>

  /** A task's decisions in order (`[]` for an unknown task). */
  listTaskEvents(taskId: string): Promise<TaskEvent[]>

  // ----- revocations -----

  /**
   * Stores revocations in one transaction, each with the next sequence number, and resolves
   * the stored records in input order. Revoking what is already revoked is harmless: the
   * existing record comes back unchanged, unless the new `expiresAt` is later (then it is
   * replaced, keeping `revokedAt`, with a new sequence number). A value nobody issued is
   * stored like any other.
   */
  addRevocations(inputs: readonly RevocationInput[], now: Date): Promise<RevocationRecord[]>

  /** Revocations matching every filter field, by ascending sequence number. */
  listRevocations(filter?: RevocationFilter): Promise<RevocationRecord[]>

  /** The highest sequence number ever given (0 before the first revocation); pruning keeps it. */
  revocationSequence(): Promise<number>

  /** Deletes revocations whose `expiresAt <= now` (the credential is dead anyway); resolves how many. */
  pruneRevocations(now: Date): Promise<number>

  // ----- approvals (issue 14 item 5; see approval-record.ts) -----

  /** Records a new pending approval (a held request). Rejects `ERR_INVALID_ARGUMENT` if the id is taken. */
  createApproval(input: ApprovalInput): Promise<ApprovalRecord>

  /** The approval with this id, or `undefined`. */
  getApproval(id: string): Promise<ApprovalRecord | undefined>

  /** Approvals matching every filter field, newest first. */
  listApprovals(filter?: ApprovalFilter): Promise<ApprovalRecord[]>

  /**
   * Decides a pending approval (approved, denied or expired). Rejects `ERR_NOT_FOUND`, or
   * `ERR_APPROVAL_DECIDED` when it is no longer pending (nothing changes).
   */
  decideApproval(id: string, decision: ApprovalDecision): Promise<ApprovalRecord>

  /** The approved approval that covers exactly `key` at `now`, or `undefined`. */
  findCoveringApproval(key: ApprovalKey, now: Date): Promise<ApprovalRecord | undefined>

  /** Marks every pending approval whose hold ended at or before `now` expired; resolves them. */
  expireApprovals(now: Date): Promise<ApprovalRecord[]>

  // ----- federation relationships and federated bundles (migration 7, issue 16 item 3) -----

  /**
   * Stores a new relationship due for its first refresh at `nextRefreshAt`. Rejects
   * `ERR_INVALID_ARGUMENT` when one exists for the trust domain.
   */
  createFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship>

  /** The relationship with this trust domain, or `undefined`. */
  getFederationRelationship(trustDomain: string): Promise<FederationRelationship | undefined>

  /** Every relationship, ordered by trust domain name. */
  listFederationRelationships(): Promise<FederationRelationship[]>

  /**
   * Replaces the endpoint fields of a relationship (its trust domain stays) and makes it due at
   * `nextRefreshAt`, keeping the refresh history. Rejects `ERR_NOT_FOUND`.
   */
  updateFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship>

  /** Deletes a relationship (its last fetched bundle stays). Rejects `ERR_NOT_FOUND`. */
  deleteFederationRelationship(trustDomain: string): Promise<void>

  /** Records one refresh attempt. Rejects `ERR_NOT_FOUND` (the relationship was deleted meanwhile). */
  recordFederationRefresh(trustDomain: string, refresh: FederationRefreshRecord): Promise<void>

  /**
   * Stores a fetched bundle unless it is older, in one transaction: `stored` when there was none
   * or `sequenceNumber` is higher than the stored one; `unchanged` for the same sequence and the
   * same JSON; `stale` (nothing written) for a lower sequence, or the same sequence with other
   * content. Resolves what was done and the bundle now stored.
   */
  storeFederatedBundle(
    trustDomain: string,
    bundle: BundleInput,
  ): Promise<{ readonly outcome: FederatedBundleOutcome; readonly record: BundleRecord }>

  // ----- audit trail (issue 14 item 7; sealed by server/audit/audit-chain.ts) -----

  /**
   * Compare-and-append: stores `records` (sealed, numbered from `expected.seq + 1`, or 1 when
   * `expected` is undefined) in one durable transaction — committed to stable storage before it
   * resolves, unlike other writes — if the chain's last record is still `expected`; resolves
   * false and stores nothing when another writer moved the head. Stores every field as given.
   */
  appendAuditRecords(records: readonly AuditRecord[], expected: AuditHead | undefined): Promise<boolean>

  /** The chain's last record (seq and hash), or `undefined` when the trail is empty. */
  auditHead(): Promise<AuditHead | undefined>

  /** Records matching every filter field, in chain order; with `limit`, the newest that many. */
  listAuditRecords(filter?: AuditFilter): Promise<AuditRecord[]>

  /** Up to `limit` records with `seq > afterSeq`, in chain order (pages for `audit verify`). */
  readAuditRecords(afterSeq: number, limit: number): Promise<AuditRecord[]>

  // ----- policy versions (issue 14: Cedar policy sets, append-only) -----

  /**
   * Stores `input` as the next policy version (1 for the first) with `createdAt` now, and
   * resolves it. Versions are never changed or deleted. The caller validated the text; the
   * store checks only the shape (`sha256` 64 lowercase hex characters).
   */
  addPolicyVersion(input: PolicyVersionInput): Promise<PolicyVersionRecord>

  /** The policy version `version`, or the latest when omitted; `undefined` when there is none. */
  getPolicyVersion(version?: number): Promise<PolicyVersionRecord | undefined>

  /** Every policy version, newest first. */
  listPolicyVersions(): Promise<PolicyVersionRecord[]>

  // ----- several servers on one datastore (issue 15) -----

  /**
   * Tells `listener` which kinds of data changed, by this or any other process on the datastore,
   * coalesced (at most ~5 calls/s), within 1 s of the commit. PostgreSQL: LISTEN on a dedicated
   * pg.Client (not from the pool; reconnects with backoff when the connection drops and then reports
   * every kind once, since changes may have been missed), migration 9's triggers NOTIFY in the
   * writing transaction, plus a reconcile every 5 s comparing per-kind counters as the fallback.
   * SQLite: per-kind counters bumped by triggers (migration 9) and a poll of PRAGMA data_version
   * (every 200 ms) that reads them when it moved.
   *
   * The first call after subscribing names every kind, once the watch is in place (on PostgreSQL
   * after the LISTEN connection is up): whatever was loaded before may be stale, so a subscriber
   * (re)loads on it. Updates that change only bookkeeping (an agent's lastSeen, a bundle's
   * updatedAt) are not changes; a change may be reported more than once. The listener runs
   * synchronously; an exception from it is ignored. Returns an unsubscribe function (calling it
   * twice is harmless); close() stops everything.
   */
  watchChanges(listener: (changes: ReadonlySet<DataChange>) => void): () => void

  /**
   * Runs `job` unless another server on this datastore is running a job of the same name now;
   * resolves `{ ran: false }` at once when one is, else `{ ran: true, value }` (a job's rejection
   * comes back as it is, and the lock is released either way). PostgreSQL: pg_try_advisory_lock on
   * one pooled connection held for the job, always unlocked after (the job's own queries use other
   * connections; if that connection breaks mid-job PostgreSQL drops the lock, so another server may
   * start the job before this one ends; a job that itself uses the datastore needs a pool of at
   * least 2). SQLite: an in-process mutex per file and name only —
   * SQLite serializes writers, and every job guarded this way is idempotent. Never a timing
   * assumption: callers that must run the job eventually retry on their own schedule.
   */
  runExclusive<T>(name: string, job: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>

  // ----- lifecycle -----

  /**
   * Checks the store's consistency (for tests and health checks); rejects `ERR_DATASTORE`
   * naming what is wrong.
   */
  integrityCheck(): Promise<void>

  /** Closes the store; later calls reject `ERR_DATASTORE`. Closing twice is harmless. */
  close(): Promise<void>
}
