/**
 * Approvals on SQLite: one `approvals` row per hold. Runs inside the transactions and error
 * translation of `SqliteDataStore`; inputs arrive checked by `validate-approval-records.ts`.
 */
import { SigilError } from '../../../certs/errors.js'
import type {
  ApprovalDecision,
  ApprovalFilter,
  ApprovalInput,
  ApprovalKey,
  ApprovalRecord,
} from '../approval-record.js'
import { type ApprovalRow, approvalFromRow } from '../record-rows.js'
import type { Params, Sql } from './sql.js'

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
    return row === undefined ? undefined : approvalFromRow(row)
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
      .map(approvalFromRow)
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
    return row === undefined ? undefined : approvalFromRow(row)
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
