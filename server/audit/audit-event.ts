/**
 * What other parts of the server hand to the audit trail (see audit-trail.ts for the service and
 * the API's documentation): an {@link AuditEvent}, through the narrow {@link AuditSink}.
 */
import type { AuditDecision, AuditRecord } from '../datastore/datastore.js'

/** The kinds Sigil itself records; other parts may add their own. */
export type AuditKind =
  | 'x509_svid_issued'
  | 'jwt_svid_issued'
  | 'signing_refused'
  | 'task_begun'
  | 'task_refused'
  | 'task_jwt_issued'
  | 'task_jwt_refused'
  | 'task_end_refused'
  | 'task_ended'
  | 'revocation'
  | 'admin_operation'
  | 'policy_decision'
  | 'approval_requested'
  | 'approval_granted'
  | 'approval_denied'
  | 'approval_expired'
  | 'task_drift'

/** Who asked: an admin caller (kernel peer credentials of the admin socket) or an agent. */
export type AuditActor =
  | { readonly uid: number; readonly pid: number; readonly exe: string }
  | { readonly agentId: string }

/** One thing to record. */
export interface AuditEvent {
  readonly kind: AuditKind | (string & {})
  readonly decision: AuditDecision
  readonly spiffeId?: string
  readonly taskId?: string
  /** The X.509 serial (lowercase hex) or JWT `jti` the record is about. */
  readonly serialOrJti?: string
  readonly actor?: AuditActor
  /** Anything else worth keeping (entry, selectors, audience, policies, reasons…); secrets are dropped. */
  readonly details?: Record<string, unknown>
}

/** The narrow interface components that only write records take. */
export interface AuditSink {
  /** Appends; resolves once durable, rejects when the record could not be stored. */
  record(event: AuditEvent): Promise<AuditRecord>
  /** Appends without waiting (for reports such as refusals); a failure is logged, never thrown. */
  note(event: AuditEvent): void
}
