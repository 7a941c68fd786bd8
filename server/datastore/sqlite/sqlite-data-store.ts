/**
 * The embedded default {@link DataStore}: one SQLite file through better-sqlite3 (WAL,
 * versioned migrations from `migrations.ts`, every multi-statement write in one IMMEDIATE
 * transaction). Times are stored as integer milliseconds since the Unix epoch. Several servers
 * on one machine may share the file: the write lock serializes their writes, changes are
 * watched through trigger-bumped counters and `PRAGMA data_version` (`change-poll.ts`), and
 * exclusive jobs take an in-process lock only (`in-process-jobs.ts`).
 *
 * Trust: as for every `DataStore`, callers are trusted to pass validated identifiers, and
 * arguments arrive checked and normalized by `validated-data-store.ts` (open through
 * `openDataStore`, or wrap with `validateDataStore`); all values are bound parameters. The file holds the registry and token hashes (no keys), and
 * is kept 0600 in a 0700 directory.
 */
import { realpathSync } from 'node:fs'
import { type ErrorCode, SigilError } from '../../../certs/errors.js'
import type { Selector } from '../../../certs/selector/selector.js'
import type {
  ApprovalDecision,
  ApprovalFilter,
  ApprovalInput,
  ApprovalKey,
  ApprovalRecord,
} from '../approval-record.js'
import type { AuditFilter, AuditHead, AuditRecord } from '../audit-records.js'
import { ChangeFeed } from '../change-feed.js'
import type { DataChange, DataStore } from '../datastore.js'
import { consumeResult } from '../join-token-outcome.js'
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
} from '../records.js'
import { AgentTable } from './agent-table.js'
import { ApprovalTable } from './approval-table.js'
import { AuditTable } from './audit-table.js'
import { BundleTable } from './bundle-table.js'
import { ChangePoll } from './change-poll.js'
import { EntryTable } from './entry-table.js'
import { FederationTable } from './federation-table.js'
import { runInProcessExclusive } from './in-process-jobs.js'
import { integrityProblems } from './integrity-problems.js'
import { IssuedSvidTable } from './issued-svid-table.js'
import { JoinTokenTable } from './join-token-table.js'
import { migrate } from './migrate.js'
import { MIGRATIONS } from './migrations.js'
import { openSqliteFile } from './open-sqlite-file.js'
import { PolicyTable } from './policy-table.js'
import { RevocationTable } from './revocation-table.js'
import { type ErrorContext, Sql, translateSqliteError } from './sql.js'
import { TaskTable } from './task-table.js'

/** How to open a {@link SqliteDataStore}. */
export interface SqliteDataStoreOptions {
  /** The database file; its directory is created 0700 if missing. */
  readonly path: string
  /** Wait this long for another process's lock (default 5000 ms). */
  readonly busyTimeoutMs?: number
  /** The clock for `createdAt`/`updatedAt` stamps (default: the system clock). */
  readonly clock?: () => Date
}

type Database = ReturnType<typeof openSqliteFile>

/**
 * A {@link DataStore} on a SQLite file.
 *
 * @example
 * const ds = await SqliteDataStore.open({ path: join(dataDir, 'datastore.sqlite3') })
 * try { await ds.createEntry(input) } finally { await ds.close() }
 */
export class SqliteDataStore implements DataStore {
  readonly #db: Database
  /** The file's real path: what in-process job locks are keyed by. */
  readonly #file: string
  readonly #clock: () => Date
  readonly #sql: Sql
  readonly #entries: EntryTable
  readonly #agents: AgentTable
  readonly #tokens: JoinTokenTable
  readonly #bundles: BundleTable
  readonly #svids: IssuedSvidTable
  readonly #tasks: TaskTable
  readonly #revocations: RevocationTable
  readonly #approvals: ApprovalTable
  readonly #federation: FederationTable
  readonly #audit: AuditTable
  readonly #policies: PolicyTable
  #closed = false
  /** Entry writes through this connection (SQLite's data_version counts only other connections'). */
  #entryWrites = 0
  /** A write committed through this connection since the change poll last looked. */
  #ownWrites = false
  readonly #changes: ChangeFeed

  private constructor(db: Database, file: string, clock: () => Date) {
    this.#db = db
    this.#file = file
    this.#clock = clock
    this.#sql = new Sql(db)
    this.#entries = new EntryTable(this.#sql)
    this.#agents = new AgentTable(this.#sql)
    this.#tokens = new JoinTokenTable(this.#sql)
    this.#bundles = new BundleTable(this.#sql)
    this.#svids = new IssuedSvidTable(this.#sql)
    this.#tasks = new TaskTable(this.#sql)
    this.#revocations = new RevocationTable(this.#sql)
    this.#approvals = new ApprovalTable(this.#sql)
    this.#federation = new FederationTable(this.#sql, this.#bundles)
    this.#audit = new AuditTable(this.#sql)
    this.#policies = new PolicyTable(this.#sql)
    const poll: { current?: ChangePoll } = {}
    this.#changes = new ChangeFeed({ start: () => poll.current?.start(), stop: () => poll.current?.stop() })
    poll.current = new ChangePoll(
      {
        sql: this.#sql,
        dataVersion: () => this.#db.pragma('data_version', { simple: true }) as number,
        takeOwnWrites: () => {
          const wrote = this.#ownWrites
          this.#ownWrites = false
          return wrote
        },
      },
      this.#changes,
    )
  }

  /**
   * Opens (creating if needed) and migrates the database. Rejects `ERR_DATASTORE` when the
   * file is unusable or its schema is newer than this code knows.
   */
  static async open(options: SqliteDataStoreOptions): Promise<SqliteDataStore> {
    const clock = options.clock ?? (() => new Date())
    const db = openSqliteFile(options.path, options.busyTimeoutMs)
    try {
      migrate(db, MIGRATIONS, clock())
    } catch (e) {
      db.close()
      throw translateSqliteError(e, { what: 'migrate schema' })
    }
    let file = options.path
    try {
      file = realpathSync(options.path)
    } catch {
      // the file was just opened: keep the given path if it cannot be resolved
    }
    return new SqliteDataStore(db, file, clock)
  }

  /** Runs `fn` with the closed check and driver-error translation of every method. */
  #guard<T>(ctx: ErrorContext, fn: () => T): T {
    if (this.#closed) throw new SigilError('ERR_DATASTORE', `datastore is closed (${ctx.what})`)
    try {
      return fn()
    } catch (e) {
      throw translateSqliteError(e, ctx)
    }
  }

  #write<T>(what: string, fn: () => T, unique?: ErrorCode, uniqueMessage?: string): T {
    const result = this.#guard({ what, unique, uniqueMessage }, () => this.#sql.write(fn))
    this.#ownWrites = true
    return result
  }

  #read<T>(what: string, fn: () => T): T {
    return this.#guard({ what }, fn)
  }

  #entryWrite<T>(what: string, fn: () => T, unique?: ErrorCode, uniqueMessage?: string): T {
    const result = this.#write(what, fn, unique, uniqueMessage)
    this.#entryWrites++
    return result
  }

  // ----- registration entries -----

  async createEntry(input: RegistrationEntryInput): Promise<RegistrationEntry> {
    return this.#entryWrite(
      'create entry',
      () => this.#entries.create(input, this.#clock()),
      'ERR_ENTRY_EXISTS',
      'an entry with this SPIFFE ID, parent ID and selectors already exists',
    )
  }

  async getEntry(id: string): Promise<RegistrationEntry | undefined> {
    return this.#read('get entry', () => this.#entries.get(id))
  }

  async listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]> {
    return this.#read('list entries', () => this.#entries.list(filter))
  }

  async countEntries(filter?: EntryFilter): Promise<number> {
    return this.#read('count entries', () => this.#entries.count(filter))
  }

  async updateEntry(id: string, patch: EntryPatch): Promise<RegistrationEntry> {
    return this.#entryWrite(
      'update entry',
      () => this.#entries.update(id, patch),
      'ERR_ENTRY_EXISTS',
      'the update would duplicate another entry (same SPIFFE ID, parent ID and selectors)',
    )
  }

  async deleteEntry(id: string): Promise<RegistrationEntry> {
    return this.#entryWrite('delete entry', () => this.#entries.delete(id))
  }

  async pruneExpiredEntries(now: Date): Promise<RegistrationEntry[]> {
    return this.#entryWrite('prune expired entries', () => this.#entries.pruneExpired(now))
  }

  async listEntriesByParentIds(parentIds: readonly string[]): Promise<RegistrationEntry[]> {
    return this.#read('list entries by parent', () => this.#entries.listByParentIds(parentIds))
  }

  async listAuthorizedEntries(
    agentId: string,
    agentSelectors: readonly Selector[],
  ): Promise<RegistrationEntry[]> {
    return this.#read('list authorized entries', () =>
      this.#sql.read(() => this.#entries.listAuthorized(agentId, agentSelectors, this.#clock())),
    )
  }

  async entriesVersion(): Promise<string> {
    return this.#read(
      'entries version',
      () => `${this.#entryWrites}:${this.#db.pragma('data_version', { simple: true })}`,
    )
  }

  // ----- attested agents -----

  async createOrUpdateAttestedAgent(input: AttestedAgentInput, now: Date): Promise<AttestedAgent> {
    return this.#write('record attested agent', () => this.#agents.upsert(input, now))
  }

  async getAttestedAgent(spiffeId: string): Promise<AttestedAgent | undefined> {
    return this.#read('get attested agent', () => this.#agents.get(spiffeId))
  }

  async listAttestedAgents(filter?: AttestedAgentFilter): Promise<AttestedAgent[]> {
    return this.#read('list attested agents', () => this.#agents.list(filter))
  }

  async updateAgentSvid(spiffeId: string, serialNumber: string, expiresAt: Date): Promise<AttestedAgent> {
    return this.#write('update agent SVID', () => this.#agents.updateSvid(spiffeId, serialNumber, expiresAt))
  }

  async touchAgent(spiffeId: string, now: Date): Promise<void> {
    this.#write('touch agent', () => this.#agents.touch(spiffeId, now))
  }

  async deleteAttestedAgent(spiffeId: string): Promise<void> {
    this.#write('evict agent', () => this.#agents.delete(spiffeId))
  }

  async banAttestedAgent(spiffeId: string): Promise<void> {
    this.#write('ban agent', () => this.#agents.ban(spiffeId))
  }

  // ----- join tokens -----

  async createJoinToken(input: JoinTokenInput): Promise<void> {
    this.#write(
      'create join token',
      () => this.#tokens.create(input, this.#clock()),
      'ERR_TOKEN_INVALID',
      'a join token with this hash already exists',
    )
  }

  async consumeJoinToken(tokenHash: string, now: Date): Promise<{ spiffeId: string }> {
    // the outcome is decided and committed first (an expired token stays deleted), then reported
    return consumeResult(this.#write('consume join token', () => this.#tokens.consume(tokenHash, now)))
  }

  async pruneExpiredJoinTokens(now: Date): Promise<number> {
    return this.#write('prune join tokens', () => this.#tokens.prune(now))
  }

  // ----- bundles -----

  async setBundle(trustDomain: string, bundle: BundleInput): Promise<BundleRecord> {
    return this.#write('set bundle', () => this.#bundles.set(trustDomain, bundle, this.#clock()))
  }

  async updateBundle(
    trustDomain: string,
    merge: (stored: BundleRecord | undefined) => BundleInput | undefined,
  ): Promise<BundleRecord | undefined> {
    // IMMEDIATE: the write lock is taken before the read, so no other connection or process can
    // slip a write between what merge saw and what is stored
    return this.#write('update bundle', () => {
      const stored = this.#bundles.get(trustDomain)
      const next = merge(stored)
      return next === undefined ? stored : this.#bundles.set(trustDomain, next, this.#clock())
    })
  }

  async getBundle(trustDomain: string): Promise<BundleRecord | undefined> {
    return this.#read('get bundle', () => this.#bundles.get(trustDomain))
  }

  async listBundles(): Promise<BundleRecord[]> {
    return this.#read('list bundles', () => this.#bundles.list())
  }

  async deleteBundle(trustDomain: string): Promise<void> {
    this.#write('delete bundle', () => this.#bundles.delete(trustDomain))
  }

  // ----- issuance record -----

  async recordIssuedSvids(records: readonly IssuedSvidRecord[]): Promise<void> {
    if (records.length === 0) return
    this.#write(
      'record issued SVIDs',
      () => this.#svids.record(records),
      'ERR_INVALID_ARGUMENT',
      'an SVID with this serial number or jti is already recorded',
    )
  }

  async listIssuedSvids(filter?: IssuedSvidFilter): Promise<IssuedSvidRecord[]> {
    return this.#read('list issued SVIDs', () => this.#svids.list(filter ?? {}))
  }

  async pruneIssuedSvids(before: Date): Promise<number> {
    return this.#write('prune issued SVIDs', () => this.#svids.prune(before))
  }

  // ----- tasks -----

  async createTask(input: TaskInput): Promise<TaskRecord> {
    return this.#write(
      'create task',
      () => this.#tasks.create(input),
      'ERR_INVALID_ARGUMENT',
      'a task with this id already exists',
    )
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    return this.#read('get task', () => this.#tasks.get(id))
  }

  async listTasks(filter?: TaskFilter): Promise<TaskRecord[]> {
    return this.#read('list tasks', () => this.#tasks.list(filter ?? {}))
  }

  async endTask(id: string, outcome: TaskOutcome, reason: string, now: Date): Promise<TaskRecord> {
    return this.#write('end task', () => this.#tasks.end(id, outcome, reason, now))
  }

  async recordTaskCredential(credential: TaskCredential): Promise<void> {
    this.#write('record task credential', () => this.#tasks.recordCredential(credential))
  }

  async listTaskCredentials(taskId: string): Promise<TaskCredential[]> {
    return this.#read('list task credentials', () => this.#tasks.credentials(taskId))
  }

  async recordTaskEvent(event: TaskEvent): Promise<void> {
    this.#write('record task event', () => this.#tasks.recordEvent(event))
  }

  async listTaskEvents(taskId: string): Promise<TaskEvent[]> {
    return this.#read('list task events', () => this.#tasks.events(taskId))
  }

  // ----- revocations -----

  async addRevocations(inputs: readonly RevocationInput[], now: Date): Promise<RevocationRecord[]> {
    if (inputs.length === 0) return []
    return this.#write('add revocations', () => this.#revocations.add(inputs, now))
  }

  async listRevocations(filter?: RevocationFilter): Promise<RevocationRecord[]> {
    return this.#read('list revocations', () => this.#revocations.list(filter ?? {}))
  }

  async revocationSequence(): Promise<number> {
    return this.#read('revocation sequence', () => this.#revocations.sequence())
  }

  async pruneRevocations(now: Date): Promise<number> {
    return this.#write('prune revocations', () => this.#revocations.prune(now))
  }

  // ----- approvals -----

  async createApproval(input: ApprovalInput): Promise<ApprovalRecord> {
    return this.#write(
      'create approval',
      () => this.#approvals.create(input),
      'ERR_INVALID_ARGUMENT',
      'an approval with this id already exists',
    )
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.#read('get approval', () => this.#approvals.get(id))
  }

  async listApprovals(filter?: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.#read('list approvals', () => this.#approvals.list(filter ?? {}))
  }

  async decideApproval(id: string, decision: ApprovalDecision): Promise<ApprovalRecord> {
    return this.#write('decide approval', () => this.#approvals.decide(id, decision))
  }

  async findCoveringApproval(key: ApprovalKey, now: Date): Promise<ApprovalRecord | undefined> {
    return this.#read('find covering approval', () => this.#approvals.covering(key, now))
  }

  async expireApprovals(now: Date): Promise<ApprovalRecord[]> {
    return this.#write('expire approvals', () => this.#approvals.expire(now, 'the hold timed out'))
  }

  // ----- federation relationships and federated bundles (migration 7) -----

  async createFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship> {
    return this.#write('create federation relationship', () =>
      this.#federation.create(input, nextRefreshAt, this.#clock()),
    )
  }

  async getFederationRelationship(trustDomain: string): Promise<FederationRelationship | undefined> {
    return this.#read('get federation relationship', () => this.#federation.get(trustDomain))
  }

  async listFederationRelationships(): Promise<FederationRelationship[]> {
    return this.#read('list federation relationships', () => this.#federation.list())
  }

  async updateFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship> {
    return this.#write('update federation relationship', () => this.#federation.update(input, nextRefreshAt))
  }

  async deleteFederationRelationship(trustDomain: string): Promise<void> {
    this.#write('delete federation relationship', () => this.#federation.delete(trustDomain))
  }

  async recordFederationRefresh(trustDomain: string, refresh: FederationRefreshRecord): Promise<void> {
    this.#write('record federation refresh', () => this.#federation.recordRefresh(trustDomain, refresh))
  }

  async storeFederatedBundle(
    trustDomain: string,
    bundle: BundleInput,
  ): Promise<{ readonly outcome: FederatedBundleOutcome; readonly record: BundleRecord }> {
    return this.#write('store federated bundle', () =>
      this.#federation.storeBundle(trustDomain, bundle, this.#clock()),
    )
  }

  // ----- audit trail -----

  async appendAuditRecords(
    records: readonly AuditRecord[],
    expected: AuditHead | undefined,
  ): Promise<boolean> {
    if (records.length === 0) return true
    return this.#guard({ what: 'append audit records' }, () => {
      // durable: this connection runs synchronous=NORMAL (WAL synced at checkpoints); an audit
      // append syncs the WAL at its commit (FULL), which also makes every earlier commit durable
      this.#db.pragma('synchronous = FULL')
      try {
        return this.#sql.write(() => this.#audit.append(records, expected))
      } finally {
        this.#db.pragma('synchronous = NORMAL')
      }
    })
  }

  async auditHead(): Promise<AuditHead | undefined> {
    return this.#read('audit head', () => this.#audit.head())
  }

  async listAuditRecords(filter?: AuditFilter): Promise<AuditRecord[]> {
    return this.#read('list audit records', () => this.#audit.list(filter ?? {}))
  }

  async readAuditRecords(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    return this.#read('read audit records', () => this.#audit.read(afterSeq, limit))
  }

  // ----- policy versions -----

  async addPolicyVersion(input: PolicyVersionInput): Promise<PolicyVersionRecord> {
    return this.#write('add policy version', () => this.#policies.add(input, this.#clock()))
  }

  async getPolicyVersion(version?: number): Promise<PolicyVersionRecord | undefined> {
    return this.#read('get policy version', () => this.#policies.get(version))
  }

  async listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return this.#read('list policy versions', () => this.#policies.list())
  }

  // ----- several servers on one datastore -----

  watchChanges(listener: (changes: ReadonlySet<DataChange>) => void): () => void {
    return this.#changes.subscribe(listener)
  }

  async runExclusive<T>(
    name: string,
    job: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.#closed) throw new SigilError('ERR_DATASTORE', `datastore is closed (run ${name})`)
    return runInProcessExclusive(this.#file, name, job)
  }

  // ----- lifecycle -----

  async integrityCheck(): Promise<void> {
    const problems = this.#read('integrity check', () =>
      this.#sql.read(() => integrityProblems(this.#db, this.#entries)),
    )
    if (problems.length > 0) {
      throw new SigilError('ERR_DATASTORE', `datastore is inconsistent: ${problems.slice(0, 10).join('; ')}`)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#changes.close()
    try {
      this.#db.pragma('optimize')
    } catch {
      // best effort: closing matters more than statistics
    }
    this.#db.close()
  }
}
