/**
 * Federation relationships on PostgreSQL (PG migration 4 = SQLite 4): one row per foreign trust
 * domain, with its bundle endpoint and the state of the refreshes; and the sequence-checked
 * write of a fetched bundle into `bundles` (the bundle row is locked first, so two servers
 * storing the same trust domain's bundle decide one after the other).
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
import { bundleTable } from './bundle-table.js'
import type { Queryable } from './pg-sql.js'

const SELECT = `SELECT trust_domain, bundle_endpoint_url, bundle_endpoint_profile, endpoint_spiffe_id, created_at,
  last_refresh_at, next_refresh_at, last_error FROM federation_relationships`

const notFound = (trustDomain: string): SigilError =>
  new SigilError('ERR_NOT_FOUND', `no federation relationship with trust domain ${trustDomain}`)

async function getRelationship(
  q: Queryable,
  trustDomain: string,
): Promise<FederationRelationship | undefined> {
  const row = await q.one<RelationshipRow>(`${SELECT} WHERE trust_domain = $1`, [trustDomain])
  return row === undefined ? undefined : relationshipFromRow(row)
}

/** Relationship queries; callers provide error translation and transactions. */
export const federationTable = {
  async create(
    q: Queryable,
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
    now: Date,
  ): Promise<FederationRelationship> {
    const inserted = await q.run(
      `INSERT INTO federation_relationships (trust_domain, bundle_endpoint_url, bundle_endpoint_profile,
         endpoint_spiffe_id, created_at, next_refresh_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (trust_domain) DO NOTHING`,
      [
        input.trustDomain,
        input.bundleEndpointUrl,
        input.bundleEndpointProfile,
        input.endpointSpiffeId,
        now.getTime(),
        nextRefreshAt.getTime(),
      ],
    )
    if (inserted === 0) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        `a federation relationship with trust domain ${input.trustDomain} already exists (use federation update)`,
      )
    }
    return (await getRelationship(q, input.trustDomain))!
  },

  get: getRelationship,

  async list(q: Queryable): Promise<FederationRelationship[]> {
    return (await q.rows<RelationshipRow>(`${SELECT} ORDER BY trust_domain`)).map(relationshipFromRow)
  },

  async update(
    q: Queryable,
    input: FederationRelationshipInput,
    nextRefreshAt: Date,
  ): Promise<FederationRelationship> {
    const changed = await q.run(
      `UPDATE federation_relationships SET bundle_endpoint_url = $2, bundle_endpoint_profile = $3,
         endpoint_spiffe_id = $4, next_refresh_at = $5 WHERE trust_domain = $1`,
      [
        input.trustDomain,
        input.bundleEndpointUrl,
        input.bundleEndpointProfile,
        input.endpointSpiffeId,
        nextRefreshAt.getTime(),
      ],
    )
    if (changed === 0) throw notFound(input.trustDomain)
    return (await getRelationship(q, input.trustDomain))!
  },

  async delete(q: Queryable, trustDomain: string): Promise<void> {
    if ((await q.run('DELETE FROM federation_relationships WHERE trust_domain = $1', [trustDomain])) === 0) {
      throw notFound(trustDomain)
    }
  },

  async recordRefresh(q: Queryable, trustDomain: string, r: FederationRefreshRecord): Promise<void> {
    const changed = await q.run(
      `UPDATE federation_relationships SET last_refresh_at = $2, next_refresh_at = $3, last_error = $4
       WHERE trust_domain = $1`,
      [trustDomain, r.at.getTime(), r.nextRefreshAt.getTime(), r.error],
    )
    if (changed === 0) throw notFound(trustDomain)
  },

  /** Stores a fetched bundle unless it is older (inside a write transaction). */
  async storeBundle(
    q: Queryable,
    trustDomain: string,
    bundle: BundleInput,
    now: Date,
  ): Promise<{ outcome: FederatedBundleOutcome; record: BundleRecord }> {
    await q.run('SELECT 1 FROM bundles WHERE trust_domain = $1 FOR UPDATE', [trustDomain])
    const stored = await bundleTable.get(q, trustDomain)
    if (stored === undefined || bundle.sequenceNumber > stored.sequenceNumber) {
      return { outcome: 'stored', record: await bundleTable.set(q, trustDomain, bundle, now) }
    }
    const same =
      bundle.sequenceNumber === stored.sequenceNumber && bundle.spiffeBundleJson === stored.spiffeBundleJson
    return { outcome: same ? 'unchanged' : 'stale', record: stored }
  },
}
