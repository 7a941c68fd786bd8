/**
 * Trust bundles on PostgreSQL: one row per trust domain, the SPIFFE bundle kept as opaque JSON
 * text. Runs inside the error translation of `PostgresDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import { type BundleRow, bundleFromRow } from '../record-rows.js'
import type { BundleInput, BundleRecord } from '../records.js'
import { BUNDLE_LOCK_CLASS } from './advisory-locks.js'
import type { Queryable } from './pg-sql.js'

const SELECT_BUNDLE = 'SELECT trust_domain, spiffe_bundle_json, sequence_number, updated_at FROM bundles'

/** Bundle queries; callers provide error translation. */
export const bundleTable = {
  async set(q: Queryable, trustDomain: string, bundle: BundleInput, now: Date): Promise<BundleRecord> {
    await q.run(
      `INSERT INTO bundles (trust_domain, spiffe_bundle_json, sequence_number, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (trust_domain) DO UPDATE SET spiffe_bundle_json = excluded.spiffe_bundle_json,
       sequence_number = excluded.sequence_number, updated_at = excluded.updated_at`,
      [trustDomain, bundle.spiffeBundleJson, bundle.sequenceNumber, now.getTime()],
    )
    return { trustDomain, ...bundle, updatedAt: new Date(now.getTime()) }
  },

  /**
   * Read-modify-write inside the caller's transaction: the trust domain's advisory lock first
   * (a row lock alone cannot serialize two servers creating the first bundle: there is no row
   * yet), then the row itself FOR UPDATE.
   */
  async update(
    q: Queryable,
    trustDomain: string,
    merge: (stored: BundleRecord | undefined) => BundleInput | undefined,
    now: Date,
  ): Promise<BundleRecord | undefined> {
    await q.run('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BUNDLE_LOCK_CLASS, trustDomain])
    const row = await q.one<BundleRow>(`${SELECT_BUNDLE} WHERE trust_domain = $1 FOR UPDATE`, [trustDomain])
    const stored = row === undefined ? undefined : bundleFromRow(row)
    const next = merge(stored)
    return next === undefined ? stored : bundleTable.set(q, trustDomain, next, now)
  },

  async get(q: Queryable, trustDomain: string): Promise<BundleRecord | undefined> {
    const row = await q.one<BundleRow>(`${SELECT_BUNDLE} WHERE trust_domain = $1`, [trustDomain])
    return row === undefined ? undefined : bundleFromRow(row)
  },

  async list(q: Queryable): Promise<BundleRecord[]> {
    return (await q.rows<BundleRow>(`${SELECT_BUNDLE} ORDER BY trust_domain`)).map(bundleFromRow)
  },

  async delete(q: Queryable, trustDomain: string): Promise<void> {
    if ((await q.run('DELETE FROM bundles WHERE trust_domain = $1', [trustDomain])) === 0) {
      throw new SigilError('ERR_NOT_FOUND', `no bundle for trust domain ${trustDomain}`)
    }
  },
}
