/**
 * Workload API messages built from cache snapshots (SPIFFE.md §5.3, §7): raw DER, certificates
 * concatenated, PKCS#8 keys, bundle maps keyed `spiffe://td`, plain JWKS for JWT bundles. Our own
 * trust domain is always in the bundle maps; a federated trust domain with no keys of the kind
 * a message carries is left out of that message.
 */
import { encodeJwtBundle, encodeWitBundle } from '../../certs/bundle/jwt-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { JWTBundlesResponse } from '../../proto/generated/JWTBundlesResponse.js'
import type { WITBundlesResponse } from '../../proto/generated/WITBundlesResponse.js'
import type { WITSVIDResponse } from '../../proto/generated/WITSVIDResponse.js'
import type { X509BundlesResponse } from '../../proto/generated/X509BundlesResponse.js'
import type { X509SVIDResponse } from '../../proto/generated/X509SVIDResponse.js'
import type { IdentitySnapshot } from '../cache/identity-subscription.js'
import type { WitIdentitySnapshot } from '../cache/wit-svid-source.js'

/**
 * The FetchX509SVID message for a snapshot (the caller checks `svids` is not empty).
 *
 * @example
 * call.write(x509SvidResponse(snapshot))
 */
export function x509SvidResponse(s: IdentitySnapshot): X509SVIDResponse {
  const bundle = s.bundle.x509AuthoritiesConcatenated()
  return {
    svids: s.svids.map((v) => ({
      spiffe_id: v.spiffeId,
      x509_svid: concatenated(v.chainDer),
      x509_svid_key: v.privateKeyPkcs8Der,
      bundle,
      hint: v.hint,
    })),
    crl: [...(s.crls ?? [])],
    federated_bundles: x509BundleMap(s.federatedBundles.values()),
  }
}

/**
 * The certificates of a chain as one buffer: a view of the same memory when they lie back to
 * back in one block (as the cache stores an SVID), else a copy. Either way the same bytes; the
 * view spares a copy of every SVID on every push.
 *
 * @example
 * concatenated([leafDer, caDer]).equals(Buffer.concat([leafDer, caDer])) // true
 */
export function concatenated(chain: readonly Buffer[]): Buffer {
  const first = chain[0]
  if (first === undefined || chain.length === 1) return first ?? Buffer.alloc(0)
  let end = first.byteOffset + first.length
  for (let i = 1; i < chain.length; i++) {
    const b = chain[i]!
    if (b.buffer !== first.buffer || b.byteOffset !== end) return Buffer.concat(chain)
    end += b.length
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset)
}

/** The FetchX509Bundles message: our bundle plus the federated ones, as concatenated DER. */
export function x509BundlesResponse(s: IdentitySnapshot): X509BundlesResponse {
  return {
    crl: [...(s.crls ?? [])],
    bundles: {
      [s.bundle.trustDomain.idString()]: s.bundle.x509AuthoritiesConcatenated(),
      ...x509BundleMap(s.federatedBundles.values()),
    },
  }
}

/** The FetchJWTBundles message: our bundle plus the federated ones, as plain JWKS (JWT keys only). */
export function jwtBundlesResponse(s: IdentitySnapshot): JWTBundlesResponse {
  const bundles: Record<string, Buffer> = { [s.bundle.trustDomain.idString()]: jwks(s.bundle) }
  for (const b of s.federatedBundles.values()) {
    if (b.jwtAuthorities.length > 0) bundles[b.trustDomain.idString()] = jwks(b)
  }
  return { bundles }
}

/**
 * The FetchWITSVID message: the process's WIT-SVIDs with their private keys (JWK strings),
 * only those for `spiffeId` when the request names one; undefined when none is left.
 */
export function witSvidResponse(s: WitIdentitySnapshot, spiffeId = ''): WITSVIDResponse | undefined {
  const wits = spiffeId === '' ? s.wits : s.wits.filter((w) => w.spiffeId === spiffeId)
  if (wits.length === 0) return undefined
  return {
    svids: wits.map((w) => ({
      spiffe_id: w.spiffeId,
      wit_svid: w.token,
      wit_svid_key: w.privateKeyJwk,
      hint: w.hint,
    })),
  }
}

/** The FetchWITBundles message: our WIT keys plus the federated domains' that have any, as plain JWKS strings. */
export function witBundlesResponse(s: IdentitySnapshot): WITBundlesResponse {
  const bundles: Record<string, string> = { [s.bundle.trustDomain.idString()]: encodeWitBundle(s.bundle) }
  for (const b of s.federatedBundles.values()) {
    if (b.witAuthorities.length > 0) bundles[b.trustDomain.idString()] = encodeWitBundle(b)
  }
  return { bundles }
}

function x509BundleMap(bundles: Iterable<TrustBundle>): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const b of bundles) {
    if (b.x509Authorities.length > 0) out[b.trustDomain.idString()] = b.x509AuthoritiesConcatenated()
  }
  return out
}

function jwks(b: TrustBundle): Buffer {
  return Buffer.from(encodeJwtBundle(b), 'utf8')
}

/**
 * A canonical fingerprint of a bundle map, to skip a message equal to the previous one.
 *
 * @example
 * if (bundleMapKey(msg.bundles) !== last) call.write(msg)
 */
export function bundleMapKey(
  bundles: Readonly<Record<string, Buffer | Uint8Array | string>> | undefined,
): string {
  return Object.entries(bundles ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${Buffer.from(v).toString('base64')}`)
    .join(';')
}
