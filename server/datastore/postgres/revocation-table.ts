/**
 * Revocations on PostgreSQL: one `revocations` row per revoked credential, numbered from the
 * `revocations` row of `sigil_counters`, which every adding transaction locks first — so
 * sequence numbers are never reused after pruning and become visible in order (a follower
 * reading "everything after N" cannot miss a number committed later by another server).
 */
import { type RevocationRow, revocationFromRow } from '../record-rows.js'
import type { RevocationFilter, RevocationInput, RevocationRecord } from '../records.js'
import type { Queryable } from './pg-sql.js'

const COLUMNS = 'sequence, kind, value, reason, revoked_at, expires_at'

/** Revocation queries; callers provide transactions and error translation. */
export const revocationTable = {
  /**
   * Stores each revocation (inside a write transaction). A credential already revoked keeps its
   * row unless the new expiry is later: then the row is replaced and gets a new sequence number.
   */
  async add(q: Queryable, inputs: readonly RevocationInput[], now: Date): Promise<RevocationRecord[]> {
    const counter = await q.one<{ value: number }>(
      "SELECT value FROM sigil_counters WHERE name = 'revocations' FOR UPDATE",
    )
    let sequence = counter?.value ?? 0
    const out: RevocationRecord[] = []
    for (const r of inputs) {
      const existing = await q.one<RevocationRow>(
        `SELECT ${COLUMNS} FROM revocations WHERE kind = $1 AND value = $2`,
        [r.kind, r.value],
      )
      if (existing !== undefined && existing.expires_at >= r.expiresAt.getTime()) {
        out.push(revocationFromRow(existing))
        continue
      }
      if (existing !== undefined)
        await q.run('DELETE FROM revocations WHERE sequence = $1', [existing.sequence])
      sequence += 1
      const row = await q.one<RevocationRow>(
        `INSERT INTO revocations (sequence, kind, value, reason, revoked_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [sequence, r.kind, r.value, r.reason, existing?.revoked_at ?? now.getTime(), r.expiresAt.getTime()],
      )
      out.push(revocationFromRow(row!))
    }
    await q.run("UPDATE sigil_counters SET value = $1 WHERE name = 'revocations'", [sequence])
    return out
  },

  async list(q: Queryable, filter: RevocationFilter): Promise<RevocationRecord[]> {
    const parts: string[] = []
    const params: unknown[] = []
    if (filter.since !== undefined) {
      params.push(filter.since)
      parts.push(`sequence > $${params.length}`)
    }
    if (filter.kind !== undefined) {
      params.push(filter.kind)
      parts.push(`kind = $${params.length}`)
    }
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    return (
      await q.rows<RevocationRow>(`SELECT ${COLUMNS} FROM revocations ${clause} ORDER BY sequence`, params)
    ).map(revocationFromRow)
  },

  /** The highest sequence number ever given (0 when none), pruned rows included. */
  async sequence(q: Queryable): Promise<number> {
    return (
      (await q.one<{ value: number }>("SELECT value FROM sigil_counters WHERE name = 'revocations'"))
        ?.value ?? 0
    )
  },

  async prune(q: Queryable, now: Date): Promise<number> {
    return q.run('DELETE FROM revocations WHERE expires_at <= $1', [now.getTime()])
  },
}
