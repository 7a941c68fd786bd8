/**
 * The audit trail on PostgreSQL (PG migration 5 = SQLite 5): one `audit_records` row per sealed
 * record, numbered by `seq` (the chain order). Appends are compare-and-append: the table is
 * locked, then the records land only when the chain's head is still the one the caller sealed
 * against (so two servers never fork the chain). Triggers refuse UPDATE, DELETE and TRUNCATE.
 */
import type { AuditFilter, AuditHead, AuditRecord } from '../audit-records.js'
import { AUDIT_COLUMNS, type AuditRow, auditFromRow } from '../record-rows.js'
import type { Queryable } from './pg-sql.js'

async function head(q: Queryable): Promise<AuditHead | undefined> {
  return q.one<AuditHead>('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1')
}

/** Audit queries; callers provide transactions and error translation. */
export const auditTable = {
  head,

  /** Inserts `records` if the head is still `expected` (inside a write transaction); false otherwise. */
  async append(
    q: Queryable,
    records: readonly AuditRecord[],
    expected: AuditHead | undefined,
  ): Promise<boolean> {
    // self-conflicting, reads still pass: appenders take turns, each sees the committed head
    await q.run('LOCK TABLE audit_records IN SHARE ROW EXCLUSIVE MODE')
    const current = await head(q)
    if (current?.seq !== expected?.seq || current?.hash !== expected?.hash) return false
    const column = <K extends keyof AuditRecord>(k: K) => records.map((r) => r[k])
    await q.run(
      `INSERT INTO audit_records (${AUDIT_COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::bigint[],
         $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])`,
      [
        column('seq'),
        column('at'),
        column('kind'),
        column('decision'),
        column('spiffeId'),
        column('taskId'),
        column('serialOrJti'),
        column('actor'),
        column('details'),
        column('prevHash'),
        column('hash'),
      ],
    )
    return true
  },

  async list(q: Queryable, filter: AuditFilter): Promise<AuditRecord[]> {
    const parts: string[] = []
    const params: unknown[] = []
    const param = (v: unknown): string => {
      params.push(v)
      return `$${params.length}`
    }
    if (filter.since !== undefined) parts.push(`at >= ${param(filter.since)}`)
    if (filter.spiffeId !== undefined) parts.push(`spiffe_id = ${param(filter.spiffeId)}`)
    if (filter.taskId !== undefined) parts.push(`task_id = ${param(filter.taskId)}`)
    if (filter.serialOrJti !== undefined) parts.push(`serial_or_jti = ${param(filter.serialOrJti)}`)
    if (filter.decision !== undefined) parts.push(`decision = ${param(filter.decision)}`)
    if (filter.kindPrefix !== undefined) {
      const prefix = param(filter.kindPrefix)
      parts.push(`left(kind, length(${prefix}::text)) = ${prefix}`)
    }
    const where = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`
    const limit = filter.limit ? `LIMIT ${param(filter.limit)}` : ''
    // the newest `limit` records, returned in chain order
    const rows = await q.rows<AuditRow>(
      `SELECT * FROM (SELECT ${AUDIT_COLUMNS} FROM audit_records ${where} ORDER BY seq DESC ${limit}) r ORDER BY seq`,
      params,
    )
    return rows.map(auditFromRow)
  },

  /** Up to `limit` records with `seq > afterSeq`, in chain order. */
  async read(q: Queryable, afterSeq: number, limit: number): Promise<AuditRecord[]> {
    const rows = await q.rows<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
    )
    return rows.map(auditFromRow)
  },
}
