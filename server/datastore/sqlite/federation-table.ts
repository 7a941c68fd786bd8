/**
 * Federation relationships on SQLite (migration 7): one row per foreign trust domain, with
 * its bundle endpoint and the state of the refreshes; and the sequence-checked write of a
 * fetched bundle into `bundles`. Runs inside the error translation of `SqliteDataStore`.
 */
import { SigilError } from '../../../certs/errors.js'
import { type RelationshipRow, relationshipFromRow } from '../record-rows.js'
import type {
  BundleInput,
  BundleRecord,
  FederatedBundleOutcome,
  FederationRefreshRecord,
  FederationRelationship,
  FederationRelationshipInput,
} from '../records.js'
import type { BundleTable } from './bundle-table.js'
import type { Sql } from './sql.js'

const SELECT = `SELECT trust_domain, bundle_endpoint_url, bundle_endpoint_profile, endpoint_spiffe_id, created_at,
  last_refresh_at, next_refresh_at, last_error FROM federation_relationships`

const notFound = (trustDomain: string): SigilError =>
  new SigilError('ERR_NOT_FOUND', `no federation relationship with trust domain ${trustDomain}`)

/** Relationship queries; callers provide error translation and transactions. */
export class FederationTable {
  readonly #sql: Sql
  readonly #bundles: BundleTable

  constructor(sql: Sql, bundles: BundleTable) {
    this.#sql = sql
    this.#bundles = bundles
  }

  create(input: FederationRelationshipInput, nextRefreshAt: Date, now: Date): FederationRelationship {
    if (this.get(input.trustDomain) !== undefined) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        `a federation relationship with trust domain ${input.trustDomain} already exists (use federation update)`,
      )
    }
    this.#sql.run(
      `INSERT INTO federation_relationships (trust_domain, bundle_endpoint_url, bundle_endpoint_profile,
         endpoint_spiffe_id, created_at, next_refresh_at)
       VALUES (@trustDomain, @url, @profile, @endpointId, @createdAt, @nextRefreshAt)`,
      {
        trustDomain: input.trustDomain,
        url: input.bundleEndpointUrl,
        profile: input.bundleEndpointProfile,
        endpointId: input.endpointSpiffeId,
        createdAt: now.getTime(),
        nextRefreshAt: nextRefreshAt.getTime(),
      },
    )
    return this.get(input.trustDomain) as FederationRelationship
  }

  get(trustDomain: string): FederationRelationship | undefined {
    const row = this.#sql.get<RelationshipRow>(`${SELECT} WHERE trust_domain = @trustDomain`, { trustDomain })
    return row === undefined ? undefined : relationshipFromRow(row)
  }

  list(): FederationRelationship[] {
    return this.#sql.all<RelationshipRow>(`${SELECT} ORDER BY trust_domain`).map(relationshipFromRow)
  }

  update(input: FederationRelationshipInput, nextRefreshAt: Date): FederationRelationship {
    const changed = this.#sql.run(
      `UPDATE federation_relationships SET bundle_endpoint_url = @url, bundle_endpoint_profile = @profile,
         endpoint_spiffe_id = @endpointId, next_refresh_at = @nextRefreshAt WHERE trust_domain = @trustDomain`,
      {
        trustDomain: input.trustDomain,
        url: input.bundleEndpointUrl,
        profile: input.bundleEndpointProfile,
        endpointId: input.endpointSpiffeId,
        nextRefreshAt: nextRefreshAt.getTime(),
      },
    )
    if (changed === 0) throw notFound(input.trustDomain)
    return this.get(input.trustDomain) as FederationRelationship
  }

  delete(trustDomain: string): void {
    if (
      this.#sql.run('DELETE FROM federation_relationships WHERE trust_domain = @trustDomain', {
        trustDomain,
      }) === 0
    ) {
      throw notFound(trustDomain)
    }
  }

  recordRefresh(trustDomain: string, r: FederationRefreshRecord): void {
    const changed = this.#sql.run(
      `UPDATE federation_relationships SET last_refresh_at = @at, next_refresh_at = @nextRefreshAt,
         last_error = @error WHERE trust_domain = @trustDomain`,
      { trustDomain, at: r.at.getTime(), nextRefreshAt: r.nextRefreshAt.getTime(), error: r.error },
    )
    if (changed === 0) throw notFound(trustDomain)
  }

  storeBundle(
    trustDomain: string,
    bundle: BundleInput,
    now: Date,
  ): { outcome: FederatedBundleOutcome; record: BundleRecord } {
    const stored = this.#bundles.get(trustDomain)
    if (stored === undefined || bundle.sequenceNumber > stored.sequenceNumber) {
      return { outcome: 'stored', record: this.#bundles.set(trustDomain, bundle, now) }
    }
    const same =
      bundle.sequenceNumber === stored.sequenceNumber && bundle.spiffeBundleJson === stored.spiffeBundleJson
    return { outcome: same ? 'unchanged' : 'stale', record: stored }
  }
}
