/**
 * Policy versions on PostgreSQL (PG migration 6 = SQLite 6): one `policy_versions` row per
 * stored Cedar policy set, numbered 1, 2, 3 … in order; rows are only ever appended. Appends
 * lock the table first, so two servers adding a version number them one after the other.
 */
import { type PolicyVersionRow, policyVersionFromRow } from '../record-rows.js'
import type { PolicyVersionInput, PolicyVersionRecord } from '../records.js'
import type { Queryable } from './pg-sql.js'

const SELECT_POLICY =
  'SELECT version, text, sha256, created_at, admin_caller, policy_ids FROM policy_versions'

/** Policy version queries; callers provide transactions and error translation. */
export const policyTable = {
  /** Appends the next version (inside a write transaction). */
  async add(q: Queryable, input: PolicyVersionInput, now: Date): Promise<PolicyVersionRecord> {
    // self-conflicting, reads still pass: concurrent appends take turns
    await q.run('LOCK TABLE policy_versions IN SHARE ROW EXCLUSIVE MODE')
    const latest = await q.one<{ v: number }>(
      'SELECT COALESCE(MAX(version), 0)::bigint AS v FROM policy_versions',
    )
    const version = (latest?.v ?? 0) + 1
    await q.run(
      `INSERT INTO policy_versions (version, text, sha256, created_at, admin_caller, policy_ids)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [version, input.text, input.sha256, now.getTime(), input.adminCaller, [...input.policyIds]],
    )
    return { version, ...input, policyIds: [...input.policyIds], createdAt: new Date(now.getTime()) }
  },

  /** The given version, or the latest when `version` is undefined. */
  async get(q: Queryable, version?: number): Promise<PolicyVersionRecord | undefined> {
    const row =
      version === undefined
        ? await q.one<PolicyVersionRow>(`${SELECT_POLICY} ORDER BY version DESC LIMIT 1`)
        : await q.one<PolicyVersionRow>(`${SELECT_POLICY} WHERE version = $1`, [version])
    return row === undefined ? undefined : policyVersionFromRow(row)
  },

  /** Every version, newest first. */
  async list(q: Queryable): Promise<PolicyVersionRecord[]> {
    return (await q.rows<PolicyVersionRow>(`${SELECT_POLICY} ORDER BY version DESC`)).map(
      policyVersionFromRow,
    )
  },
}
