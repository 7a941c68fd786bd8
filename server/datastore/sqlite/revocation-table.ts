/**
 * Revocations on SQLite: one `revocations` row per revoked credential, numbered by an
 * AUTOINCREMENT sequence (never reused, so "everything after N" stays meaningful after
 * pruning). Runs inside the transactions and error translation of `SqliteDataStore`.
 */
import { type RevocationRow, revocationFromRow } from '../record-rows.js'
import type { RevocationFilter, RevocationInput, RevocationRecord } from '../records.js'
import type { Params, Sql } from './sql.js'

const COLUMNS = 'sequence, kind, value, reason, revoked_at, expires_at'

/** Revocation queries; callers provide transactions and error translation. */
export class RevocationTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /**
   * Stores each revocation (call inside a write transaction). A credential already revoked
   * keeps its row unless the new expiry is later: then the row is replaced and gets a new
   * sequence number, so followers hear about the longer life.
   */
  add(inputs: readonly RevocationInput[], now: Date): RevocationRecord[] {
    const out: RevocationRecord[] = []
    for (const r of inputs) {
      const existing = this.#sql.get<RevocationRow>(
        `SELECT ${COLUMNS} FROM revocations WHERE kind = @kind AND value = @value`,
        { kind: r.kind, value: r.value },
      )
      if (existing !== undefined && existing.expires_at >= r.expiresAt.getTime()) {
        out.push(revocationFromRow(existing))
        continue
      }
      if (existing !== undefined) {
        this.#sql.run('DELETE FROM revocations WHERE sequence = @s', { s: existing.sequence })
      }
      const row = this.#sql.get<RevocationRow>(
        `INSERT INTO revocations (kind, value, reason, revoked_at, expires_at)
         VALUES (@kind, @value, @reason, @revokedAt, @expiresAt) RETURNING ${COLUMNS}`,
        {
          kind: r.kind,
          value: r.value,
          reason: r.reason,
          revokedAt: existing?.revoked_at ?? now.getTime(),
          expiresAt: r.expiresAt.getTime(),
        },
      )
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      out.push(revocationFromRow(row))
    }
    return out
  }

  list(filter: RevocationFilter): RevocationRecord[] {
    const parts: string[] = []
    const params: Params = {}
    if (filter.since !== undefined) {
      parts.push('sequence > @since')
      params.since = filter.since
    }
    if (filter.kind !== undefined) {
      parts.push('kind = @kind')
      params.kind = filter.kind
    }
    const clause = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    return this.#sql
      .all<RevocationRow>(`SELECT ${COLUMNS} FROM revocations ${clause} ORDER BY sequence`, params)
      .map(revocationFromRow)
  }

  /** The highest sequence number ever given (0 when none), pruned rows included. */
  sequence(): number {
    const row = this.#sql.get<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'")
    return row?.seq ?? 0
  }

  prune(now: Date): number {
    return this.#sql.run('DELETE FROM revocations WHERE expires_at <= @t', { t: now.getTime() })
  }
}
