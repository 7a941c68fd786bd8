/**
 * The JWS algorithms a JWT-SVID may use (SPIFFE.md §3): RS, ES and PS with SHA-256/384/512.
 * `none`, HMAC (`HS*`) and `EdDSA` are never accepted; go-spiffe, SPIRE and java-spiffe
 * hard-code the same list.
 */
import type { KeyObject } from 'node:crypto'

/** Every algorithm a JWT-SVID validator may accept. */
export const JWT_SVID_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const

/** One of {@link JWT_SVID_ALGORITHMS}. */
export type JwtSvidAlgorithm = (typeof JWT_SVID_ALGORITHMS)[number]

const CURVE_FOR: Partial<Record<JwtSvidAlgorithm, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
}

/** True when `alg` is one of {@link JWT_SVID_ALGORITHMS}. */
export function isJwtSvidAlgorithm(alg: unknown): alg is JwtSvidAlgorithm {
  return typeof alg === 'string' && (JWT_SVID_ALGORITHMS as readonly string[]).includes(alg)
}

/** True when `key` (public or private) can sign or verify with `alg`: ESxxx needs its curve, RS/PS need RSA. */
export function algorithmFitsKey(alg: JwtSvidAlgorithm, key: KeyObject): boolean {
  const curve = CURVE_FOR[alg]
  if (curve !== undefined)
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === curve
  return key.asymmetricKeyType === 'rsa'
}
