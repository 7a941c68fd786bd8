/**
 * `svid explain`: everything the server knows about one SVID it issued, from the issuance
 * record, the audit trail and the registry — the entry it was issued for and its owner, the
 * agent that asked and its attestation evidence, the selectors that matched, the policies that
 * permitted it, the task and delegation chain it was issued in, approvals, revocation, and the
 * audit records about it. What the audit record captured at issuance is shown as it was then;
 * the entry and agent as they are now are added when they still exist.
 */
import { SigilError } from '../../certs/errors.js'
import { formatSelector } from '../../certs/selector/selector.js'
import type { AuditRecord, DataStore, IssuedSvidRecord } from '../datastore/datastore.js'
import type { AuditTrail } from './audit-trail.js'

/** The datastore reads an explanation makes. */
export type ExplainDataStore = Pick<
  DataStore,
  'listIssuedSvids' | 'getEntry' | 'getAttestedAgent' | 'getTask' | 'listTaskEvents'
>

/** What an explanation needs. */
export interface ExplainDeps {
  readonly datastore: ExplainDataStore
  readonly audit: Pick<AuditTrail, 'list'>
  /** The revocation of a credential, if revoked. */
  readonly revoked?: (
    kind: 'x509_serial' | 'jwt_jti',
    value: string,
  ) => { revokedAt: Date; reason: string } | undefined
}

const ISSUED_KINDS = new Set(['x509_svid_issued', 'jwt_svid_issued', 'task_jwt_issued'])
const MAX_RELATED = 200

function parse(text: string): Record<string, unknown> {
  if (text === '') return {}
  try {
    const v = JSON.parse(text) as unknown
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function recordJson(r: AuditRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    kind: r.kind,
    decision: r.decision,
    ...(r.spiffeId ? { spiffe_id: r.spiffeId } : {}),
    ...(r.taskId ? { task_id: r.taskId } : {}),
    ...(r.actor ? { actor: parse(r.actor) } : {}),
    details: parse(r.details),
  }
}

/**
 * The explanation of the SVID with X.509 serial `serial` (lowercase hex) or JWT `jti`, as a
 * JSON-ready object. Rejects `ERR_NOT_FOUND` when neither the issuance record nor the audit
 * trail knows it.
 *
 * @example
 * const e = await explainSvid(deps, { serial: '0a1b2c' })
 */
export async function explainSvid(
  deps: ExplainDeps,
  which: { readonly serial: string } | { readonly jti: string },
): Promise<Record<string, unknown>> {
  const kind = 'serial' in which ? 'x509' : 'jwt'
  const value = 'serial' in which ? which.serial : which.jti
  const [issued] = await deps.datastore.listIssuedSvids({ kind, serialOrJti: value, limit: 1 })
  const records = await deps.audit.list({ serialOrJti: value, limit: MAX_RELATED })
  const issuance = records.find((r) => ISSUED_KINDS.has(r.kind))
  if (issued === undefined && issuance === undefined) {
    throw new SigilError(
      'ERR_NOT_FOUND',
      `no SVID with ${kind === 'x509' ? 'serial' : 'jti'} ${value.slice(0, 64)} is on record`,
    )
  }
  const details = issuance ? parse(issuance.details) : {}
  const atIssuance = {
    entry: details.entry as Record<string, unknown> | undefined,
    agent: details.agent as Record<string, unknown> | undefined,
  }
  const entryId = issued?.entryId || (typeof details.entry_id === 'string' ? details.entry_id : '')
  const agentId =
    issued?.agentId ||
    (typeof atIssuance.agent?.spiffe_id === 'string' ? atIssuance.agent.spiffe_id : '') ||
    (issuance?.actor ? String(parse(issuance.actor).agent_id ?? '') : '')
  const taskId = issuance?.taskId ?? ''
  const spiffeId = issued?.spiffeId ?? issuance?.spiffeId ?? ''

  const entryNow = entryId ? await deps.datastore.getEntry(entryId) : undefined
  const agentNow = agentId ? await deps.datastore.getAttestedAgent(agentId) : undefined
  const task = taskId ? await deps.datastore.getTask(taskId) : undefined
  const revocation = deps.revoked?.(kind === 'x509' ? 'x509_serial' : 'jwt_jti', value)

  const entry =
    entryId === ''
      ? undefined
      : {
          id: entryId,
          ...(atIssuance.entry ?? {}),
          ...(entryNow
            ? {
                now: {
                  spiffe_id: entryNow.spiffeId,
                  parent_id: entryNow.parentId,
                  selectors: entryNow.selectors.map(formatSelector),
                  revision: entryNow.revisionNumber,
                  ...ownerFields(entryNow),
                },
              }
            : { now: 'deleted' }),
        }
  const agent =
    agentId === ''
      ? undefined
      : {
          spiffe_id: agentId,
          ...(atIssuance.agent ?? {}),
          ...(agentNow
            ? {
                now: {
                  attestation_type: agentNow.attestationType,
                  selectors: agentNow.selectors.map(formatSelector),
                  banned: agentNow.banned,
                  last_seen: agentNow.lastSeen.toISOString(),
                },
              }
            : { now: 'evicted' }),
        }
  const related = taskId ? await deps.audit.list({ taskId, limit: MAX_RELATED }) : []
  const approvals = approvalsBehind(
    taskId ? related : await deps.audit.list({ spiffeId, kindPrefix: 'approval_', limit: MAX_RELATED }),
    {
      resources:
        kind === 'x509'
          ? [`Sigil::Identity::${JSON.stringify(spiffeId)}`]
          : ((issued?.audience.length ?? 0) > 0
              ? (issued?.audience ?? [])
              : Array.isArray(details.audience)
                ? (details.audience as unknown[]).map(String)
                : []
            ).map((a) => `Sigil::Audience::${JSON.stringify(a)}`),
      issuedAt: issuance?.at ?? issued?.issuedAt.getTime() ?? Number.MAX_SAFE_INTEGER,
    },
  )
  return {
    svid: svidJson(kind, value, spiffeId, issued, issuance),
    ...(revocation ? { revoked: { at: revocation.revokedAt.toISOString(), reason: revocation.reason } } : {}),
    // who asked for it: the agent ({agent_id}) or the admin caller ({uid, pid, exe}) of a mint
    ...(issuance?.actor ? { requested_by: parse(issuance.actor) } : {}),
    ...(entry ? { entry } : {}),
    ...(agent ? { agent } : {}),
    matched_selectors:
      (atIssuance.entry?.selectors as unknown[] | undefined) ??
      (entryNow ? entryNow.selectors.map(formatSelector) : []),
    policies: details.policies ?? [],
    ...(task
      ? {
          task: {
            id: task.id,
            state: task.state,
            ...(task.outcome ? { outcome: task.outcome } : {}),
            subject: task.subject,
            purpose: task.purpose,
            scope: task.scope,
            deadline: task.deadline.toISOString(),
            ...(task.parentTxn ? { parent_txn: task.parentTxn } : {}),
          },
          // the principal first, then each actor in the order they acted (the act chain is current-first)
          delegation_chain: [task.subject, ...[...task.actChain].reverse(), task.spiffeId].filter(
            (id, i, all) => all.indexOf(id) === i,
          ),
        }
      : {}),
    approvals: approvals.map(recordJson),
    records: [...records, ...related.filter((r) => !records.some((x) => x.seq === r.seq))]
      .sort((a, b) => a.seq - b.seq)
      .map(recordJson),
  }
}

/**
 * The approvals behind an SVID: the approval records (requested, granted, …) of every approval
 * for one of its resources (a JWT's audiences, an X509-SVID's identity) that was granted before
 * it was issued — the ones that released its request or covered it with `--for`.
 */
function approvalsBehind(
  records: readonly AuditRecord[],
  svid: { readonly resources: readonly string[]; readonly issuedAt: number },
): AuditRecord[] {
  const steps = records.filter((r) => r.kind.startsWith('approval_'))
  const idOf = (r: AuditRecord): string => String(parse(r.details).approval_id ?? '')
  const granted = new Set(
    steps
      .filter(
        (r) =>
          r.kind === 'approval_granted' &&
          r.at <= svid.issuedAt &&
          svid.resources.includes(String(parse(r.details).resource ?? '')),
      )
      .map(idOf),
  )
  return steps.filter((r) => granted.has(idOf(r)))
}

function ownerFields(entry: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['owner', 'purpose', 'risk']) {
    const v = (entry as Record<string, unknown>)[k]
    if (v !== undefined && v !== '') out[k] = v
  }
  return out
}

function svidJson(
  kind: 'x509' | 'jwt',
  value: string,
  spiffeId: string,
  issued: IssuedSvidRecord | undefined,
  issuance: AuditRecord | undefined,
): Record<string, unknown> {
  const d = issuance ? parse(issuance.details) : {}
  return {
    kind,
    [kind === 'x509' ? 'serial' : 'jti']: value,
    spiffe_id: spiffeId,
    issued_at: issued?.issuedAt.toISOString() ?? (issuance ? new Date(issuance.at).toISOString() : undefined),
    not_before: issued?.notBefore.toISOString() ?? d.not_before,
    not_after: issued?.notAfter.toISOString() ?? d.not_after,
    ...((issued?.audience.length ?? 0) > 0 || d.audience ? { audience: issued?.audience ?? d.audience } : {}),
    ...(issuance ? { audit_seq: issuance.seq } : {}),
  }
}
