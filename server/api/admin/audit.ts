/**
 * Admin handlers of the audit trail: `audit list`, `audit verify` and `svid explain`. Without
 * an audit trail (a test server built without one) they fail UNAVAILABLE.
 */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { AuditRecord as AuditRecordMessage } from '../../../proto/generated/sigil/admin/v1/AuditRecord.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import { explainSvid } from '../../audit/explain-svid.js'
import { AUDIT_DECISIONS, type AuditDecision, type AuditRecord } from '../../datastore/audit-records.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { MAX_SINCE_SECONDS } from './max-since-seconds.js'
import { unary } from './unary.js'

/** Most records one `audit list` returns (the newest). */
export const MAX_LISTED_AUDIT_RECORDS = 10_000
/** Most bytes of records in one answer: the CLI accepts messages of at most 1 MiB. */
export const MAX_LISTED_AUDIT_BYTES = 900 * 1024
/** Protobuf framing and the numbers of one record, roughly. */
const RECORD_OVERHEAD_BYTES = 48

/** The newest records whose encoding fits {@link MAX_LISTED_AUDIT_BYTES}, in chain order. */
function newestThatFit(records: readonly AuditRecord[]): { kept: AuditRecord[]; truncated: boolean } {
  let bytes = 0
  let first = records.length
  while (first > 0) {
    const r = records[first - 1]!
    const size =
      RECORD_OVERHEAD_BYTES +
      [
        r.kind,
        r.decision,
        r.spiffeId,
        r.taskId,
        r.serialOrJti,
        r.actor,
        r.details,
        r.prevHash,
        r.hash,
      ].reduce((n, s) => n + Buffer.byteLength(s), 0)
    if (bytes + size > MAX_LISTED_AUDIT_BYTES) break
    bytes += size
    first--
  }
  return { kept: records.slice(first), truncated: first > 0 }
}

const HASH = /^[0-9a-f]{64}$/

function toMessage(r: AuditRecord): AuditRecordMessage {
  return {
    seq: r.seq,
    at_ms: r.at,
    kind: r.kind,
    decision: r.decision,
    spiffe_id: r.spiffeId,
    task_id: r.taskId,
    serial_or_jti: r.serialOrJti,
    actor: r.actor,
    details: r.details,
    prev_hash: r.prevHash,
    hash: r.hash,
  }
}

/** The handlers for `audit list`, `audit verify` and `svid explain`. */
export function auditHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'ListAuditRecords' | 'VerifyAuditTrail' | 'ExplainSvid'> {
  const { logger, clock } = deps
  const trail = () => {
    if (deps.audit === undefined) throw new SigilError('ERR_UNAVAILABLE', 'this server keeps no audit trail')
    return deps.audit
  }
  return {
    ListAuditRecords: unary('ListAuditRecords', logger, async (req) => {
      const since = req.since_seconds
      if (!Number.isSafeInteger(since) || since < 0 || since > MAX_SINCE_SECONDS) {
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          `since_seconds must be a whole number of seconds from 0 to ${MAX_SINCE_SECONDS} (100 years)`,
        )
      }
      if (req.decision !== '' && !AUDIT_DECISIONS.has(req.decision)) {
        throw new SigilError('ERR_INVALID_ARGUMENT', 'decision must be allow, deny, hold or info')
      }
      if (!Number.isSafeInteger(req.limit) || req.limit < 0) {
        throw new SigilError('ERR_INVALID_ARGUMENT', 'limit must not be negative')
      }
      const records = await trail().list({
        limit: req.limit === 0 ? MAX_LISTED_AUDIT_RECORDS : Math.min(req.limit, MAX_LISTED_AUDIT_RECORDS),
        ...(since > 0 ? { since: clock().getTime() - since * 1000 } : {}),
        ...(req.spiffe_id !== '' ? { spiffeId: SpiffeId.parse(req.spiffe_id).toString() } : {}),
        ...(req.task_id !== '' ? { taskId: req.task_id } : {}),
        ...(req.serial_or_jti !== '' ? { serialOrJti: req.serial_or_jti } : {}),
        ...(req.decision !== '' ? { decision: req.decision as AuditDecision } : {}),
      })
      const { kept, truncated } = newestThatFit(records)
      return { records: kept.map(toMessage), truncated }
    }),

    VerifyAuditTrail: unary('VerifyAuditTrail', logger, async (req) => {
      const anchored = req.anchor_seq !== 0 || req.anchor_hash !== ''
      if (
        anchored &&
        (!Number.isSafeInteger(req.anchor_seq) || req.anchor_seq < 1 || !HASH.test(req.anchor_hash))
      ) {
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          'the anchor is SEQ:HASH (a record number and 64 lowercase hex digits)',
        )
      }
      const result = await trail().verify(
        anchored ? { seq: req.anchor_seq, hash: req.anchor_hash } : undefined,
      )
      if (!result.ok) logger.warn({ problem: result.problems[0]?.message }, 'audit trail verification failed')
      return {
        ok: result.ok,
        count: result.count,
        head_seq: result.head?.seq ?? 0,
        head_hash: result.head?.hash ?? '',
        problems: result.problems.map((p) => ({ seq: p.seq, kind: p.kind, message: p.message })),
      }
    }),

    ExplainSvid: unary('ExplainSvid', logger, async (req) => {
      if ((req.serial === '') === (req.jti === '')) {
        throw new SigilError('ERR_INVALID_ARGUMENT', 'give exactly one of serial or jti')
      }
      const which = req.serial !== '' ? { serial: req.serial.slice(0, 256) } : { jti: req.jti.slice(0, 256) }
      const explanation = await explainSvid(
        {
          datastore: deps.datastore,
          audit: trail(),
          revoked: (kind, value) => deps.revocations.get(kind, value),
        },
        which,
      )
      return { explanation: JSON.stringify(explanation) }
    }),
  }
}
