/**
 * What the agent knows from the server, as the sync loop hands it to the workload
 * identity cache: the registration entries authorized for this agent and the bundles.
 * Also the narrow issuing interface the cache uses to get SVIDs signed (implemented by
 * the sync client over the agent API; by a local test CA in tests).
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { Selector } from '../../certs/selector/selector.js'

/** A registration entry as the agent sees it (already authorized for this agent by the server). */
export interface AuthorizedEntry {
  readonly id: string
  readonly spiffeId: string
  readonly parentId: string
  readonly selectors: readonly Selector[]
  readonly dnsNames: readonly string[]
  readonly hint: string
  readonly admin: boolean
  readonly federatesWith: readonly string[]
  readonly x509SvidTtl: number
  readonly jwtSvidTtl: number
  readonly revisionNumber: number
  readonly createdAt: Date
  /** Revoke the X509-SVIDs given to a process when it exits (entry option `--revoke-on-exit`). */
  readonly revokeOnExit?: boolean
  /** Operator metadata (entry `--owner`, `--purpose`, `--risk`), seen by agent-side policy; `''` when unset. */
  readonly owner?: string
  readonly purpose?: string
  readonly risk?: string
}

/** The complete state after one successful sync. */
export interface AuthorizedState {
  readonly entries: readonly AuthorizedEntry[]
  /** Our own trust domain's bundle. */
  readonly bundle: TrustBundle
  /** Bundles of other trust domains, by trust-domain name. */
  readonly federatedBundles: ReadonlyMap<string, TrustBundle>
}

/** One CSR to be signed for one entry. */
export interface X509SvidRequest {
  readonly entryId: string
  readonly csrDer: Buffer
}

/**
 * A signed X509-SVID for one entry, as received: the cache parses and checks its chain (once,
 * when matching it to the key it was requested for).
 */
export interface IssuedX509Svid {
  readonly entryId: string
  /** The SPIFFE ID the server says it signed (the cache checks the chain against the entry's). */
  readonly spiffeId: string
  /** DER, leaf first, then intermediates (never the root); may be views into a larger message. */
  readonly chainDer: readonly Buffer[]
}

/** A signed JWT-SVID. */
export interface IssuedJwtSvid {
  readonly token: string
  readonly spiffeId: string
  readonly issuedAt: Date
  readonly expiresAt: Date
}

/** Gets SVIDs signed by the server. Failures throw SigilError (ERR_UNAVAILABLE when unreachable). */
export interface SvidIssuer {
  newX509Svids(requests: readonly X509SvidRequest[]): Promise<IssuedX509Svid[]>
  newJwtSvid(entryId: string, audience: readonly string[]): Promise<IssuedJwtSvid>
}
