/**
 * The audit trail on SQLite: one `audit_records` row per sealed record, numbered by `seq`
 * (the chain order). Appends are compare-and-append: they land only when the chain's head is
 * still the one the caller sealed against. Runs inside the transactions and error translation
 * of `SqliteDataStore`.
 */
import type { AuditFilter, AuditHead, AuditRecord } from '../audit-records.js'
import { AUDIT_COLUMNS, type AuditRow, auditFromRow } from '../record-rows.js'
import type { Params, Sql } from './sql.js'

/** Audit queries; callers provide transactions and error translation. */
export class AuditTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  head(): AuditHead | undefined {
    return this.#sql.get<AuditHead>('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1')
  }

  /** Inserts `records` if the head is still `expected` (call inside a write transaction); false otherwise. */
  append(records: readonly AuditRecord[], expected: AuditHead | undefined): boolean {
    const head = this.head()
    if (head?.seq !== expected?.seq || head?.hash !== expected?.hash) return false
    for (const r of records) {
      // every field of a record is a string or a number: bound as they are, by name
      this.#sql.run(
        `INSERT INTO audit_records (${AUDIT_COLUMNS}) VALUES
         (@seq, @at, @kind, @decision, @spiffeId, @taskId, @serialOrJti, @actor, @details, @prevHash, @hash)`,
        r as unknown as Params,
      )
    }
    return true
  }

  list(filter: AuditFilter): AuditRecord[] {
    const parts: string[] = []
    const params: Params = {}
    if (filter.since !== undefined) {
      parts.push('at >= @since')
      params.since = filter.since
    }
    if (filter.spiffeId !== undefined) {
      parts.push('spiffe_id = @spiffeId')
      params.spiffeId = filter.spiffeId
    }
    if (filter.taskId !== undefined) {
      parts.push('task_id = @taskId')
      params.taskId = filter.taskId
    }
    if (filter.serialOrJti !== undefined) {
      parts.push('serial_or_jti = @serialOrJti')
      params.serialOrJti = filter.serialOrJti
    }
    if (filter.decision !== undefined) {
      parts.push('decision = @decision')
      params.decision = filter.decision
    }
    if (filter.kindPrefix !== undefined) {
      parts.push('substr(kind, 1, length(@kindPrefix)) = @kindPrefix')
      params.kindPrefix = filter.kindPrefix
    }
    const where = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    const limit = filter.limit ? 'LIMIT @limit' : ''
    if (filter.limit) params.limit = filter.limit
    // the newest `limit` records, returned in chain order
    return this.#sql
      .all<AuditRow>(
        `SELECT * FROM (SELECT ${AUDIT_COLUMNS} FROM audit_records ${where} ORDER BY seq DESC ${limit}) ORDER BY seq`,
        params,
      )
      .map(auditFromRow)
  }

  /** Up to `limit` records with `seq > afterSeq`, in chain order. */
  read(afterSeq: number, limit: number): AuditRecord[] {
    return this.#sql
      .all<AuditRow>(
        `SELECT ${AUDIT_COLUMNS} FROM audit_records WHERE seq > @after ORDER BY seq LIMIT @limit`,
        {
          after: afterSeq,
          limit,
        },
      )
      .map(auditFromRow)
  }
}
