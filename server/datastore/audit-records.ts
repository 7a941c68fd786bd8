/**
 * The audit trail's record types (issue 14 item 7), part of the `DataStore` contract
 * (`datastore.ts`, section "audit trail"). A record is sealed by `server/audit/audit-chain.ts`
 * before it reaches a backend: its `hash` covers every other field plus `prevHash`, the hash
 * of the record before it, so the stored rows form one hash chain. Backends store the fields
 * exactly as given (the two JSON texts byte for byte) and never compute hashes themselves.
 */

/** What the audit trail says about a decision. */
export type AuditDecision = 'allow' | 'deny' | 'hold' | 'info'

/** Every audit decision, for validation. */
export const AUDIT_DECISIONS: ReadonlySet<string> = new Set(['allow', 'deny', 'hold', 'info'])

/** One audit record, sealed and numbered. */
export interface AuditRecord {
  /** 1, 2, 3, … with no gaps: the record's place in the chain. */
  readonly seq: number
  /** When it happened, milliseconds since the Unix epoch. */
  readonly at: number
  /** What happened, e.g. `x509_svid_issued`, `admin_operation`, `task_begun`, `policy_decision`. */
  readonly kind: string
  readonly decision: AuditDecision
  /** The SPIFFE ID the record is about (`''` when none). */
  readonly spiffeId: string
  /** The task the record is about (`''` when none). */
  readonly taskId: string
  /** The X.509 serial (lowercase hex) or JWT `jti` the record is about (`''` when none). */
  readonly serialOrJti: string
  /** JSON text of who asked: `{"uid","pid","exe"}` for an admin caller, `{"agent_id"}` for an agent, or `''`. */
  readonly actor: string
  /** JSON text of an object with the rest (canonical: keys sorted), `'{}'` when nothing. */
  readonly details: string
  /** The previous record's `hash`; the genesis value for seq 1. */
  readonly prevHash: string
  /** Lowercase hex SHA-256 over the record's canonical encoding (see audit-chain.ts). */
  readonly hash: string
}

/** The last record of the chain: where the next append continues. */
export interface AuditHead {
  readonly seq: number
  readonly hash: string
}

/** Filter for {@link AuditRecord}s; every given field must match. */
export interface AuditFilter {
  /** Only records with `at >= since` (ms). */
  readonly since?: number
  readonly spiffeId?: string
  readonly taskId?: string
  readonly serialOrJti?: string
  readonly decision?: AuditDecision
  /** Only records whose kind starts with this. */
  readonly kindPrefix?: string
  /** At most this many (the newest); 0 or absent: no limit. */
  readonly limit?: number
}
