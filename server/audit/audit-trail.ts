/**
 * The audit trail (issue 14 item 7): every decision the server makes about a credential — an
 * X509-SVID, JWT-SVID or task credential issued, a signing request refused, a task begun or
 * ended, a revocation, every admin API call with its caller's uid/pid/exe — as an append-only,
 * hash-chained record in the datastore (`audit-chain.ts`) and one JSON log line.
 *
 * **The API other parts call** (the policy and approval code included):
 *
 * ```ts
 * await audit.record({
 *   kind: 'policy_decision', // or 'approval_requested' | 'approval_granted' | 'approval_denied'
 *                            // | 'approval_expired' | 'task_drift' | any kind below
 *   decision: 'deny',        // 'allow' | 'deny' | 'hold' | 'info'
 *   spiffeId: 'spiffe://example.org/executor',
 *   taskId: '6f2d8c4e-…',    // optional
 *   serialOrJti: '…',        // optional: the credential the record is about
 *   actor: { agentId },      // optional: { uid, pid, exe } for an admin caller
 *   details: { policies: ['deny-payments-at-night'], action: 'FetchJWTSVID', resource: '…' },
 * })
 * ```
 *
 * `record` resolves once the record is durable (committed with the WAL synced), with its
 * `seq` and `hash`; it rejects when it could not be stored (e.g. `ERR_DATASTORE_FULL`), so a
 * caller that must not act unrecorded (issuance) awaits it. One that only reports (a refusal)
 * calls `audit.note(event)` instead: same record, not awaited, a failure logged. `details` are written as canonical JSON
 * without secrets (`audit-details.ts` drops every field named like a token, key, CSR or SVID).
 *
 * Speed: appends are group-committed. Records arriving in the same turn of the event loop
 * (and while a commit is running) are sealed together and stored in one transaction with one
 * WAL sync; the chain order is the order of `record` calls. If another writer moved the head
 * (a second server on the same database), the batch is re-sealed on the new head and retried.
 *
 * Trust: the trail is as trustworthy as the datastore's writers. The chain shows a changed,
 * inserted or deleted record to `verify`, but not a rewrite that recomputes every later hash or
 * a cut of the newest records — unless checked against an anchor (`seq:hash`) kept elsewhere.
 */
import { SigilError } from '../../certs/errors.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { AUDIT_DECISIONS } from '../datastore/audit-records.js'
import type { AuditFilter, AuditHead, AuditRecord, DataStore } from '../datastore/datastore.js'
import {
  AuditChainChecker,
  type AuditChainProblem,
  type AuditRecordContent,
  sealAuditRecords,
} from './audit-chain.js'
import { auditJson } from './audit-details.js'
import type { AuditEvent, AuditSink } from './audit-event.js'

export type { AuditActor, AuditEvent, AuditKind, AuditSink } from './audit-event.js'

/** What the trail records into: the `DataStore`'s audit section. */
export type AuditDataStore = Pick<
  DataStore,
  'appendAuditRecords' | 'auditHead' | 'listAuditRecords' | 'readAuditRecords'
>

/** How to build an {@link AuditTrail}. */
export interface AuditTrailOptions {
  readonly datastore: AuditDataStore
  readonly logger: Log
  readonly clock?: () => Date
  /** Told of every event as it is submitted (metrics: decisions by kind). */
  readonly onEvent?: (event: AuditEvent) => void
}

/** The outcome of {@link AuditTrail.verify}. */
export interface AuditVerifyResult {
  readonly ok: boolean
  /** Records checked. */
  readonly count: number
  /** The last record checked: an anchor to keep elsewhere and pass back later. */
  readonly head: AuditHead | undefined
  /** Broken links, the first one first (at most 100). */
  readonly problems: readonly AuditChainProblem[]
}

/** How many times a batch is re-sealed when other writers keep moving the head. */
const MAX_APPEND_ATTEMPTS = 16
/** Records read per page by verify. */
const VERIFY_PAGE = 1000

interface Pending {
  readonly content: AuditRecordContent
  readonly event: AuditEvent
  readonly resolve: (r: AuditRecord) => void
  readonly reject: (e: unknown) => void
}

/**
 * The audit trail service: group-committed, hash-chained appends plus list and verify.
 *
 * @example
 * const audit = new AuditTrail({ datastore, logger })
 * await audit.record({ kind: 'x509_svid_issued', decision: 'allow', spiffeId, serialOrJti: serial })
 */
export class AuditTrail implements AuditSink {
  readonly #ds: AuditDataStore
  readonly #logger: Log
  readonly #clock: () => Date
  #queue: Pending[] = []
  #scheduled = false
  #flushing: Promise<void> | undefined
  #head: AuditHead | undefined
  #headKnown = false
  readonly #onEvent: ((event: AuditEvent) => void) | undefined

  constructor(opts: AuditTrailOptions) {
    this.#ds = opts.datastore
    this.#logger = opts.logger
    this.#clock = opts.clock ?? (() => new Date())
    this.#onEvent = opts.onEvent
  }

  /** Appends one record; resolves once it is durable (see the module comment). */
  record(event: AuditEvent): Promise<AuditRecord> {
    this.#onEvent?.(event)
    const content = toContent(event, this.#clock())
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ content, event, resolve, reject })
      this.#schedule()
    })
  }

  /** Appends without waiting; a failure is logged by the flush, never thrown. */
  note(event: AuditEvent): void {
    this.record(event).catch(() => {})
  }

  /** Resolves once every record made so far has been stored (or failed); for shutdown. */
  async drain(): Promise<void> {
    while (this.#scheduled || this.#flushing !== undefined) {
      await new Promise((r) => setImmediate(r))
      await this.#flushing
    }
  }

  /** Records matching `filter`, in chain order. */
  list(filter?: AuditFilter): Promise<AuditRecord[]> {
    return this.#ds.listAuditRecords(filter)
  }

  /**
   * Walks the whole chain from record 1. With `anchor`, also checks that record `anchor.seq`
   * still exists with `anchor.hash` (catching a cut of the newest records or a full re-chain).
   */
  async verify(anchor?: AuditHead): Promise<AuditVerifyResult> {
    await this.#flushing
    const checker = new AuditChainChecker()
    let anchorHash: string | undefined
    for (let after = 0; ; ) {
      const page = await this.#ds.readAuditRecords(after, VERIFY_PAGE)
      for (const r of page) {
        checker.check(r)
        if (anchor !== undefined && r.seq === anchor.seq) anchorHash = r.hash
      }
      if (page.length < VERIFY_PAGE) break
      after = page[page.length - 1]!.seq
    }
    const problems = [...checker.problems]
    if (anchor !== undefined && anchorHash !== anchor.hash) {
      problems.push({
        seq: anchor.seq,
        kind: anchorHash === undefined ? 'missing' : 'content',
        message:
          anchorHash === undefined
            ? `the anchor record ${anchor.seq} is gone: the newest records were cut off`
            : `record ${anchor.seq} no longer has the anchored hash: the chain was rewritten from there or earlier`,
      })
    }
    return { ok: problems.length === 0, count: checker.count, head: checker.head, problems }
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // one batch per turn of the event loop: what arrives meanwhile joins it
    setImmediate(() => {
      this.#scheduled = false
      const previous = this.#flushing ?? Promise.resolve()
      const run = previous.then(() => this.#flush())
      this.#flushing = run
      void run.finally(() => {
        if (this.#flushing === run) this.#flushing = undefined
      })
    })
  }

  async #flush(): Promise<void> {
    const batch = this.#queue
    this.#queue = []
    if (batch.length === 0) return
    let stored: AuditRecord[] | undefined
    try {
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS && stored === undefined; attempt++) {
        if (!this.#headKnown || attempt > 0) {
          this.#head = await this.#ds.auditHead()
          this.#headKnown = true
        }
        const sealed = sealAuditRecords(
          this.#head,
          batch.map((p) => p.content),
        )
        if (await this.#ds.appendAuditRecords(sealed, this.#head)) {
          stored = sealed
          const last = sealed[sealed.length - 1]!
          this.#head = { seq: last.seq, hash: last.hash }
        }
      }
      if (stored === undefined) {
        throw new SigilError('ERR_UNAVAILABLE', 'audit trail: other writers kept moving the chain head')
      }
    } catch (e) {
      this.#headKnown = false
      this.#logger.error({ err: errorText(e), records: batch.length }, 'audit records could not be stored')
      for (const p of batch) p.reject(e)
      return
    }
    for (const [i, p] of batch.entries()) {
      const r = stored[i]!
      this.#log(r)
      p.resolve(r)
    }
  }

  #log(r: AuditRecord): void {
    this.#logger.info(
      {
        audit_seq: r.seq,
        audit_hash: r.hash,
        kind: r.kind,
        decision: r.decision,
        ...(r.spiffeId ? { spiffe_id: r.spiffeId } : {}),
        ...(r.taskId ? { task_id: r.taskId } : {}),
        ...(r.serialOrJti ? { serial_or_jti: r.serialOrJti } : {}),
        ...(r.actor ? { actor: JSON.parse(r.actor) as unknown } : {}),
        details: JSON.parse(r.details) as unknown,
      },
      'audit',
    )
  }
}

function toContent(e: AuditEvent, now: Date): AuditRecordContent {
  if (typeof e !== 'object' || e === null) throw new TypeError('audit event must be an object')
  if (typeof e.kind !== 'string' || e.kind === '')
    throw new TypeError('audit event kind must be a non-empty string')
  if (!AUDIT_DECISIONS.has(e.decision))
    throw new TypeError('audit decision must be allow, deny, hold or info')
  let actor = ''
  if (e.actor !== undefined) {
    actor =
      'agentId' in e.actor
        ? auditJson({ agent_id: e.actor.agentId })
        : auditJson({ uid: e.actor.uid, pid: e.actor.pid, exe: e.actor.exe })
  }
  return {
    at: now.getTime(),
    kind: e.kind,
    decision: e.decision,
    spiffeId: e.spiffeId ?? '',
    taskId: e.taskId ?? '',
    serialOrJti: e.serialOrJti ?? '',
    actor,
    details: auditJson(e.details),
  }
}
