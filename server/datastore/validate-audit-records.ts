/**
 * Shape checks of what callers hand to the audit section of a `DataStore` (see
 * audit-records.ts), shared by every backend. Wrong shapes are a caller's bug: `TypeError`.
 */
import { AUDIT_DECISIONS, type AuditFilter, type AuditHead, type AuditRecord } from './audit-records.js'

const HASH = /^[0-9a-f]{64}$/

function checkSeq(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${what} must be a non-negative integer`)
  }
  return value
}

function checkText(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`)
  return value
}

/** A checked audit record; throws `TypeError`. */
export function checkAuditRecord(r: AuditRecord): AuditRecord {
  if (typeof r !== 'object' || r === null) throw new TypeError('audit record must be an object')
  if (checkSeq(r.seq, 'seq') < 1) throw new TypeError('seq must be at least 1')
  checkSeq(r.at, 'at')
  if (checkText(r.kind, 'kind') === '') throw new TypeError('kind must not be empty')
  if (!AUDIT_DECISIONS.has(r.decision)) throw new TypeError('decision must be allow, deny, hold or info')
  checkText(r.spiffeId, 'spiffeId')
  checkText(r.taskId, 'taskId')
  checkText(r.serialOrJti, 'serialOrJti')
  checkText(r.actor, 'actor')
  checkText(r.details, 'details')
  if (!HASH.test(checkText(r.prevHash, 'prevHash'))) throw new TypeError('prevHash must be 64 hex digits')
  if (!HASH.test(checkText(r.hash, 'hash'))) throw new TypeError('hash must be 64 hex digits')
  return {
    seq: r.seq,
    at: r.at,
    kind: r.kind,
    decision: r.decision,
    spiffeId: r.spiffeId,
    taskId: r.taskId,
    serialOrJti: r.serialOrJti,
    actor: r.actor,
    details: r.details,
    prevHash: r.prevHash,
    hash: r.hash,
  }
}

/** A checked expected head (`undefined`: the chain must be empty); throws `TypeError`. */
export function checkAuditHead(head: AuditHead | undefined): AuditHead | undefined {
  if (head === undefined) return undefined
  if (typeof head !== 'object' || head === null) throw new TypeError('head must be an object')
  checkSeq(head.seq, 'head.seq')
  if (!HASH.test(checkText(head.hash, 'head.hash'))) throw new TypeError('head.hash must be 64 hex digits')
  return { seq: head.seq, hash: head.hash }
}

/** A checked audit filter; throws `TypeError`. */
export function checkAuditFilter(filter: AuditFilter | undefined): AuditFilter {
  if (filter === undefined) return {}
  if (typeof filter !== 'object' || filter === null) throw new TypeError('filter must be an object')
  const out: { -readonly [K in keyof AuditFilter]: AuditFilter[K] } = {}
  if (filter.since !== undefined) out.since = checkSeq(filter.since, 'filter.since')
  if (filter.limit !== undefined) out.limit = checkSeq(filter.limit, 'filter.limit')
  for (const k of ['spiffeId', 'taskId', 'serialOrJti', 'kindPrefix'] as const) {
    if (filter[k] !== undefined) out[k] = checkText(filter[k], `filter.${k}`)
  }
  if (filter.decision !== undefined) {
    if (!AUDIT_DECISIONS.has(filter.decision)) throw new TypeError('filter.decision is not an audit decision')
    out.decision = filter.decision
  }
  return out
}
