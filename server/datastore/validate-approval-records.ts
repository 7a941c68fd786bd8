/**
 * The approval methods' argument checks, once for every backend (applied by
 * `validated-data-store.ts`): a caller's bug is a TypeError.
 */
import {
  APPROVAL_STATUSES,
  type ApprovalDecision,
  type ApprovalFilter,
  type ApprovalInput,
  type ApprovalKey,
} from './approval-record.js'
import { checkDate, checkString } from './validate-records.js'

/** Longest reason kept (characters). */
const MAX_REASON_CHARS = 1024

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
