/**
 * A {@link DataStore} on PostgreSQL through a `pg` connection pool: versioned migrations from
 * `migrations.ts` (under an advisory lock, refused when the database is newer), every
 * multi-statement write in one transaction that locks the rows it decides on, reads that span
 * several queries in one REPEATABLE READ snapshot. Several servers may share one database:
 * single use of join tokens, entry versions and revocation sequence numbers hold across them;
 * changes reach every watching server through LISTEN/NOTIFY plus a counter reconcile
 * (`change-listener.ts`); the shared bundle's read-modify-write and exclusive jobs take advisory
 * locks (`advisory-locks.ts`).
 *
 * Faults: an unreachable database, a connection lost mid-call, a statement past the statement
 * timeout or a server restarting reject `ERR_UNAVAILABLE` at once (nothing waits for the
 * database to return); the pool replaces broken connections, so calls succeed again as soon
 * as the database is back.
 *
 * Trust: as for every `DataStore`, arguments arrive checked by `validated-data-store.ts`; all
 * values are bound parameters. The connection URL's password is used only to connect: messages
 * name the database through {@link redactPostgresUrl}.
 */
import pg from 'pg'
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
import { EXCLUSIVE_JOB_CLASS } from './advisory-locks.js'
import { agentTable } from './agent-table.js'
import { approvalTable } from './approval-table.js'
import { auditTable } from './audit-table.js'
import { bundleTable } from './bundle-table.js'
import { ChangeListener } from './change-listener.js'
import { entryTable } from './entry-table.js'
import { federationTable } from './federation-table.js'
import { issuedSvidTable } from './issued-svid-table.js'
import { joinTokenTable } from './join-token-table.js'
import { migratePostgres, pgSchemaVersion } from './migrate.js'
import { PG_MIGRATIONS } from './migrations.js'
import { isUnreachable, PG_TYPES, PgSql, type Queryable, sqlState, translatePgError } from './pg-sql.js'
import { policyTable } from './policy-table.js'
import { redactPostgresUrl } from './postgres-url.js'
import { revocationTable } from './revocation-table.js'
import { taskTable } from './task-table.js'

/** How to open a {@link PostgresDataStore}. */
export interface PostgresDataStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq-style query parameters such as `sslmode` allowed). */
  readonly url: string
  /** Connections in the pool (default 10). */
  readonly poolSize?: number
  /** Server-side statement timeout; a statement running longer fails `ERR_UNAVAILABLE` (default 10 s). */
  readonly statementTimeoutMs?: number
  /** How long to wait for a new connection before failing `ERR_UNAVAILABLE` (default 5 s). */
  readonly connectTimeoutMs?: number
  /** The clock for `createdAt`/`updatedAt` stamps (default: the system clock). */
  readonly clock?: () => Date
  /** Told about a pooled idle connection that broke (the pool replaces it); default: ignored. */
  readonly onConnectionError?: (error: Error) => void
}

/** The defaults of {@link PostgresDataStoreOptions}. */
export const POSTGRES_DEFAULTS = {
  poolSize: 10,
  statementTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
} as const

/**
 * A {@link DataStore} on a PostgreSQL database.
 *
 * @example
 * const ds = validateDataStore(await PostgresDataStore.open({ url: process.env.SIGIL_DATASTORE! }))
 * try { await ds.createEntry(input) } finally { await ds.close() }
 */
export class PostgresDataStore implements DataStore {
  readonly #pool: pg.Pool
  readonly #sql: PgSql
  readonly #clock: () => Date
  readonly #changes: ChangeFeed
  #closed = false

  private constructor(
    pool: pg.Pool,
    sql: PgSql,
    clock: () => Date,
    listen: { url: string; connectTimeoutMs: number },
  ) {
    this.#pool = pool
    this.#sql = sql
    this.#clock = clock
    const listener: { current?: ChangeListener } = {}
    this.#changes = new ChangeFeed({
      start: () => listener.current?.start(),
      stop: () => listener.current?.stop(),
    })
    listener.current = new ChangeListener({ ...listen, pool: sql.direct, feed: this.#changes })
  }

  /**
   * Connects and migrates. Rejects `ERR_UNAVAILABLE` when the database cannot be reached,
   * `ERR_DATASTORE` when it refuses the credentials, does not exist, or holds a schema newer
   * than this code knows — each message naming the database without its password.
   */
  static async open(options: PostgresDataStoreOptions): Promise<PostgresDataStore> {
    const clock = options.clock ?? (() => new Date())
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? POSTGRES_DEFAULTS.poolSize,
      statement_timeout: options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'sigil-server',
      types: PG_TYPES,
    })
    // an idle pooled connection that breaks (database restart) is dropped and replaced by the pool
    pool.on('error', (e) => options.onConnectionError?.(e))
    const sql = new PgSql(pool)
    try {
      await migratePostgres(sql, PG_MIGRATIONS, clock())
    } catch (e) {
      await pool.end().catch(() => {})
      throw openError(e, redactPostgresUrl(options.url))
    }
    return new PostgresDataStore(pool, sql, clock, {
      url: options.url,
      connectTimeoutMs: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    })
  }

  async #guard<T>(
    what: string,
    fn: () => Promise<T>,
    unique?: ErrorCode,
    uniqueMessage?: string,
  ): Promise<T> {
    if (this.#closed) throw new SigilError('ERR_DATASTORE', `datastore is closed (${what})`)
    try {
      return await fn()
    } catch (e) {
      const pool = this.#pool
      const size = pool.options.max ?? POSTGRES_DEFAULTS.poolSize
      const poolBusy = pool.totalCount >= size && pool.idleCount === 0 ? { poolBusy: { size } } : {}
      throw translatePgError(e, { what, unique, uniqueMessage, ...poolBusy })
    }
  }

  /** One statement, autocommit. */
  #direct<T>(
    what: string,
    fn: (q: Queryable) => Promise<T>,
    unique?: ErrorCode,
    uniqueMessage?: string,
  ): Promise<T> {
    return this.#guard(what, () => fn(this.#sql.direct), unique, uniqueMessage)
  }

  #write<T>(
    what: string,
    fn: (q: Queryable) => Promise<T>,
    unique?: ErrorCode,
    uniqueMessage?: string,
  ): Promise<T> {
    return this.#guard(what, () => this.#sql.write(fn), unique, uniqueMessage)
  }

  #read<T>(what: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#guard(what, () => this.#sql.read(fn))
  }

  // ----- registration entries -----

  createEntry(input: RegistrationEntryInput): Promise<RegistrationEntry> {
    return this.#write(
      'create entry',
      (q) => entryTable.create(q, input, this.#clock()),
      'ERR_ENTRY_EXISTS',
      input.id === undefined
        ? 'an entry with this SPIFFE ID, parent ID and selectors already exists'
        : `an entry with ID ${input.id} or with this SPIFFE ID, parent ID and selectors already exists`,
    )
  }

  getEntry(id: string): Promise<RegistrationEntry | undefined> {
    return this.#direct('get entry', (q) => entryTable.get(q, id))
  }

  listEntries(filter?: EntryFilter): Promise<RegistrationEntry[]> {
    return this.#direct('list entries', (q) => entryTable.list(q, filter))
  }

  countEntries(filter?: EntryFilter): Promise<number> {
    return this.#direct('count entries', (q) => entryTable.count(q, filter))
  }

  updateEntry(id: string, patch: EntryPatch): Promise<RegistrationEntry> {
    return this.#write(
      'update entry',
      (q) => entryTable.update(q, id, patch),
      'ERR_ENTRY_EXISTS',
      'the update would duplicate another entry (same SPIFFE ID, parent ID and selectors)',
    )
  }

  deleteEntry(id: string): Promise<RegistrationEntry> {
    return this.#write('delete entry', (q) => entryTable.delete(q, id))
  }

  pruneExpiredEntries(now: Date): Promise<RegistrationEntry[]> {
    return this.#write('prune expired entries', (q) => entryTable.pruneExpired(q, now))
  }

  listEntriesByParentIds(parentIds: readonly string[]): Promise<RegistrationEntry[]> {
    return this.#direct('list entries by parent', (q) => entryTable.listByParentIds(q, parentIds))
  }

  listAuthorizedEntries(agentId: string, agentSelectors: readonly Selector[]): Promise<RegistrationEntry[]> {
    return this.#direct('list authorized entries', (q) =>
      entryTable.listAuthorized(q, agentId, agentSelectors, this.#clock()),
    )
  }

  entriesVersion(): Promise<string> {
    return this.#direct('entries version', (q) => entryTable.version(q))
  }

  // ----- attested agents -----

  createOrUpdateAttestedAgent(input: AttestedAgentInput, now: Date): Promise<AttestedAgent> {
    return this.#write('record attested agent', (q) => agentTable.upsert(q, input, now))
  }

  getAttestedAgent(spiffeId: string): Promise<AttestedAgent | undefined> {
    return this.#direct('get attested agent', (q) => agentTable.get(q, spiffeId))
  }

  listAttestedAgents(filter?: AttestedAgentFilter): Promise<AttestedAgent[]> {
    return this.#direct('list attested agents', (q) => agentTable.list(q, filter))
  }

  updateAgentSvid(
    spiffeId: string,
    serialNumber: string,
    expiresAt: Date,
    replacing?: string,
  ): Promise<AttestedAgent> {
    return this.#write('update agent SVID', (q) =>
      agentTable.updateSvid(q, spiffeId, serialNumber, expiresAt, replacing),
    )
  }

  async forgetPreviousAgentSvid(spiffeId: string, currentSerial: string): Promise<void> {
    await this.#direct('end agent renewal grace', (q) =>
      agentTable.forgetPrevious(q, spiffeId, currentSerial),
    )
  }

  async touchAgent(spiffeId: string, now: Date): Promise<void> {
    await this.#direct('touch agent', (q) => agentTable.touch(q, spiffeId, now))
  }

  async deleteAttestedAgent(spiffeId: string): Promise<void> {
    await this.#direct('evict agent', (q) => agentTable.delete(q, spiffeId))
  }

  async banAttestedAgent(spiffeId: string): Promise<void> {
    await this.#direct('ban agent', (q) => agentTable.ban(q, spiffeId))
  }

  // ----- join tokens -----

  async createJoinToken(input: JoinTokenInput): Promise<void> {
    await this.#write(
      'create join token',
      (q) => joinTokenTable.create(q, input, this.#clock()),
      'ERR_TOKEN_INVALID',
      'a join token with this hash already exists',
    )
  }

  async consumeJoinToken(tokenHash: string, now: Date): Promise<{ spiffeId: string }> {
    // the outcome is decided and committed first (an expired token stays deleted), then reported
    return consumeResult(
      await this.#write('consume join token', (q) => joinTokenTable.consume(q, tokenHash, now)),
    )
  }

  pruneExpiredJoinTokens(now: Date): Promise<number> {
    return this.#write('prune join tokens', (q) => joinTokenTable.prune(q, now))
  }

  // ----- bundles -----

  setBundle(trustDomain: string, bundle: BundleInput): Promise<BundleRecord> {
    return this.#direct('set bundle', (q) => bundleTable.set(q, trustDomain, bundle, this.#clock()))
  }

  updateBundle(
    trustDomain: string,
    merge: (stored: BundleRecord | undefined) => BundleInput | undefined,
  ): Promise<BundleRecord | undefined> {
    // what merge throws comes back as it is (as on SQLite), not as a driver failure
    let thrown: { readonly error: unknown } | undefined
    const guarded = (stored: BundleRecord | undefined) => {
      try {
        return merge(stored)
      } catch (error) {
        thrown = { error }
        throw error
      }
    }
    return this.#write('update bundle', (q) =>
      bundleTable.update(q, trustDomain, guarded, this.#clock()),
    ).catch((e: unknown) => {
      throw thrown !== undefined && (e === thrown.error || (e as Error).cause === thrown.error)
        ? thrown.error
        : e
    })
  }

  getBundle(trustDomain: string): Promise<BundleRecord | undefined> {
    return this.#direct('get bundle', (q) => bundleTable.get(q, trustDomain))
  }

  listBundles(): Promise<BundleRecord[]> {
    return this.#direct('list bundles', (q) => bundleTable.list(q))
  }

  async deleteBundle(trustDomain: string): Promise<void> {
    await this.#direct('delete bundle', (q) => bundleTable.delete(q, trustDomain))
  }

  // ----- issuance record -----

  async recordIssuedSvids(records: readonly IssuedSvidRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.#direct(
      'record issued SVIDs',
      (q) => issuedSvidTable.record(q, records),
      'ERR_INVALID_ARGUMENT',
      'an SVID with this serial number or jti is already recorded',
    )
  }

  listIssuedSvids(filter?: IssuedSvidFilter): Promise<IssuedSvidRecord[]> {
    return this.#direct('list issued SVIDs', (q) => issuedSvidTable.list(q, filter ?? {}))
  }

  pruneIssuedSvids(before: Date): Promise<number> {
    return this.#direct('prune issued SVIDs', (q) => issuedSvidTable.prune(q, before))
  }

  // ----- tasks -----

  createTask(input: TaskInput): Promise<TaskRecord> {
    return this.#write(
      'create task',
      (q) => taskTable.create(q, input),
      'ERR_INVALID_ARGUMENT',
      'a task with this id already exists',
    )
  }

  getTask(id: string): Promise<TaskRecord | undefined> {
    return this.#direct('get task', (q) => taskTable.get(q, id))
  }

  listTasks(filter?: TaskFilter): Promise<TaskRecord[]> {
    return this.#direct('list tasks', (q) => taskTable.list(q, filter ?? {}))
  }

  endTask(id: string, outcome: TaskOutcome, reason: string, now: Date): Promise<TaskRecord> {
    return this.#write('end task', (q) => taskTable.end(q, id, outcome, reason, now))
  }

  async recordTaskCredential(credential: TaskCredential): Promise<void> {
    await this.#write('record task credential', (q) => taskTable.recordCredential(q, credential))
  }

  listTaskCredentials(taskId: string): Promise<TaskCredential[]> {
    return this.#direct('list task credentials', (q) => taskTable.credentials(q, taskId))
  }

  async recordTaskEvent(event: TaskEvent): Promise<void> {
    await this.#write('record task event', (q) => taskTable.recordEvent(q, event))
  }

  listTaskEvents(taskId: string): Promise<TaskEvent[]> {
    return this.#direct('list task events', (q) => taskTable.events(q, taskId))
  }

  // ----- revocations -----

  async addRevocations(inputs: readonly RevocationInput[], now: Date): Promise<RevocationRecord[]> {
    if (inputs.length === 0) return []
    return this.#write('add revocations', (q) => revocationTable.add(q, inputs, now))
  }

  listRevocations(filter?: RevocationFilter): Promise<RevocationRecord[]> {
    return this.#direct('list revocations', (q) => revocationTable.list(q, filter ?? {}))
  }

  revocationSequence(): Promise<number> {
    return this.#direct('revocation sequence', (q) => revocationTable.sequence(q))
  }

  pruneRevocations(now: Date): Promise<number> {
    return this.#direct('prune revocations', (q) => revocationTable.prune(q, now))
  }

  // ----- federation relationships and federated bundles (PG migration 4) -----

  createFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship> {
    return this.#write('create federation relationship', (q) =>
      federationTable.create(q, input, nextRefreshAt, this.#clock()),
    )
  }

  getFederationRelationship(trustDomain: string): Promise<FederationRelationship | undefined> {
    return this.#direct('get federation relationship', (q) => federationTable.get(q, trustDomain))
  }

  listFederationRelationships(): Promise<FederationRelationship[]> {
    return this.#direct('list federation relationships', (q) => federationTable.list(q))
  }

  updateFederationRelationship(
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship> {
    return this.#write('update federation relationship', (q) =>
      federationTable.update(q, input, nextRefreshAt),
    )
  }

  async deleteFederationRelationship(trustDomain: string): Promise<void> {
    await this.#direct('delete federation relationship', (q) => federationTable.delete(q, trustDomain))
  }

  async recordFederationRefresh(trustDomain: string, refresh: FederationRefreshRecord): Promise<void> {
    await this.#direct('record federation refresh', (q) =>
      federationTable.recordRefresh(q, trustDomain, refresh),
    )
  }

  storeFederatedBundle(
    trustDomain: string,
    bundle: BundleInput,
  ): Promise<{ readonly outcome: FederatedBundleOutcome; readonly record: BundleRecord }> {
    return this.#write('store federated bundle', (q) =>
      federationTable.storeBundle(q, trustDomain, bundle, this.#clock()),
    )
  }

  // ----- approvals (PG migration 7) -----

  createApproval(input: ApprovalInput): Promise<ApprovalRecord> {
    return this.#write(
      'create approval',
      (q) => approvalTable.create(q, input),
      'ERR_INVALID_ARGUMENT',
      'an approval with this id already exists',
    )
  }

  getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.#direct('get approval', (q) => approvalTable.get(q, id))
  }

  listApprovals(filter?: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.#direct('list approvals', (q) => approvalTable.list(q, filter ?? {}))
  }

  decideApproval(id: string, decision: ApprovalDecision): Promise<ApprovalRecord> {
    return this.#write('decide approval', (q) => approvalTable.decide(q, id, decision))
  }

  findCoveringApproval(key: ApprovalKey, now: Date): Promise<ApprovalRecord | undefined> {
    return this.#direct('find covering approval', (q) => approvalTable.covering(q, key, now))
  }

  expireApprovals(now: Date): Promise<ApprovalRecord[]> {
    return this.#write('expire approvals', (q) => approvalTable.expire(q, now, 'the hold timed out'))
  }

  // ----- audit trail (PG migration 5) -----

  appendAuditRecords(records: readonly AuditRecord[], expected: AuditHead | undefined): Promise<boolean> {
    if (records.length === 0) return Promise.resolve(true)
    return this.#write('append audit records', (q) => auditTable.append(q, records, expected))
  }

  auditHead(): Promise<AuditHead | undefined> {
    return this.#direct('audit head', (q) => auditTable.head(q))
  }

  listAuditRecords(filter?: AuditFilter): Promise<AuditRecord[]> {
    return this.#direct('list audit records', (q) => auditTable.list(q, filter ?? {}))
  }

  readAuditRecords(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    return this.#direct('read audit records', (q) => auditTable.read(q, afterSeq, limit))
  }

  // ----- policy versions (PG migration 6) -----

  addPolicyVersion(input: PolicyVersionInput): Promise<PolicyVersionRecord> {
    return this.#write('add policy version', (q) => policyTable.add(q, input, this.#clock()))
  }

  getPolicyVersion(version?: number): Promise<PolicyVersionRecord | undefined> {
    return this.#direct('get policy version', (q) => policyTable.get(q, version))
  }

  listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return this.#direct('list policy versions', (q) => policyTable.list(q))
  }

  // ----- several servers on one datastore -----

  watchChanges(listener: (changes: ReadonlySet<DataChange>) => void): () => void {
    return this.#changes.subscribe(listener)
  }

  async runExclusive<T>(
    name: string,
    job: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const what = `run ${name} exclusively`
    // a session-level lock on one pooled connection, held (with the connection) for the job
    const client = await this.#guard(what, () => this.#pool.connect())
    let locked = false
    let broken: Error | undefined
    try {
      const got = await this.#guard(what, () =>
        client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [
          EXCLUSIVE_JOB_CLASS,
          name,
        ]),
      )
      if (got.rows[0]?.locked !== true) return { ran: false }
      locked = true
      return { ran: true, value: await job() }
    } catch (e) {
      if (!locked) broken = e as Error // the connection may be unusable: the pool drops it
      throw e
    } finally {
      if (locked) {
        try {
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [EXCLUSIVE_JOB_CLASS, name])
        } catch (e) {
          broken = e as Error // ending the session releases the lock
        }
      }
      client.release(broken)
    }
  }

  // ----- lifecycle -----

  async integrityCheck(): Promise<void> {
    const problems = await this.#read('integrity check', async (q) => {
      const found = (await entryTable.inconsistentIds(q)).map(
        (id) => `entry ${id} has missing or stray selectors`,
      )
      const version = await pgSchemaVersion(q)
      if (version !== PG_MIGRATIONS.length)
        found.push(`schema version ${version}, expected ${PG_MIGRATIONS.length}`)
      return found
    })
    if (problems.length > 0) {
      throw new SigilError('ERR_DATASTORE', `datastore is inconsistent: ${problems.slice(0, 10).join('; ')}`)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#changes.close()
    await this.#pool.end()
  }
}

/** The start-up error for a failed open: what went wrong and where, never the password. */
function openError(e: unknown, where: string): unknown {
  const state = sqlState(e)
  if (state === '28P01' || state === '28000') {
    return new SigilError(
      'ERR_DATASTORE',
      `datastore: PostgreSQL at ${where} refused the credentials (SQLSTATE ${state}); check the user and password`,
      { cause: e },
    )
  }
  if (state === '3D000') {
    return new SigilError(
      'ERR_DATASTORE',
      `datastore: the database of ${where} does not exist (SQLSTATE 3D000)`,
      {
        cause: e,
      },
    )
  }
  if (state === undefined && !isUnreachable(e) && e instanceof Error && /password/i.test(e.message)) {
    return new SigilError(
      'ERR_DATASTORE',
      `datastore: PostgreSQL at ${where} asks for a password and none was given ` +
        '(set it in SIGIL_DATASTORE, the config file, PGPASSWORD or ~/.pgpass)',
      { cause: e },
    )
  }
  const translated = translatePgError(e, { what: 'open' })
  if (translated instanceof SigilError && translated.code === 'ERR_UNAVAILABLE') {
    const code = (e as { code?: unknown }).code
    const why = sqlState(e) ? `SQLSTATE ${sqlState(e)}` : typeof code === 'string' ? code : 'connection lost'
    return new SigilError('ERR_UNAVAILABLE', `datastore: cannot reach PostgreSQL at ${where} (${why})`, {
      cause: e,
    })
  }
  if (translated instanceof SigilError && translated.code === 'ERR_DATASTORE') {
    return new SigilError(
      'ERR_DATASTORE',
      `datastore: cannot use PostgreSQL at ${where} (${translated.message})`,
      {
        cause: e,
      },
    )
  }
  return translated
}
