/**
 * The audit trail's hash chain, as pure functions: how a record is sealed and how a sequence
 * of stored records is checked. Record `n` holds `prevHash` = the hash of record `n - 1` (record
 * 1: {@link AUDIT_GENESIS_HASH}) and `hash` = SHA-256 over {@link canonicalAuditEncoding}, which
 * covers every column including `seq` and `prevHash`. So changing any stored field breaks that
 * record's own hash; deleting or inserting a record breaks the numbering or the next record's
 * link. The chain has no key: whoever can write the database AND recompute every hash after
 * the edit, or drop the newest records, is caught only against an anchor kept elsewhere (a
 * `seq:hash` printed by `audit verify` earlier).
 */
import { createHash } from 'node:crypto'
import type { AuditHead, AuditRecord } from '../datastore/datastore.js'

/** `prevHash` of record 1. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64)

/** A version tag inside every hashed encoding, so a future encoding cannot collide with this one. */
const ENCODING_TAG = 'sigil-audit-v1'

/** A record's content before it is numbered and sealed. */
export type AuditRecordContent = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>

/**
 * The exact bytes hashed for a record: a JSON array of the tag and every field in column order
 * (the two JSON columns as their stored text), `prevHash` last.
 *
 * @example
 * canonicalAuditEncoding({ seq: 1, at: 0, kind: 'k', decision: 'info', spiffeId: '', taskId: '',
 *   serialOrJti: '', actor: '', details: '{}', prevHash: AUDIT_GENESIS_HASH })
 */
export function canonicalAuditEncoding(r: Omit<AuditRecord, 'hash'>): string {
  return JSON.stringify([
    ENCODING_TAG,
    r.seq,
    r.at,
    r.kind,
    r.decision,
    r.spiffeId,
    r.taskId,
    r.serialOrJti,
    r.actor,
    r.details,
    r.prevHash,
  ])
}

/** The lowercase hex SHA-256 of a record's canonical encoding. */
export function auditRecordHash(r: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalAuditEncoding(r)).digest('hex')
}

/**
 * Numbers and seals `contents` to follow `head` (`undefined`: the chain is empty).
 *
 * @example
 * const records = sealAuditRecords(await ds.auditHead(), [content])
 */
export function sealAuditRecords(
  head: AuditHead | undefined,
  contents: readonly AuditRecordContent[],
): AuditRecord[] {
  let seq = head?.seq ?? 0
  let prevHash = head?.hash ?? AUDIT_GENESIS_HASH
  return contents.map((c) => {
    const unsealed = { ...c, seq: ++seq, prevHash }
    const hash = auditRecordHash(unsealed)
    prevHash = hash
    return { ...unsealed, hash }
  })
}

/** One broken link found by {@link AuditChainChecker}. */
export interface AuditChainProblem {
  /** The sequence number where the chain breaks (for a deletion: the first missing one). */
  readonly seq: number
  readonly kind: 'missing' | 'link' | 'content'
  readonly message: string
}

/**
 * Checks stored records fed in chain order, one page at a time: numbering without gaps from 1,
 * each `prevHash` equal to the hash stored in the record before, each `hash` equal to the hash
 * of the record's content. A record that fails is still taken as the next link, so one edit is
 * reported once, not as a cascade.
 *
 * @example
 * const checker = new AuditChainChecker()
 * for (const r of records) checker.check(r)
 * checker.problems[0]?.message
 */
export class AuditChainChecker {
  readonly problems: AuditChainProblem[] = []
  #count = 0
  #last: AuditHead | undefined

  /** Records checked so far. */
  get count(): number {
    return this.#count
  }

  /** The last record checked (seq, stored hash). */
  get head(): AuditHead | undefined {
    return this.#last
  }

  check(r: AuditRecord): void {
    const expectedSeq = (this.#last?.seq ?? 0) + 1
    const expectedPrev = this.#last?.hash ?? AUDIT_GENESIS_HASH
    if (r.seq !== expectedSeq) {
      const what =
        r.seq > expectedSeq
          ? `record${r.seq - expectedSeq > 1 ? `s ${expectedSeq}–${r.seq - 1} are` : ` ${expectedSeq} is`} missing (deleted): the chain jumps from ${expectedSeq - 1} to ${r.seq}`
          : `record ${r.seq} is out of order after ${expectedSeq - 1}`
      this.#problem({ seq: Math.min(expectedSeq, r.seq), kind: 'missing', message: what })
    } else if (r.prevHash !== expectedPrev) {
      this.#problem({
        seq: r.seq,
        kind: 'link',
        message: `record ${r.seq} does not follow record ${r.seq - 1} (its prev_hash is not the hash of record ${r.seq - 1}): a record was inserted, replaced or re-chained here`,
      })
    }
    if (auditRecordHash(r) !== r.hash) {
      this.#problem({
        seq: r.seq,
        kind: 'content',
        message: `record ${r.seq} was changed: its hash does not match its content`,
      })
    }
    this.#count++
    this.#last = { seq: r.seq, hash: r.hash }
  }

  #problem(p: AuditChainProblem): void {
    if (this.problems.length < 100) this.problems.push(p)
  }
}
