/**
 * Decoding of the agent API's messages into the agent's own types. The channel is
 * authenticated (mutual TLS with a verified server SVID), but every field is still checked:
 * bundles must name our trust domain and parse, entries must carry valid SPIFFE IDs and
 * selectors; workload SVID chains are parsed and checked by the cache (once, where they are
 * matched to their keys). A malformed message throws a `SigilError`.
 */
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { parseSelector } from '../../certs/selector/selector.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { RevocationUpdate__Output } from '../../proto/generated/sigil/agent/v1/RevocationUpdate.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { Bundle__Output } from '../../proto/generated/sigil/common/v1/Bundle.js'
import type { RegistrationEntry__Output } from '../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import type { X509Svid__Output } from '../../proto/generated/sigil/common/v1/X509Svid.js'
import type { AuthorizedEntry, AuthorizedState, IssuedX509Svid } from '../cache/authorized-state.js'
import type { RevocationPiece } from '../cache/revocation-set.js'

/** A wire bundle as a {@link TrustBundle}; if `expected` is given, it must be that trust domain. */
export function bundleFromWire(
  bundle: Bundle__Output | null | undefined,
  expected?: TrustDomain,
): TrustBundle {
  if (!bundle) throw new SigilError('ERR_BUNDLE_INVALID', 'the server sent no bundle')
  let td: TrustDomain
  try {
    td = TrustDomain.parse(bundle.trust_domain)
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `bundle names an invalid trust domain`, { cause })
  }
  if (expected && !td.equals(expected)) {
    throw new SigilError('ERR_TRUST_DOMAIN_MISMATCH', `bundle is for "${td}", expected "${expected}"`)
  }
  const decoded = decodeSpiffeBundle(td, bundle.spiffe_bundle)
  const seq = bundle.sequence_number
  return seq > 0 && decoded.sequenceNumber !== seq ? decoded.withSequence(seq) : decoded
}

/** A wire entry as an {@link AuthorizedEntry}. */
export function entryFromWire(e: RegistrationEntry__Output): AuthorizedEntry {
  const fail = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_ENTRY_INVALID', `entry "${e.id}" from the server: ${why}`, { cause })
  }
  if (!e.id) fail('no entry ID')
  try {
    SpiffeId.parse(e.spiffe_id)
    SpiffeId.parse(e.parent_id)
  } catch (cause) {
    fail('invalid SPIFFE ID', cause)
  }
  const selectors = e.selectors.map((s) => {
    try {
      return parseSelector(`${s.type}:${s.value}`)
    } catch (cause) {
      return fail('invalid selector', cause)
    }
  })
  return {
    id: e.id,
    spiffeId: e.spiffe_id,
    parentId: e.parent_id,
    selectors,
    dnsNames: [...e.dns_names],
    hint: e.hint,
    admin: e.admin,
    federatesWith: [...e.federates_with],
    x509SvidTtl: e.x509_svid_ttl,
    jwtSvidTtl: e.jwt_svid_ttl,
    revisionNumber: e.revision_number,
    createdAt: new Date(e.created_at * 1000),
    revokeOnExit: e.revoke_on_exit === true,
    owner: e.owner ?? '',
    purpose: e.purpose ?? '',
    risk: e.risk ?? '',
  }
}

/**
 * A SyncAuthorizedEntries answer as the cache's {@link AuthorizedState}; bundles are decoded with
 * `decodeBundle` (default {@link bundleFromWire}; the server client passes its `BundleMemo`). An
 * entry whose wire fields all equal those of the same entry in `previous` (the last answer's
 * entries, by ID) is that entry, not converted and checked again: a sync repeats every entry
 * every few seconds.
 */
export function authorizedStateFromWire(
  res: SyncAuthorizedEntriesResponse__Output,
  trustDomain: TrustDomain,
  decodeBundle: (
    b: Bundle__Output | null | undefined,
    expected?: TrustDomain,
  ) => TrustBundle = bundleFromWire,
  previous: ReadonlyMap<string, AuthorizedEntry> = new Map(),
): AuthorizedState {
  const bundle = decodeBundle(res.bundle, trustDomain)
  const federatedBundles = new Map<string, TrustBundle>()
  for (const b of res.federated_bundles) {
    const fb = decodeBundle(b)
    if (fb.trustDomain.equals(trustDomain)) continue
    federatedBundles.set(fb.trustDomain.name, fb)
  }
  const entries = res.entries.map((e) => {
    const known = previous.get(e.id)
    return known !== undefined && sameEntry(known, e) ? known : entryFromWire(e)
  })
  return { entries, bundle, federatedBundles }
}

/** True when converting `e` would give `known` again (compares without allocating). */
function sameEntry(known: AuthorizedEntry, e: RegistrationEntry__Output): boolean {
  return (
    known.id === e.id &&
    known.spiffeId === e.spiffe_id &&
    known.parentId === e.parent_id &&
    known.hint === e.hint &&
    known.admin === e.admin &&
    known.x509SvidTtl === e.x509_svid_ttl &&
    known.jwtSvidTtl === e.jwt_svid_ttl &&
    known.revisionNumber === e.revision_number &&
    known.createdAt.getTime() === e.created_at * 1000 &&
    (known.revokeOnExit === true) === (e.revoke_on_exit === true) &&
    (known.owner ?? '') === (e.owner ?? '') &&
    (known.purpose ?? '') === (e.purpose ?? '') &&
    (known.risk ?? '') === (e.risk ?? '') &&
    sameStrings(known.dnsNames, e.dns_names) &&
    sameStrings(known.federatesWith, e.federates_with) &&
    known.selectors.length === e.selectors.length &&
    known.selectors.every((s, i) => s.type === e.selectors[i]?.type && s.value === e.selectors[i]?.value)
  )
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/**
 * A wire X509-SVID (for `entryId`) as an {@link IssuedX509Svid}: its chain must not be empty; it
 * is parsed and checked by the cache, which matches it to the key it was requested for.
 */
export function issuedX509SvidFromWire(entryId: string, svid: X509Svid__Output | null): IssuedX509Svid {
  if (!svid || svid.cert_chain.length === 0) {
    throw new SigilError('ERR_SVID_INVALID', `the server returned no SVID for entry "${entryId}"`)
  }
  return { entryId, spiffeId: svid.spiffe_id, chainDer: svid.cert_chain }
}

/** A pushed or synced revocation update as the agent's {@link RevocationPiece}. */
export function revocationPieceFromWire(u: RevocationUpdate__Output): RevocationPiece {
  return {
    snapshot: u.snapshot,
    sequence: Number(u.sequence),
    revoked: u.revoked.map((r) => ({
      kind: r.kind,
      value: r.value,
      expiresAtMs: Number(r.expires_at) * 1000,
    })),
  }
}
