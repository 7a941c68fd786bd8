/**
 * Rows → records for the tables whose columns every backend stores alike (times as epoch
 * milliseconds, lists decoded to arrays by the backend first), so SQLite and PostgreSQL turn
 * a row into the same record by the same code; and the entry a write returns.
 */
import type { ApprovalRecord, ApprovalStatus } from './approval-record.js'
import type { AuditRecord } from './audit-records.js'
import type {
  BundleRecord,
  FederationRelationship,
  IssuedSvidRecord,
  PolicyVersionRecord,
  RegistrationEntry,
  RegistrationEntryInput,
  RevocationKind,
  RevocationRecord,
  TaskOutcome,
  TaskRecord,
} from './records.js'

/** A `bundles` row. */
export interface BundleRow {
  trust_domain: string
  spiffe_bundle_json: string
  sequence_number: number
  updated_at: number
}

/** A `revocations` row. */
export interface RevocationRow {
  sequence: number
  kind: RevocationKind
  value: string
  reason: string
  revoked_at: number
  expires_at: number
}

/** An `issued_svids` row, its audience decoded. */
export interface IssuedSvidRow {
  kind: 'x509' | 'jwt'
  serial_or_jti: string
  spiffe_id: string
  entry_id: string
  agent_id: string
  not_before: number
  not_after: number
  audience: string[]
  issued_at: number
}

/** A `tasks` row, its lists decoded. */
export interface TaskRow {
  id: string
  state: 'active' | 'ended'
  outcome: TaskOutcome | ''
  end_reason: string
  spiffe_id: string
  entry_id: string
  agent_id: string
  process_key: string
  subject: string
  purpose: string
  scope: string[]
  act_chain: string[]
  parent_txn: string
  created_at: number
  deadline: number
  ended_at: number | null
}

/** The record of a `bundles` row. */
export function bundleFromRow(row: BundleRow): BundleRecord {
  return {
    trustDomain: row.trust_domain,
    spiffeBundleJson: row.spiffe_bundle_json,
    sequenceNumber: row.sequence_number,
    updatedAt: new Date(row.updated_at),
  }
}

/** The record of a `revocations` row. */
export function revocationFromRow(row: RevocationRow): RevocationRecord {
  return {
    sequence: row.sequence,
    kind: row.kind,
    value: row.value,
    reason: row.reason,
    revokedAt: new Date(row.revoked_at),
    expiresAt: new Date(row.expires_at),
  }
}

/** The record of an `issued_svids` row. */
export function issuedSvidFromRow(row: IssuedSvidRow): IssuedSvidRecord {
  return {
    kind: row.kind,
    serialOrJti: row.serial_or_jti,
    spiffeId: row.spiffe_id,
    entryId: row.entry_id,
    agentId: row.agent_id,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    audience: row.audience,
    issuedAt: new Date(row.issued_at),
  }
}

/** The record of a `tasks` row (`endedAt` only once ended). */
export function taskFromRow(row: TaskRow): TaskRecord {
  const task: TaskRecord = {
    id: row.id,
    state: row.state,
    outcome: row.outcome,
    endReason: row.end_reason,
    spiffeId: row.spiffe_id,
    entryId: row.entry_id,
    agentId: row.agent_id,
    processKey: row.process_key,
    subject: row.subject,
    purpose: row.purpose,
    scope: row.scope,
    actChain: row.act_chain,
    parentTxn: row.parent_txn,
    createdAt: new Date(row.created_at),
    deadline: new Date(row.deadline),
  }
  return row.ended_at === null ? task : { ...task, endedAt: new Date(row.ended_at) }
}

/**
 * The fields a written entry is stored with, from its checked input (the task fields, optional
 * in the input, filled in; lists copied): what a backend returns after a create or an update.
 */
export function entryFields(
  e: RegistrationEntryInput,
): Omit<RegistrationEntry, 'id' | 'revisionNumber' | 'createdAt'> {
  const { id: _id, ...rest } = e
  return {
    ...rest,
    dnsNames: [...e.dnsNames],
    federatesWith: [...e.federatesWith],
    entryExpiry: e.entryExpiry ?? 0,
    taskScopes: [...(e.taskScopes ?? [])],
    maxTaskTtl: e.maxTaskTtl ?? 0,
    revokeOnExit: e.revokeOnExit ?? false,
    owner: e.owner ?? '',
    purpose: e.purpose ?? '',
    risk: e.risk ?? '',
  }
}

/** A `federation_relationships` row. */
export interface RelationshipRow {
  trust_domain: string
  bundle_endpoint_url: string
  bundle_endpoint_profile: 'https_web' | 'https_spiffe'
  endpoint_spiffe_id: string
  created_at: number
  last_refresh_at: number | null
  next_refresh_at: number
  last_error: string
}

/** The record of a `federation_relationships` row (`lastRefreshAt` only after a refresh). */
export function relationshipFromRow(row: RelationshipRow): FederationRelationship {
  return {
    trustDomain: row.trust_domain,
    bundleEndpointUrl: row.bundle_endpoint_url,
    bundleEndpointProfile: row.bundle_endpoint_profile,
    endpointSpiffeId: row.endpoint_spiffe_id,
    createdAt: new Date(row.created_at),
    lastRefreshAt: row.last_refresh_at === null ? undefined : new Date(row.last_refresh_at),
    nextRefreshAt: new Date(row.next_refresh_at),
    lastError: row.last_error,
  }
}

/** An `approvals` row. */
export interface ApprovalRow {
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

/** An `approvals` row as a record. */
export function approvalFromRow(row: ApprovalRow): ApprovalRecord {
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

/** An `audit_records` row. */
export interface AuditRow {
  seq: number
  at: number
  kind: string
  decision: AuditRecord['decision']
  spiffe_id: string
  task_id: string
  serial_or_jti: string
  actor: string
  details: string
  prev_hash: string
  hash: string
}

/** The `audit_records` columns, in order. */
export const AUDIT_COLUMNS =
  'seq, at, kind, decision, spiffe_id, task_id, serial_or_jti, actor, details, prev_hash, hash'

/** An `audit_records` row as a record. */
export function auditFromRow(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    kind: row.kind,
    decision: row.decision,
    spiffeId: row.spiffe_id,
    taskId: row.task_id,
    serialOrJti: row.serial_or_jti,
    actor: row.actor,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  }
}

/** A `policy_versions` row, its policy ids decoded. */
export interface PolicyVersionRow {
  version: number
  text: string
  sha256: string
  created_at: number
  admin_caller: string
  policy_ids: string[]
}

/** A `policy_versions` row as a record. */
export function policyVersionFromRow(row: PolicyVersionRow): PolicyVersionRecord {
  return {
    version: row.version,
    text: row.text,
    sha256: row.sha256,
    createdAt: new Date(row.created_at),
    adminCaller: row.admin_caller,
    policyIds: row.policy_ids,
  }
}
