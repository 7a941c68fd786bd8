/**
 * Human approvals (README "Approvals"): a permit policy annotated `@approval("required")` holds a
 * request; the hold is a pending approval an operator approves or denies, or that expires. An
 * approved approval covers exactly its principal + action + resource (+ task) until `validUntil`.
 */

/** Where an approval stands. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired'
/** Every {@link ApprovalStatus}. */
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'expired']

/** One approval. */
export interface ApprovalRecord {
  readonly id: string
  /** The caller's SPIFFE ID. */
  readonly principal: string
  /** The Cedar action, e.g. `CallTool`. */
  readonly action: string
  /** The resource as `Type::"id"`. */
  readonly resource: string
  /** The task (Txn-Token `txn`), `''` when none. */
  readonly taskId: string
  readonly status: ApprovalStatus
  /** Why it was held (pending/approved), the operator's reason (denied), why it expired. */
  readonly reason: string
  readonly requestedAt: Date
  readonly decidedAt?: Date
  /** The admin caller who decided (`''` until decided; `server` for an expiry). */
  readonly decidedBy: string
  /** Pending: when the hold expires. Approved: until when identical requests are covered. */
  readonly validUntil: Date
}

/** What a caller supplies to record a new hold. */
export type ApprovalInput = Pick<
  ApprovalRecord,
  'id' | 'principal' | 'action' | 'resource' | 'taskId' | 'reason' | 'requestedAt' | 'validUntil'
>

/** A decision on a pending approval. */
export interface ApprovalDecision {
  readonly status: 'approved' | 'denied' | 'expired'
  readonly reason: string
  readonly decidedBy: string
  readonly decidedAt: Date
  /** Approved: until when identical requests are covered. */
  readonly validUntil?: Date
}

/** Filter for listing approvals; every given field must match. */
export interface ApprovalFilter {
  readonly status?: ApprovalStatus
  /** At most this many, newest first. */
  readonly limit?: number
}

/** The request an approval covers. */
export interface ApprovalKey {
  readonly principal: string
  readonly action: string
  readonly resource: string
  readonly taskId: string
}
