/**
 * Output of the audit verbs: one line per audit record for `audit list`, JSON with the actor and
 * details as objects, and the labelled blocks of `svid explain`.
 */
import type { AuditRecord__Output as AuditRecord } from '../../proto/generated/sigil/admin/v1/AuditRecord.js'

function parsed(text: string): unknown {
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** A record for `--output json`: times in ISO 8601, actor and details as objects. */
export function auditRecordJson(r: AuditRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    at: new Date(r.at_ms).toISOString(),
    kind: r.kind,
    decision: r.decision,
    spiffe_id: r.spiffe_id,
    task_id: r.task_id,
    serial_or_jti: r.serial_or_jti,
    actor: parsed(r.actor) ?? null,
    details: parsed(r.details) ?? {},
    prev_hash: r.prev_hash,
    hash: r.hash,
  }
}

function actorText(actor: string): string {
  const a = parsed(actor) as { uid?: number; pid?: number; exe?: string; agent_id?: string } | undefined
  if (a === undefined || typeof a !== 'object') return ''
  if (a.agent_id !== undefined) return ` by ${a.agent_id}`
  return ` by uid ${a.uid} pid ${a.pid}${a.exe ? ` ${a.exe}` : ''}`
}

/** One line: `#seq time decision kind [spiffe ID] [serial/jti] [task] [by actor] details`. */
export function formatAuditRecord(r: AuditRecord): string {
  const at = new Date(r.at_ms).toISOString()
  return [
    `#${r.seq} ${at} ${r.decision.padEnd(5)} ${r.kind}`,
    r.spiffe_id,
    r.serial_or_jti ? `id=${r.serial_or_jti}` : '',
    r.task_id ? `task=${r.task_id}` : '',
  ]
    .filter((s) => s !== '')
    .join(' ')
    .concat(actorText(r.actor), r.details && r.details !== '{}' ? ` ${r.details}` : '')
}

function block(label: string, value: unknown, indent = ''): string[] {
  if (value === undefined || value === null) return []
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}${label}: none`]
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      return [`${indent}${label}:`, ...value.map((v) => `${indent}  - ${String(v)}`)]
    }
    return [`${indent}${label}:`, ...value.flatMap((v) => [`${indent}  -`, ...fields(v, `${indent}    `)])]
  }
  if (typeof value === 'object') return [`${indent}${label}:`, ...fields(value, `${indent}  `)]
  return [`${indent}${label}: ${String(value)}`]
}

function fields(value: unknown, indent: string): string[] {
  if (typeof value !== 'object' || value === null) return [`${indent}${String(value)}`]
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => block(k, v, indent))
}

const EXPLAIN_ORDER = [
  'svid',
  'revoked',
  'requested_by',
  'entry',
  'agent',
  'matched_selectors',
  'policies',
  'task',
  'delegation_chain',
  'approvals',
] as const

/** `svid explain`, pretty: one indented block per part, in a fixed order. */
export function formatExplanation(e: Record<string, unknown>): string {
  const out: string[] = []
  for (const k of EXPLAIN_ORDER) out.push(...block(k, e[k]))
  const records = Array.isArray(e.records) ? (e.records as Record<string, unknown>[]) : []
  out.push(`audit records: ${records.length}`)
  for (const r of records) {
    const by = r.actor ? actorText(JSON.stringify(r.actor)) : ''
    out.push(
      `  #${r.seq} ${r.at} ${r.decision} ${r.kind}${by}${r.details ? ` ${JSON.stringify(r.details)}` : ''}`,
    )
  }
  return out.join('\n')
}
