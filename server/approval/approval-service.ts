/**
 * Human approval (README "Approvals"): a permit policy annotated `@approval("required")` holds a
 * request at the agent; the agent asks this service (agent API `HoldForApproval`), which records
 * a pending approval and answers when an operator approves or denies it (admin API
 * `ApproveApproval` / `DenyApproval`, `sigil-server approval ...`) or when the hold times out
 * (expired). An approval covers exactly its principal + action + resource (+ task): while an
 * approved one is valid, an identical hold is released at once without a new approval.
 *
 * The server's own signing check (`signingHold`) holds nothing: it passes a request an approved
 * approval covers (the one the agent just waited for) and refuses any other held one. `approve`
 * without `--for` covers the held request only: the server whose waiter was released lets that
 * request's signing check through once, within {@link HELD_REQUEST_GRACE_SECONDS}. A waiter that goes away
 * (the agent's call cancelled: the workload left) ends its hold at once, recorded as expired.
 * Every step is an audit record (`approval_requested|granted|denied|expired`, with the policies
 * and, for a decision, the admin caller).
 *
 * Trust: the agent is authenticated by the agent API (its SVID) and is trusted to have verified
 * the caller's credentials; operators are whoever can reach the admin socket. Waiters live in
 * this process; a decision made through another server on the same datastore is seen by polling.
 */
import { randomUUID } from 'node:crypto'
import { SigilError } from '../../certs/errors.js'
import type { Log } from '../../common/logging/logger.js'
import { approvalKeyOf, type HoldHandler, holdRefused } from '../../common/policy/policy-point.js'
import type { AuditActor, AuditSink } from '../audit/audit-event.js'
import type { ApprovalKey, ApprovalRecord } from '../datastore/approval-record.js'
import type { DataStore } from '../datastore/datastore.js'

/** Longest hold a caller may ask for. */
export const MAX_HOLD_SECONDS = 3600
/** Longest `approval approve --for`. */
export const MAX_APPROVAL_FOR_SECONDS = 30 * 24 * 3600
/**
 * A released hold: how long its request has to reach the signing check, which lets it through
 * once (`approve` without `--for` covers nothing else).
 */
export const HELD_REQUEST_GRACE_SECONDS = 30
/** The datastore calls the service makes. */
export type ApprovalDataStore = Pick<
  DataStore,
  'createApproval' | 'getApproval' | 'decideApproval' | 'findCoveringApproval' | 'expireApprovals'
>

/** What the service needs. */
export interface ApprovalServiceConfig {
  readonly datastore: ApprovalDataStore
  readonly logger: Log
  readonly clock: () => Date
  /** Seam for tests; default `randomUUID`. */
  readonly newId?: () => string
  /** Where approval_requested|granted|denied|expired are recorded; absent: logged only. */
  readonly audit?: AuditSink
}

/** The policy ids a hold's reason names (`approval required by policy "a", "b"`). */
export function policyIdsOfReason(reason: string): string[] {
  const ids: string[] = []
  for (const m of reason.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    try {
      ids.push(JSON.parse(`"${m[1]}"`) as string)
    } catch {
      ids.push(m[1] ?? '')
    }
  }
  return ids
}

function keyText(k: ApprovalKey): string {
  return JSON.stringify([k.principal, k.action, k.resource, k.taskId])
}

const AUDIT_KIND = {
  pending: 'approval_requested',
  approved: 'approval_granted',
  denied: 'approval_denied',
  expired: 'approval_expired',
} as const
const AUDIT_DECISION = { pending: 'hold', approved: 'allow', denied: 'deny', expired: 'deny' } as const

/** A hold to wait on. */
export interface HoldRequest extends ApprovalKey {
  /** Why: the policies that asked for approval. */
  readonly reason: string
  readonly timeoutSeconds: number
}

interface Waiter {
  readonly resolve: (a: ApprovalRecord) => void
}

/**
 * Records holds, wakes their waiters on a decision, expires them on time.
 *
 * @example
 * const approvals = new ApprovalService({ datastore, logger, clock })
 * const outcome = await approvals.hold({ principal, action: 'CallTool', resource: 'Sigil::Tool::"payments"', taskId: '', reason, timeoutSeconds: 300 })
 * // elsewhere: await approvals.approve(outcome.id, 600, 'uid 1000')
 */
export class ApprovalService {
  readonly #ds: ApprovalDataStore
  readonly #logger: Log
  readonly #clock: () => Date
  readonly #newId: () => string
  readonly #audit: AuditSink | undefined
  readonly #waiters = new Map<string, Set<Waiter>>()
  readonly #timers = new Set<NodeJS.Timeout>()
  /** Why each approval decided here was held (its policies), for the decision's audit record. */
  readonly #heldFor = new Map<string, string>()
  /** Holds released here, by key, awaiting their one signing check (see {@link HELD_REQUEST_GRACE_SECONDS}). */
  readonly #released = new Map<string, { approval: ApprovalRecord; until: number }>()
  /** The expiry timer of each pending approval held here (cleared by its decision). */
  readonly #expiries = new Map<string, NodeJS.Timeout>()
  #closed = false

  constructor(cfg: ApprovalServiceConfig) {
    this.#ds = cfg.datastore
    this.#logger = cfg.logger
    this.#clock = cfg.clock
    this.#newId = cfg.newId ?? randomUUID
    this.#audit = cfg.audit
  }

  /**
   * The server's `onHold` for signing requests: passes a request an approved approval covers
   * now (exactly its principal + action + resource + task), refuses any other held one (the
   * agent holds and asks; the server does not hold a signing call a second time).
   */
  signingHold(): HoldHandler {
    return async (check, decision) => {
      const key = approvalKeyOf(check)
      const covering =
        (await this.#ds.findCoveringApproval(key, check.now)) ?? this.#takeReleased(key, check.now)
      if (covering !== undefined) {
        this.#logger.debug(
          { approval_id: covering.id, spiffe_id: key.principal, action: key.action },
          'signing request covered by an approval',
        )
        return { ...decision, decision: 'allow' }
      }
      throw holdRefused(decision, ': no approval covers this request')
    }
  }

  /** The approval that released a hold with this key here, once, within the grace (then forgotten). */
  #takeReleased(key: ApprovalKey, now: Date): ApprovalRecord | undefined {
    this.#pruneReleased(now.getTime())
    const k = keyText(key)
    const r = this.#released.get(k)
    this.#released.delete(k)
    return r?.approval
  }

  /** Forgets released holds whose request never came within the grace. */
  #pruneReleased(nowMs: number): void {
    for (const [k, r] of this.#released) if (r.until <= nowMs) this.#released.delete(k)
  }

  /** Records one step of an approval in the audit trail (not awaited; a failure is logged). */
  #note(a: ApprovalRecord, actor?: AuditActor): void {
    this.#audit?.note({
      kind: AUDIT_KIND[a.status],
      decision: AUDIT_DECISION[a.status],
      spiffeId: a.principal,
      ...(a.taskId !== '' ? { taskId: a.taskId } : {}),
      ...(actor !== undefined ? { actor } : {}),
      details: {
        approval_id: a.id,
        action: a.action,
        resource: a.resource,
        policies: policyIdsOfReason(a.status === 'pending' ? a.reason : (this.#heldFor.get(a.id) ?? '')),
        reason: a.reason,
        ...(a.decidedBy !== '' ? { decided_by: a.decidedBy } : {}),
        valid_until: a.validUntil.toISOString(),
      },
    })
  }

  /** Expires holds left pending by an earlier run (call at start). */
  async expireStale(): Promise<number> {
    const expired = await this.#ds.expireApprovals(this.#clock())
    for (const a of expired) {
      this.#logger.info({ approval_id: a.id }, 'approval expired')
      this.#note(a)
    }
    return expired.length
  }

  /**
   * Resolves the approval that decides this hold: an approved one that already covers it, or a
   * new pending one once an operator decides or it expires (status `expired`). `signal` aborts
   * the wait (the agent went away); the pending approval stays until it expires.
   */
  async hold(req: HoldRequest, signal?: AbortSignal): Promise<ApprovalRecord> {
    if (this.#closed) throw new SigilError('ERR_UNAVAILABLE', 'the server is shutting down')
    const timeout = req.timeoutSeconds
    if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > MAX_HOLD_SECONDS)
      throw new SigilError('ERR_INVALID_ARGUMENT', `timeout_seconds must be 1..${MAX_HOLD_SECONDS}`)
    const key: ApprovalKey = {
      principal: req.principal,
      action: req.action,
      resource: req.resource,
      taskId: req.taskId,
    }
    const now = this.#clock()
    const covering = await this.#ds.findCoveringApproval(key, now)
    if (covering !== undefined) return covering
    const pending = await this.#ds.createApproval({
      ...key,
      id: this.#newId(),
      reason: req.reason,
      requestedAt: now,
      validUntil: new Date(now.getTime() + timeout * 1000),
    })
    this.#logger.info(
      { approval_id: pending.id, spiffe_id: key.principal, action: key.action, resource: key.resource },
      'request held for approval',
    )
    this.#note(pending)
    this.#heldFor.set(pending.id, req.reason)
    const answer = await this.#wait(pending, signal)
    if (answer.status === 'approved') {
      this.#pruneReleased(this.#clock().getTime())
      this.#released.set(keyText(key), {
        approval: answer,
        until: this.#clock().getTime() + HELD_REQUEST_GRACE_SECONDS * 1000,
      })
    }
    return answer
  }

  /**
   * Approves a pending hold; identical requests are covered for `forSeconds` (0: only the held
   * one). `actor`: the admin caller, for the audit.
   */
  async approve(
    id: string,
    forSeconds: number,
    decidedBy: string,
    actor?: AuditActor,
  ): Promise<ApprovalRecord> {
    if (!Number.isSafeInteger(forSeconds) || forSeconds < 0 || forSeconds > MAX_APPROVAL_FOR_SECONDS)
      throw new SigilError('ERR_INVALID_ARGUMENT', `for_seconds must be 0..${MAX_APPROVAL_FOR_SECONDS}`)
    const now = await this.#pendingAt(id)
    return this.#decided(
      await this.#ds.decideApproval(id, {
        status: 'approved',
        reason: '',
        decidedBy,
        decidedAt: now,
        validUntil: new Date(now.getTime() + forSeconds * 1000),
      }),
      actor,
    )
  }

  /** Denies a pending hold with a reason the caller sees. `actor`: the admin caller, for the audit. */
  async deny(id: string, reason: string, decidedBy: string, actor?: AuditActor): Promise<ApprovalRecord> {
    if (reason.trim() === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'a reason is required')
    const now = await this.#pendingAt(id)
    return this.#decided(
      await this.#ds.decideApproval(id, { status: 'denied', reason, decidedBy, decidedAt: now }),
      actor,
    )
  }

  /**
   * Wakes the waiters of holds decided through another server on the same datastore; holds still
   * pending keep waiting. The server's change fan-out (`server/cluster/change-fanout.ts`) calls it
   * on every approvals change: within a second on PostgreSQL (LISTEN/NOTIFY, 5 s reconcile as the
   * fallback), 200 ms on SQLite.
   */
  async refresh(): Promise<void> {
    for (const id of [...this.#waiters.keys()]) {
      const a = await this.#ds.getApproval(id)
      if (a !== undefined && a.status !== 'pending' && this.#waiters.has(id)) this.#wake(a)
    }
  }

  /** Ends every wait (each waiter gets its approval as stored) and stops the timers. */
  close(): void {
    this.#closed = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#expiries.clear()
    this.#released.clear()
    for (const [id, set] of this.#waiters) {
      void this.#ds.getApproval(id).then(
        (a) => {
          if (a) for (const w of set) w.resolve(a)
        },
        () => {},
      )
    }
    this.#waiters.clear()
  }

  /** `now`, after checking that `id` is pending and its hold has not ended (an ended one is expired here). */
  async #pendingAt(id: string): Promise<Date> {
    const now = this.#clock()
    const current = await this.#ds.getApproval(id)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `approval ${id.slice(0, 128)} not found`)
    if (!this.#heldFor.has(current.id)) this.#heldFor.set(current.id, current.reason)
    if (current.status !== 'pending')
      throw new SigilError('ERR_APPROVAL_DECIDED', `approval ${current.id} is already ${current.status}`)
    if (current.validUntil.getTime() <= now.getTime()) {
      await this.#expire(current.id)
      throw new SigilError(
        'ERR_APPROVAL_DECIDED',
        `approval ${current.id} has expired: its hold ended at ${current.validUntil.toISOString()}`,
      )
    }
    return now
  }

  #decided(a: ApprovalRecord, actor?: AuditActor): ApprovalRecord {
    this.#logger.info(
      { approval_id: a.id, status: a.status, decided_by: a.decidedBy, spiffe_id: a.principal },
      `approval ${a.status}`,
    )
    this.#note(a, actor)
    this.#wake(a)
    return a
  }

  /** A decided approval: its expiry timer stops and its waiters get it. */
  #wake(a: ApprovalRecord): void {
    this.#heldFor.delete(a.id)
    const expiry = this.#expiries.get(a.id)
    if (expiry !== undefined) {
      clearTimeout(expiry)
      this.#timers.delete(expiry)
      this.#expiries.delete(a.id)
    }
    const set = this.#waiters.get(a.id)
    this.#waiters.delete(a.id)
    for (const w of set ?? []) w.resolve(a)
  }

  async #expire(id: string, reason = 'the hold timed out'): Promise<ApprovalRecord | undefined> {
    try {
      if (!this.#heldFor.has(id)) {
        const held = await this.#ds.getApproval(id)
        if (held !== undefined) this.#heldFor.set(id, held.reason)
      }
      return this.#decided(
        await this.#ds.decideApproval(id, {
          status: 'expired',
          reason,
          decidedBy: 'server',
          decidedAt: this.#clock(),
        }),
      )
    } catch (e) {
      this.#heldFor.delete(id)
      if (e instanceof SigilError && e.code === 'ERR_APPROVAL_DECIDED') return undefined
      throw e
    }
  }

  /** Expires the approval at the end of its hold, whether or not anyone still waits. */
  #scheduleExpiry(pending: ApprovalRecord): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer)
        this.#expiries.delete(pending.id)
        this.#expire(pending.id).catch((e: unknown) => {
          this.#logger.error({ approval_id: pending.id, err: String(e) }, 'cannot expire an approval')
        })
      },
      Math.max(0, pending.validUntil.getTime() - this.#clock().getTime()),
    )
    this.#timers.add(timer)
    this.#expiries.set(pending.id, timer)
  }

  #wait(pending: ApprovalRecord, signal?: AbortSignal): Promise<ApprovalRecord> {
    this.#scheduleExpiry(pending)
    return new Promise<ApprovalRecord>((resolve, reject) => {
      const done = (): void => {
        const set = this.#waiters.get(pending.id)
        set?.delete(waiter)
        if (set?.size === 0) this.#waiters.delete(pending.id)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        resolve: (a) => {
          done()
          resolve(a)
        },
      }
      const onAbort = (): void => {
        done()
        reject(new SigilError('ERR_UNAVAILABLE', 'the wait was cancelled'))
        // the caller went away: nobody is left to release, so the hold ends now (recorded)
        if (!this.#waiters.has(pending.id) && !this.#closed) {
          this.#expire(pending.id, 'the caller went away before a decision').catch((e: unknown) => {
            this.#logger.error({ approval_id: pending.id, err: String(e) }, 'cannot expire an approval')
          })
        }
      }
      const set = this.#waiters.get(pending.id) ?? new Set<Waiter>()
      this.#waiters.set(pending.id, set)
      set.add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
      // a decision made through another server on the same datastore arrives through refresh(),
      // which the server's change fan-out calls on every approvals change
    })
  }
}
