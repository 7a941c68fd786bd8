/**
 * Approvals on PostgreSQL (PG migration 7 = SQLite 7): one `approvals` row per hold. A decision
 * locks the row first, so two servers deciding the same hold decide one after the other (the
 * second sees it decided). Inputs arrive checked by `validate-approval-records.ts`.
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
import type { Queryable } from './pg-sql.js'

const SELECT_APPROVAL = `SELECT id, principal, action, resource, task_id, status, reason, requested_at, decided_at,
  decided_by, valid_until FROM approvals`

async function getApproval(q: Queryable, id: string, lock = false): Promise<ApprovalRecord | undefined> {
  const row = await q.one<ApprovalRow>(`${SELECT_APPROVAL} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])
  return row === undefined ? undefined : approvalFromRow(row)
}

async function decide(q: Queryable, id: string, d: ApprovalDecision): Promise<ApprovalRecord> {
  const current = await getApproval(q, id, true)
  if (current === undefined) throw new SigilError('ERR_NOT_FOUND', `approval ${id} not found`)
  if (current.status !== 'pending') {
    throw new SigilError('ERR_APPROVAL_DECIDED', `approval ${id} is already ${current.status}`)
  }
  await q.run(
    `UPDATE approvals SET status = $2, reason = $3, decided_at = $4, decided_by = $5, valid_until = $6
     WHERE id = $1`,
    [
      id,
      d.status,
      d.reason === '' ? current.reason : d.reason,
      d.decidedAt.getTime(),
      d.decidedBy,
      (d.validUntil ?? current.validUntil).getTime(),
    ],
  )
  return (await getApproval(q, id))!
}

/** Approval queries; callers provide transactions and error translation. */
export const approvalTable = {
  async create(q: Queryable, a: ApprovalInput): Promise<ApprovalRecord> {
    await q.run(
      `INSERT INTO approvals (id, principal, action, resource, task_id, status, reason, requested_at, valid_until)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)`,
      [
        a.id,
        a.principal,
        a.action,
        a.resource,
        a.taskId,
        a.reason,
        a.requestedAt.getTime(),
        a.validUntil.getTime(),
      ],
    )
    return (await getApproval(q, a.id))!
  },

  get: getApproval,

  async list(q: Queryable, filter: ApprovalFilter): Promise<ApprovalRecord[]> {
    // LIMIT NULL: no limit
    const params: unknown[] = [filter.limit ?? null]
    let clause = ''
    if (filter.status !== undefined) {
      clause = 'WHERE status = $2'
      params.push(filter.status)
    }
    const rows = await q.rows<ApprovalRow>(
      `${SELECT_APPROVAL} ${clause} ORDER BY requested_at DESC, seq DESC LIMIT $1`,
      params,
    )
    return rows.map(approvalFromRow)
  },

  /** Decides a pending approval (inside a write transaction). */
  decide,

  /** The approved approval covering `key` at `now` (the one valid longest), or undefined. */
  async covering(q: Queryable, key: ApprovalKey, now: Date): Promise<ApprovalRecord | undefined> {
    const row = await q.one<ApprovalRow>(
      `${SELECT_APPROVAL} WHERE principal = $1 AND action = $2 AND resource = $3 AND task_id = $4
         AND status = 'approved' AND valid_until > $5
       ORDER BY valid_until DESC LIMIT 1`,
      [key.principal, key.action, key.resource, key.taskId, now.getTime()],
    )
    return row === undefined ? undefined : approvalFromRow(row)
  },

  /** Marks every pending approval whose hold ended at or before `now` expired; returns them (inside a write transaction). */
  async expire(q: Queryable, now: Date, reason: string): Promise<ApprovalRecord[]> {
    const ids = await q.rows<{ id: string }>(
      `SELECT id FROM approvals WHERE status = 'pending' AND valid_until <= $1 ORDER BY requested_at, seq
       FOR UPDATE SKIP LOCKED`,
      [now.getTime()],
    )
    const expired: ApprovalRecord[] = []
    for (const { id } of ids) {
      expired.push(await decide(q, id, { status: 'expired', reason, decidedBy: 'server', decidedAt: now }))
    }
    return expired
  },
}
