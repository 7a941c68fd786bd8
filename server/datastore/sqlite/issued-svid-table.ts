/**
 * The issuance record on SQLite: one `issued_svids` row per signed SVID, appended in
 * batches through one cached prepared statement. Runs inside the transactions and error
 * translation of `SqliteDataStore`.
 */
import { type IssuedSvidRow, issuedSvidFromRow } from '../record-rows.js'
import type { IssuedSvidFilter, IssuedSvidRecord } from '../records.js'
import type { Params, Sql } from './sql.js'

type SvidRow = Omit<IssuedSvidRow, 'audience'> & { audience: string }

const INSERT_SVID = `INSERT INTO issued_svids
  (kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at)
  VALUES (@kind, @serialOrJti, @spiffeId, @entryId, @agentId, @notBefore, @notAfter, @audience, @issuedAt)`

function toRecord(row: SvidRow): IssuedSvidRecord {
  return issuedSvidFromRow({ ...row, audience: JSON.parse(row.audience) as string[] })
}

/** Issuance record queries; callers provide transactions and error translation. */
export class IssuedSvidTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Appends checked records (call inside a write transaction). */
  record(records: readonly IssuedSvidRecord[]): void {
    const insert = this.#sql.statement(INSERT_SVID)
    for (const r of records) {
      insert.run({
        kind: r.kind,
        serialOrJti: r.serialOrJti,
        spiffeId: r.spiffeId,
        entryId: r.entryId,
        agentId: r.agentId,
        notBefore: r.notBefore.getTime(),
        notAfter: r.notAfter.getTime(),
        audience: JSON.stringify(r.audience),
        issuedAt: r.issuedAt.getTime(),
      })
    }
  }

  list(filter: IssuedSvidFilter): IssuedSvidRecord[] {
    const parts: string[] = []
    const params: Params = { limit: filter.limit ?? -1 }
    if (filter.kind !== undefined) {
      parts.push('kind = @kind')
      params.kind = filter.kind
    }
    if (filter.serialOrJti !== undefined) {
      parts.push('serial_or_jti = @serialOrJti')
      params.serialOrJti = filter.serialOrJti
    }
    if (filter.spiffeId !== undefined) {
      parts.push('spiffe_id = @spiffeId')
      params.spiffeId = filter.spiffeId
    }
    if (filter.agentId !== undefined) {
      parts.push('agent_id = @agentId')
      params.agentId = filter.agentId
    }
    if (filter.since !== undefined) {
      parts.push('issued_at >= @since')
      params.since = filter.since.getTime()
    }
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    return this.#sql
      .all<SvidRow>(
        `SELECT kind, serial_or_jti, spiffe_id, entry_id, agent_id, not_before, not_after, audience, issued_at
         FROM issued_svids ${clause} ORDER BY issued_at DESC, id DESC LIMIT @limit`,
        params,
      )
      .map(toRecord)
  }

  prune(before: Date): number {
    return this.#sql.run('DELETE FROM issued_svids WHERE not_after < @before', { before: before.getTime() })
  }
}
