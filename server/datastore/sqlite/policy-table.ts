/**
 * Policy versions on SQLite: one `policy_versions` row per stored Cedar policy set, numbered
 * 1, 2, 3 … in order; rows are only ever appended. Runs inside the transactions and error
 * translation of `SqliteDataStore`; inputs arrive already checked by `validate-records.ts`.
 */

import { type PolicyVersionRow, policyVersionFromRow } from '../record-rows.js'
import type { PolicyVersionInput, PolicyVersionRecord } from '../records.js'
import type { Sql } from './sql.js'

interface PolicyRow extends Omit<PolicyVersionRow, 'policy_ids'> {
  policy_ids: string
}

const SELECT_POLICY =
  'SELECT version, text, sha256, created_at, admin_caller, policy_ids FROM policy_versions'

const toPolicy = (row: PolicyRow): PolicyVersionRecord =>
  policyVersionFromRow({ ...row, policy_ids: JSON.parse(row.policy_ids) as string[] })

/** Policy version queries; callers provide transactions and error translation. */
export class PolicyTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  /** Appends the next version (call inside a write transaction). */
  add(input: PolicyVersionInput, now: Date): PolicyVersionRecord {
    const latest = this.#sql.get<{ v: number }>('SELECT COALESCE(MAX(version), 0) AS v FROM policy_versions')
    const version = (latest?.v ?? 0) + 1
    this.#sql.run(
      `INSERT INTO policy_versions (version, text, sha256, created_at, admin_caller, policy_ids)
       VALUES (@version, @text, @sha256, @createdAt, @adminCaller, @policyIds)`,
      {
        version,
        text: input.text,
        sha256: input.sha256,
        createdAt: now.getTime(),
        adminCaller: input.adminCaller,
        policyIds: JSON.stringify(input.policyIds),
      },
    )
    return { version, ...input, policyIds: [...input.policyIds], createdAt: new Date(now.getTime()) }
  }

  /** The given version, or the latest when `version` is undefined. */
  get(version?: number): PolicyVersionRecord | undefined {
    const row =
      version === undefined
        ? this.#sql.get<PolicyRow>(`${SELECT_POLICY} ORDER BY version DESC LIMIT 1`)
        : this.#sql.get<PolicyRow>(`${SELECT_POLICY} WHERE version = @version`, { version })
    return row === undefined ? undefined : toPolicy(row)
  }

  /** Every version, newest first. */
  list(): PolicyVersionRecord[] {
    return this.#sql.all<PolicyRow>(`${SELECT_POLICY} ORDER BY version DESC`).map(toPolicy)
  }
}
