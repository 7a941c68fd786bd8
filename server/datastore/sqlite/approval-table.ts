/**
 * Approvals on SQLite: one `approvals` row per hold. Runs inside the transactions and error
 * translation of `SqliteDataStore`; inputs arrive checked by {@link checkApprovalInput} and
 * friends below.
 */
import { SigilError } from '../../../certs/errors.js'
import {
  APPROVAL_STATUSES,
  type ApprovalDecision,
  type ApprovalFilter,
  type ApprovalInput,
  type ApprovalKey,
  type ApprovalRecord,
  type ApprovalStatus,
} from '../approval-record.js'
import { checkDate, checkString } from '../validate-records.js'
import type { Params, Sql } from './sql.js'

interface ApprovalRow {
  id: string
  principal: string
  action: string
  resource: string
  task_id: string
  status: ApprovalStatus
  reason: string
  requested_at: number
  decided_at: number | null
  decided_by: string
  valid_until: number
}

/** Longest reason kept (characters). */
const MAX_REASON_CHARS = 1024

function toApproval(row: ApprovalRow): ApprovalRecord {
  const a: ApprovalRecord = {
    id: row.id,
    principal: row.principal,
    action: row.action,
    resource: row.resource,
    taskId: row.task_id,
    status: row.status,
    reason: row.reason,
    requestedAt: new Date(row.requested_at),
    decidedBy: row.decided_by,
    validUntil: new Date(row.valid_until),
  }
  return row.decided_at === null ? a : { ...a, decidedAt: new Date(row.decided_at) }
}

function nonEmpty(value: unknown, what: string): string {
  if (checkString(value, what) === '') throw new TypeError(`${what} must not be empty`)
  return value as string
}

/** Checks a new hold (a caller's bug is a TypeError). */
export function checkApprovalInput(a: ApprovalInput): ApprovalInput {
  if (typeof a !== 'object' || a === null) throw new TypeError('approval must be an object')
  return {
    id: nonEmpty(a.id, 'id'),
    principal: nonEmpty(a.principal, 'principal'),
    action: nonEmpty(a.action, 'action'),
    resource: nonEmpty(a.resource, 'resource'),
    taskId: checkString(a.taskId, 'taskId'),
    reason: checkString(a.reason, 'reason').slice(0, MAX_REASON_CHARS),
    requestedAt: checkDate(a.requestedAt, 'requestedAt'),
    validUntil: checkDate(a.validUntil, 'validUntil'),
  }
}

/** Checks a decision. */
export function checkApprovalDecision(d: ApprovalDecision): ApprovalDecision {
  if (typeof d !== 'object' || d === null) throw new TypeError('decision must be an object')
  if (d.status !== 'approved' && d.status !== 'denied' && d.status !== 'expired')
    throw new TypeError('status must be approved, denied or expired')
  const out: ApprovalDecision = {
    status: d.status,
    reason: checkString(d.reason, 'reason').slice(0, MAX_REASON_CHARS),
    decidedBy: checkString(d.decidedBy, 'decidedBy'),
    decidedAt: checkDate(d.decidedAt, 'decidedAt'),
  }
  return d.validUntil === undefined ? out : { ...out, validUntil: checkDate(d.validUntil, 'validUntil') }
}

/** Checks a filter. */
export function checkApprovalFilter(f: ApprovalFilter | undefined): ApprovalFilter {
  if (f === undefined) return {}
  if (f.status !== undefined && !APPROVAL_STATUSES.includes(f.status))
    throw new TypeError(`status must be one of ${APPROVAL_STATUSES.join(', ')}`)
  if (f.limit !== undefined && (!Number.isSafeInteger(f.limit) || f.limit < 1))
    throw new TypeError('limit must be a positive whole number')
  return f
}

/** Checks a key. */
export function checkApprovalKey(k: ApprovalKey): ApprovalKey {
  return {
    principal: nonEmpty(k.principal, 'principal'),
    action: nonEmpty(k.action, 'action'),
    resource: nonEmpty(k.resource, 'resource'),
    taskId: checkString(k.taskId, 'taskId'),
  }
}

/** Approval queries; callers provide transactions and error translation. */
export class ApprovalTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  create(a: ApprovalInput): ApprovalRecord {
    this.#sql.run(
      `INSERT INTO approvals (id, principal, action, resource, task_id, status, reason, requested_at, valid_until)
       VALUES (@id, @principal, @action, @resource, @taskId, 'pending', @reason, @requestedAt, @validUntil)`,
      {
        id: a.id,
        principal: a.principal,
        action: a.action,
        resource: a.resource,
        taskId: a.taskId,
        reason: a.reason,
        requestedAt: a.requestedAt.getTime(),
        validUntil: a.validUntil.getTime(),
      },
    )
    return this.get(a.id)!
  }

  get(id: string): ApprovalRecord | undefined {
    const row = this.#sql.get<ApprovalRow>('SELECT * FROM approvals WHERE id = @id', { id })
    return row === undefined ? undefined : toApproval(row)
  }

  list(filter: ApprovalFilter): ApprovalRecord[] {
    const params: Params = { limit: filter.limit ?? -1 }
    let clause = ''
    if (filter.status !== undefined) {
      clause = 'WHERE status = @status'
      params.status = filter.status
    }
    return this.#sql
      .all<ApprovalRow>(
        `SELECT * FROM approvals ${clause} ORDER BY requested_at DESC, rowid DESC LIMIT @limit`,
        params,
      )
      .map(toApproval)
  }

  /** Decides a pending approval (call inside a write transaction). */
  decide(id: string, d: ApprovalDecision): ApprovalRecord {
    const current = this.get(id)
    if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `approval ${id} not found`)
    if (current.status !== 'pending') {
      throw new SigilError('ERR_APPROVAL_DECIDED', `approval ${id} is already ${current.status}`)
    }
    this.#sql.run(
      `UPDATE approvals SET status = @status, reason = @reason, decided_at = @decidedAt,
         decided_by = @decidedBy, valid_until = @validUntil WHERE id = @id`,
      {
        id,
        status: d.status,
        reason: d.reason === '' ? current.reason : d.reason,
        decidedAt: d.decidedAt.getTime(),
        decidedBy: d.decidedBy,
        validUntil: (d.validUntil ?? current.validUntil).getTime(),
      },
    )
    return this.get(id)!
  }

  /** The approved approval covering `key` at `now` (the one valid longest), or undefined. */
  covering(key: ApprovalKey, now: Date): ApprovalRecord | undefined {
    const row = this.#sql.get<ApprovalRow>(
      `SELECT * FROM approvals WHERE principal = @principal AND action = @action AND resource = @resource
         AND task_id = @taskId AND status = 'approved' AND valid_until > @now
       ORDER BY valid_until DESC LIMIT 1`,
      { ...key, now: now.getTime() },
    )
    return row === undefined ? undefined : toApproval(row)
  }

  /** Marks every pending approval whose hold ended at or before `now` expired; returns them. */
  expire(now: Date, reason: string): ApprovalRecord[] {
    const ids = this.#sql
      .all<{ id: string }>(
        `SELECT id FROM approvals WHERE status = 'pending' AND valid_until <= @now ORDER BY requested_at`,
        { now: now.getTime() },
      )
      .map((r) => r.id)
    return ids.map((id) =>
      this.decide(id, { status: 'expired', reason, decidedBy: 'server', decidedAt: now }),
    )
  }
}
