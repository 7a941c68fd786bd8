/**
 * The plain JWKS of JWT authorities that FetchJWTBundles carries (SPIFFE.md §5.3, §6,
 * §7.14): JWT keys only, each with its `kid`, no `use`, no `spiffe_*` members. FetchWITBundles
 * carries the WIT authorities the same way (`encodeWitBundle` / `decodeWitBundle`). go-spiffe's
 * `jwtbundle.Parse` fails on a key without `kid`, so we never write one and never accept one.
 */
import { SigilError } from '../errors.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { jwkToPublicKey, type PublicJwk, publicKeyToJwk } from './jwk.js'
import { isObject, member, parseStrictJsonObject } from './strict-json.js'
import { type JwtAuthority, TrustBundle } from './trust-bundle.js'

/** A JWT authority's public JWK with its `kid`. */
export type JwtAuthorityJwk = PublicJwk & { kid: string }

/**
 * A JWT authority as a JWK carrying its `kid` (no `use`).
 *
 * @example
 * jwtAuthorityToJwk({ kid: 'k1', publicKey }) // { kty: 'EC', crv: 'P-256', x, y, kid: 'k1' }
 */
export function jwtAuthorityToJwk(authority: JwtAuthority): JwtAuthorityJwk {
  return { ...publicKeyToJwk(authority.publicKey), kid: authority.kid }
}

/**
 * Encodes a bundle's JWT authorities as a plain JWKS (X.509 authorities are left out).
 *
 * @example
 * bundles.set(td.idString(), Buffer.from(encodeJwtBundle(bundle)))
 */
export function encodeJwtBundle(bundle: TrustBundle): string {
  if (!(bundle instanceof TrustBundle)) throw new TypeError('bundle must be a TrustBundle')
  return JSON.stringify({ keys: bundle.jwtAuthorities.map(jwtAuthorityToJwk) })
}

/**
 * Decodes a JWKS of JWT authorities into a bundle with JWT authorities only (sequence 0).
 * Keys whose `kty` we do not understand, or whose `use` is present but is neither
 * `jwt-svid` nor `sig`, are ignored; a key without `kid` throws `ERR_BUNDLE_INVALID`.
 *
 * @example
 * const jwtBundle = decodeJwtBundle(TrustDomain.parse('example.org'), resp.bundles['spiffe://example.org'])
 */
export function decodeJwtBundle(trustDomain: TrustDomain, json: string | Uint8Array): TrustBundle {
  return TrustBundle.create({ trustDomain, jwtAuthorities: decodeKeySet(json, 'JWT bundle', 'jwt-svid') })
}

/**
 * Encodes a bundle's WIT authorities as a plain JWKS (FetchWITBundles), each key with its `kid`.
 *
 * @example
 * bundles[td.idString()] = encodeWitBundle(bundle)
 */
export function encodeWitBundle(bundle: TrustBundle): string {
  if (!(bundle instanceof TrustBundle)) throw new TypeError('bundle must be a TrustBundle')
  return JSON.stringify({ keys: bundle.witAuthorities.map(jwtAuthorityToJwk) })
}

/**
 * Decodes a JWKS of WIT authorities (FetchWITBundles) into a bundle with WIT authorities only.
 * Keys whose `use` is present but neither `wit-svid` nor `sig` are ignored; a key without
 * `kid` throws `ERR_BUNDLE_INVALID`.
 */
export function decodeWitBundle(trustDomain: TrustDomain, json: string | Uint8Array): TrustBundle {
  return TrustBundle.create({ trustDomain, witAuthorities: decodeKeySet(json, 'WIT bundle', 'wit-svid') })
}

function decodeKeySet(json: string | Uint8Array, what: string, use: 'jwt-svid' | 'wit-svid'): JwtAuthority[] {
  const doc = parseStrictJsonObject(json, what)
  const keys = member(doc, 'keys')
  if (!Array.isArray(keys)) throw new SigilError('ERR_BUNDLE_INVALID', `${what}: "keys" must be an array`)
  const authorities: JwtAuthority[] = []
  for (const [i, key] of (keys as unknown[]).entries()) {
    if (!isObject(key)) throw new SigilError('ERR_BUNDLE_INVALID', `${what}: key ${i} is not a JSON object`)
    const keyUse = member(key, 'use')
    if (keyUse !== undefined && keyUse !== use && keyUse !== 'sig') continue
    const kid = member(key, 'kid')
    if (typeof kid !== 'string' || kid === '') {
      throw new SigilError('ERR_BUNDLE_INVALID', `${what}: key ${i} has no "kid"`)
    }
    const publicKey = jwkToPublicKey(key, `${what} key ${i}`)
    if (publicKey !== undefined) authorities.push({ kid, publicKey })
  }
  return authorities
}
