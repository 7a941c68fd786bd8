/**
 * Pretty (human-readable) output of admin API records: one `Label : value` line per
 * field, fixed labels and order so the output is stable; lists repeat the label.
 */

import type { Agent__Output as Agent } from '../../proto/generated/sigil/admin/v1/Agent.js'
import type { Approval__Output as Approval } from '../../proto/generated/sigil/admin/v1/Approval.js'
import type { Revocation__Output as Revocation } from '../../proto/generated/sigil/admin/v1/Revocation.js'
import type { SvidRecord__Output as SvidRecord } from '../../proto/generated/sigil/admin/v1/SvidRecord.js'
import type { Task__Output as Task } from '../../proto/generated/sigil/admin/v1/Task.js'
import type { TaskCredential__Output as TaskCredential } from '../../proto/generated/sigil/admin/v1/TaskCredential.js'
import type { TaskEvent__Output as TaskEvent } from '../../proto/generated/sigil/admin/v1/TaskEvent.js'
import type { RegistrationEntry__Output as Entry } from '../../proto/generated/sigil/common/v1/RegistrationEntry.js'

const WIDTH = 17

function line(label: string, value: string | number): string {
  return `${label.padEnd(WIDTH)}: ${value}`
}

function lines(label: string, values: readonly string[]): string[] {
  return values.map((v) => line(label, v))
}

/** Unix seconds as an ISO 8601 UTC time (`never` for 0). */
export function isoTime(seconds: number): string {
  return seconds === 0 ? 'never' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')
}

function ttl(seconds: number): string {
  return seconds === 0 ? 'default' : `${seconds}s`
}

/** A registration entry as a block of lines. */
export function formatEntry(e: Entry): string {
  return [
    line('Entry ID', e.id),
    line('SPIFFE ID', e.spiffe_id),
    line('Parent ID', e.parent_id),
    line('Revision', e.revision_number),
    line('X509-SVID TTL', ttl(e.x509_svid_ttl)),
    line('JWT-SVID TTL', ttl(e.jwt_svid_ttl)),
    ...lines(
      'Selector',
      e.selectors.map((s) => `${s.type}:${s.value}`),
    ),
    ...lines('DNS name', e.dns_names),
    ...lines('FederatesWith', e.federates_with),
    ...(e.hint ? [line('Hint', e.hint)] : []),
    line('Admin', String(e.admin)),
    line('Node', String(e.node)),
    ...lines('Task scope', e.task_scopes),
    ...(e.task_scopes.length > 0 ? [line('Max task TTL', ttl(e.max_task_ttl))] : []),
    ...(e.revoke_on_exit ? [line('Revoke on exit', 'true')] : []),
    ...(e.owner ? [line('Owner', e.owner)] : []),
    ...(e.purpose ? [line('Purpose', e.purpose)] : []),
    ...(e.risk ? [line('Risk', e.risk)] : []),
    ...(Number(e.expires_at) > 0 ? [line('Entry expiry', isoTime(Number(e.expires_at)))] : []),
    line('Created at', isoTime(e.created_at)),
  ].join('\n')
}

/** An attested agent as a block of lines. */
export function formatAgent(a: Agent): string {
  return [
    line('SPIFFE ID', a.spiffe_id),
    line('Attestation type', a.attestation_type),
    line('Serial number', a.serial || '-'),
    line('Expires at', isoTime(a.expires_at)),
    line('Banned', String(a.banned)),
    line('Last seen', isoTime(a.last_seen)),
    ...lines(
      'Selector',
      a.selectors.map((s) => `${s.type}:${s.value}`),
    ),
  ].join('\n')
}

/** One issuance record as a block of lines. */
export function formatSvidRecord(r: SvidRecord): string {
  return [
    line('Kind', r.kind),
    r.kind === 'jwt' ? line('JWT ID', r.jti) : line('Serial number', r.serial),
    line('SPIFFE ID', r.spiffe_id),
    ...(r.entry_id ? [line('Entry ID', r.entry_id)] : []),
    ...(r.agent_id ? [line('Agent ID', r.agent_id)] : []),
    ...lines('Audience', r.audience),
    line('Not before', isoTime(r.not_before)),
    line('Not after', isoTime(r.not_after)),
    line('Issued at', isoTime(r.issued_at)),
    ...(r.revoked_at ? [line('Revoked at', isoTime(r.revoked_at))] : []),
  ].join('\n')
}

/** One revocation. */
export function formatRevocation(r: Revocation): string {
  return [
    line('Kind', r.kind),
    line('Value', r.value),
    ...(r.reason ? [line('Reason', r.reason)] : []),
    line('Revoked at', isoTime(r.revoked_at)),
    line('Kept until', isoTime(r.expires_at)),
    line('Sequence number', r.sequence),
  ].join('\n')
}

/** A task as a block of lines. */
export function formatTask(task: Task): string {
  return [
    line('Task ID', task.task_id),
    line('State', task.outcome ? `${task.state} (${task.outcome})` : task.state),
    ...(task.end_reason ? [line('End reason', task.end_reason)] : []),
    line('SPIFFE ID', task.spiffe_id),
    line('Subject', task.subject),
    ...lines('Actor', task.act_chain),
    ...(task.purpose ? [line('Purpose', task.purpose)] : []),
    ...lines('Scope', task.scope),
    ...(task.parent_txn ? [line('Parent task', task.parent_txn)] : []),
    line('Entry ID', task.entry_id),
    line('Agent ID', task.agent_id),
    line('Created at', isoTime(task.created_at)),
    line('Deadline', isoTime(task.deadline)),
    ...(task.ended_at ? [line('Ended at', isoTime(task.ended_at))] : []),
  ].join('\n')
}

/** A task with the credentials issued for it and its decisions. */
export function formatTaskDetail(
  task: Task,
  credentials: readonly TaskCredential[],
  events: readonly TaskEvent[],
): string {
  const creds = credentials.map(
    (c) =>
      `${c.kind} ${c.credential}${c.audience.length > 0 ? ` aud=${c.audience.join(',')}` : ''} until ${isoTime(c.expires_at)}`,
  )
  const trail = events.map((e) => `${isoTime(e.at)} ${e.event}${e.detail ? `: ${e.detail}` : ''}`)
  return [formatTask(task), ...lines('Credential', creds), ...lines('Event', trail)].join('\n')
}

/**
 * `Found N <noun>` followed by one block per item, separated by blank lines.
 *
 * @example
 * formatList(entries, formatEntry, 'entry', 'entries')
 */
export function formatList<T>(
  items: readonly T[],
  format: (item: T) => string,
  one: string,
  many: string,
): string {
  const head = `Found ${items.length} ${items.length === 1 ? one : many}`
  return items.length === 0 ? head : `${head}\n\n${items.map(format).join('\n\n')}`
}

/** An approval (human approval of a held request). */
export function formatApproval(a: Approval): string {
  return [
    line('Approval ID', a.id),
    line('Status', a.status),
    line('Principal', a.principal),
    line('Action', a.action),
    line('Resource', a.resource),
    ...(a.task_id ? [line('Task ID', a.task_id)] : []),
    ...(a.reason ? [line('Reason', a.reason)] : []),
    line('Requested at', isoTime(a.requested_at)),
    ...(a.decided_at ? [line('Decided at', isoTime(a.decided_at))] : []),
    ...(a.decided_by ? [line('Decided by', a.decided_by)] : []),
    line(a.status === 'pending' ? 'Hold ends at' : 'Valid until', isoTime(a.valid_until)),
  ].join('\n')
}
