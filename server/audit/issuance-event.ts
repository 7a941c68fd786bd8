/**
 * The audit record of an issued SVID: the issuance record's facts plus what `svid explain`
 * needs later even if the entry or agent has changed or gone since — the entry's selectors (the
 * ones that matched) and operator metadata, the agent's attestation type and selectors.
 */
import { formatSelector } from '../../certs/selector/selector.js'
import type { AttestedAgent, IssuedSvidRecord, RegistrationEntry } from '../datastore/datastore.js'
import type { AuditEvent } from './audit-trail.js'

/** Entry fields recorded when the entry has them (operator metadata added by the policy work). */
const ENTRY_METADATA = ['owner', 'purpose', 'risk'] as const

/** What is known about an issuance besides its record. */
export interface IssuanceContext {
  readonly entry?: RegistrationEntry
  /** The agent that asked, with its attestation evidence. */
  readonly agent?: Pick<AttestedAgent, 'spiffeId' | 'attestationType' | 'selectors'>
  readonly taskId?: string
  /** Anything else (e.g. the policies that permitted it). */
  readonly details?: Record<string, unknown>
}

/**
 * The audit event for `record`.
 *
 * @example
 * await audit.record(issuanceEvent(record, { entry, agent: caller.agent }))
 */
export function issuanceEvent(record: IssuedSvidRecord, ctx: IssuanceContext = {}): AuditEvent {
  const { entry, agent } = ctx
  const metadata: Record<string, unknown> = {}
  for (const k of ENTRY_METADATA) {
    const v = (entry as Record<string, unknown> | undefined)?.[k]
    if (v !== undefined && v !== '') metadata[k] = v
  }
  return {
    kind: record.kind === 'x509' ? 'x509_svid_issued' : 'jwt_svid_issued',
    decision: 'allow',
    spiffeId: record.spiffeId,
    ...(ctx.taskId ? { taskId: ctx.taskId } : {}),
    serialOrJti: record.serialOrJti,
    ...(record.agentId ? { actor: { agentId: record.agentId } } : {}),
    details: {
      entry_id: record.entryId,
      not_before: record.notBefore,
      not_after: record.notAfter,
      ...(record.audience.length > 0 ? { audience: record.audience } : {}),
      ...(entry
        ? {
            entry: {
              parent_id: entry.parentId,
              selectors: entry.selectors.map(formatSelector),
              revision: entry.revisionNumber,
              ...metadata,
            },
          }
        : {}),
      ...(agent
        ? {
            agent: {
              spiffe_id: agent.spiffeId,
              attestation_type: agent.attestationType,
              selectors: agent.selectors.map(formatSelector),
            },
          }
        : {}),
      ...ctx.details,
    },
  }
}
