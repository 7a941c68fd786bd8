/**
 * Trust bundles on SQLite: one row per trust domain, the SPIFFE bundle kept as opaque JSON
 * text. Runs inside the error translation of `SqliteDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import { type BundleRow, bundleFromRow } from '../record-rows.js'
import type { BundleInput, BundleRecord } from '../records.js'
import type { Sql } from './sql.js'

const SELECT_BUNDLE = 'SELECT trust_domain, spiffe_bundle_json, sequence_number, updated_at FROM bundles'

/** Bundle queries; callers provide error translation. */
export class BundleTable {
  readonly #sql: Sql

  constructor(sql: Sql) {
    this.#sql = sql
  }

  set(trustDomain: string, bundle: BundleInput, now: Date): BundleRecord {
    this.#sql.run(
      `INSERT INTO bundles (trust_domain, spiffe_bundle_json, sequence_number, updated_at)
       VALUES (@trustDomain, @json, @sequenceNumber, @updatedAt)
       ON CONFLICT (trust_domain) DO UPDATE SET spiffe_bundle_json = excluded.spiffe_bundle_json,
       sequence_number = excluded.sequence_number, updated_at = excluded.updated_at`,
      {
        trustDomain,
        json: bundle.spiffeBundleJson,
        sequenceNumber: bundle.sequenceNumber,
        updatedAt: now.getTime(),
      },
    )
    return { trustDomain, ...bundle, updatedAt: new Date(now.getTime()) }
  }

  get(trustDomain: string): BundleRecord | undefined {
    const row = this.#sql.get<BundleRow>(`${SELECT_BUNDLE} WHERE trust_domain = @trustDomain`, {
      trustDomain,
    })
    return row === undefined ? undefined : bundleFromRow(row)
  }

  list(): BundleRecord[] {
    return this.#sql.all<BundleRow>(`${SELECT_BUNDLE} ORDER BY trust_domain`).map(bundleFromRow)
  }

  delete(trustDomain: string): void {
    if (this.#sql.run('DELETE FROM bundles WHERE trust_domain = @trustDomain', { trustDomain }) === 0) {
      throw new SigilError('ERR_NOT_FOUND', `no bundle for trust domain ${trustDomain}`)
    }
  }
}
