/**
 * The issuance record on PostgreSQL: one `issued_svids` row per signed SVID, a batch appended
 * by one INSERT over `unnest` of column arrays (one round trip for thousands of records).
 */
import { type IssuedSvidRow, issuedSvidFromRow } from '../record-rows.js'
import type { IssuedSvidFilter, IssuedSvidRecord } from '../records.js'
import type { Queryable } from './pg-sql.js'

const INSERT_BATCH = `INSERT INTO issued_svids
  (kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at)
  SELECT kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
    $8::jsonb[], $9::bigint[]) WITH ORDINALITY
    AS r(kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at, n)
  ORDER BY n`

/** Issuance record queries; callers provide transactions and error translation. */
export const issuedSvidTable = {
  /** Appends checked records in one statement (all or none). */
  async record(q: Queryable, records: readonly IssuedSvidRecord[]): Promise<void> {
    await q.run(INSERT_BATCH, [
      records.map((r) => r.kind),
      records.map((r) => r.serialOrJti),
      records.map((r) => r.spiffeId),
      records.map((r) => r.entryId),
      records.map((r) => r.agentId),
      records.map((r) => r.notBefore.getTime()),
      records.map((r) => r.notAfter.getTime()),
      records.map((r) => JSON.stringify(r.audience)),
      records.map((r) => r.issuedAt.getTime()),
    ])
  },

  async list(q: Queryable, filter: IssuedSvidFilter): Promise<IssuedSvidRecord[]> {
    const parts: string[] = []
    const params: unknown[] = []
    const add = (column: string, op: string, value: unknown) => {
      params.push(value)
      parts.push(`${column} ${op} $${params.length}`)
    }
    if (filter.kind !== undefined) add('kind', '=', filter.kind)
    if (filter.serialOrJti !== undefined) add('serial_or_jti', '=', filter.serialOrJti)
    if (filter.spiffeId !== undefined) add('spiffe_id', '=', filter.spiffeId)
    if (filter.agentId !== undefined) add('agent_id', '=', filter.agentId)
    if (filter.since !== undefined) add('issued_at', '>=', filter.since.getTime())
    params.push(filter.limit ?? null)
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    const rows = await q.rows<IssuedSvidRow>(
      `SELECT kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at
       FROM issued_svids ${clause} ORDER BY issued_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )
    return rows.map(issuedSvidFromRow)
  },

  async prune(q: Queryable, before: Date): Promise<number> {
    return q.run('DELETE FROM issued_svids WHERE not_after < $1', [before.getTime()])
  },
}
