/**
 * The bundle maps of Workload API messages (SPIFFE.md §5.3): keys are trust-domain IDs
 * (`spiffe://td`; a bare `td` is accepted, as go-spiffe and java-spiffe do), values are the
 * concatenated DER of CA certificates (X.509) or a JWKS of JWT keys (JWT). Decoded into
 * {@link TrustBundle}s keyed by trust-domain name. The agent is the trusted source of these
 * bundles; this module only checks they are well formed, and never merges trust domains.
 */
import { decodeDerBundle } from '../certs/bundle/der-bundle.js'
import { decodeJwtBundle, decodeWitBundle } from '../certs/bundle/jwt-bundle-json.js'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'

/** Bundles by trust-domain name (`example.org`). */
export type BundleMap = ReadonlyMap<string, TrustBundle>

/**
 * Decodes a map of trust-domain ID → concatenated DER CA certificates.
 *
 * @example
 * const bundles = decodeX509BundleMap(resp.bundles) // Map { 'example.org' => TrustBundle }
 */
export function decodeX509BundleMap(map: Readonly<Record<string, Buffer>>): Map<string, TrustBundle> {
  return decodeMap(map, 'X.509', (td, value) => decodeDerBundle(td, value))
}

/**
 * Decodes a map of trust-domain ID → JWKS bytes of JWT authorities.
 *
 * @example
 * const bundles = decodeJwtBundleMap(resp.bundles)
 * bundles.get('example.org')?.findJwtAuthority(kid)
 */
export function decodeJwtBundleMap(map: Readonly<Record<string, Buffer>>): Map<string, TrustBundle> {
  return decodeMap(map, 'JWT', (td, value) => decodeJwtBundle(td, value))
}

/**
 * Decodes a map of trust-domain ID → JWKS string of WIT authorities (FetchWITBundles).
 *
 * @example
 * decodeWitBundleMap(resp.bundles).get('example.org')?.findWitAuthority(kid)
 */
export function decodeWitBundleMap(map: Readonly<Record<string, string>>): Map<string, TrustBundle> {
  return decodeMap(map, 'WIT', (td, value) => decodeWitBundle(td, value))
}

function decodeMap<V extends Buffer | string>(
  map: Readonly<Record<string, V>>,
  kind: string,
  decode: (td: TrustDomain, value: V) => TrustBundle,
): Map<string, TrustBundle> {
  const out = new Map<string, TrustBundle>()
  for (const [key, value] of Object.entries(map ?? {})) {
    const td = trustDomainOfKey(key, kind)
    if (out.has(td.name)) {
      throw new SigilError('ERR_BUNDLE_INVALID', `${kind} bundle map names trust domain "${td.name}" twice`)
    }
    out.set(td.name, decode(td, value))
  }
  return out
}

/**
 * The trust domain of a bundle map key (`spiffe://td` or `td`); throws `ERR_BUNDLE_INVALID`.
 *
 * @example
 * trustDomainOfKey('spiffe://example.org').name // 'example.org'
 */
export function trustDomainOfKey(key: string, kind = 'bundle'): TrustDomain {
  try {
    return TrustDomain.parse(key)
  } catch (cause) {
    throw new SigilError(
      'ERR_BUNDLE_INVALID',
      `${kind} bundle map key "${key.slice(0, 100)}" is not a trust domain`,
      {
        cause,
      },
    )
  }
}
