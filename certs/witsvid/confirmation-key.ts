/**
 * The workload key of a WIT-SVID as JWKs: the `cnf.jwk` claim (public, with `alg`, RFC 7800)
 * and the Workload API's `wit_svid_key` (the private JWK as a string, with `alg`). Only the
 * WIT-SVID algorithms (RS, ES, PS with SHA-256/384/512) on EC P-256/384/521 or RSA ≥ 2048 keys.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { jwkToPublicKey, type PublicJwk, publicKeyToJwk } from '../bundle/jwk.js'
import { isSigilError, SigilError } from '../errors.js'
import {
  algorithmFitsKey,
  isJwtSvidAlgorithm,
  type JwtSvidAlgorithm,
} from '../jwtsvid/jwt-svid-algorithms.js'

/** The algorithms a WIT-SVID (its signature and its `cnf.jwk.alg`) may use (WIT-SVID.md §2.3, §3.2). */
export type WitSvidAlgorithm = JwtSvidAlgorithm

/** A public JWK with its `alg`, as written into `cnf.jwk`. */
export type ConfirmationJwk = PublicJwk & { alg: WitSvidAlgorithm }

/** The default algorithm of a workload key: ES256/ES384/ES512 by curve, RS256 for RSA. */
export function defaultWitAlgorithm(key: KeyObject): WitSvidAlgorithm {
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (key.asymmetricKeyType === 'ec') {
    if (curve === 'prime256v1') return 'ES256'
    if (curve === 'secp384r1') return 'ES384'
    if (curve === 'secp521r1') return 'ES512'
  }
  if (key.asymmetricKeyType === 'rsa') return 'RS256'
  throw new SigilError(
    'ERR_KEY_UNSUPPORTED',
    `unsupported workload key ${key.asymmetricKeyType ?? 'unknown'}`,
  )
}

/**
 * The `cnf.jwk` of a workload key (public or private KeyObject; only public members written).
 * Throws `ERR_KEY_UNSUPPORTED` for a key or algorithm a WIT-SVID cannot carry.
 *
 * @example
 * const cnf = { jwk: confirmationJwk(publicKey) } // { kty: 'EC', crv: 'P-256', x, y, alg: 'ES256' }
 */
export function confirmationJwk(
  key: KeyObject,
  alg: WitSvidAlgorithm = defaultWitAlgorithm(key),
): ConfirmationJwk {
  if (!isJwtSvidAlgorithm(alg) || !algorithmFitsKey(alg, key)) {
    throw new SigilError('ERR_KEY_UNSUPPORTED', `algorithm ${String(alg)} does not fit the workload key`)
  }
  return { ...publicKeyToJwk(key), alg }
}

/**
 * Reads a `cnf.jwk` (or any public JWK that must name its `alg`): the key and its algorithm.
 * Throws `ERR_JWT_INVALID` (prefixed with `what`) when it is not an EC/RSA public JWK, names
 * no allowed `alg`, or the `alg` does not fit the key.
 */
export function readConfirmationJwk(
  jwk: unknown,
  what = '"cnf.jwk"',
): { publicKey: KeyObject; alg: WitSvidAlgorithm } {
  const fail = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_JWT_INVALID', `${what}: ${why}`, { cause })
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('must be a JSON object')
  const alg = (jwk as Record<string, unknown>).alg
  if (!isJwtSvidAlgorithm(alg))
    return fail(`"alg" must be one of RS/ES/PS 256/384/512, not ${JSON.stringify(alg) ?? 'missing'}`)
  let publicKey: KeyObject | undefined
  try {
    publicKey = jwkToPublicKey(jwk as Record<string, unknown>, what)
  } catch (cause) {
    if (isSigilError(cause)) return fail(cause.message.replace(`${what}: `, ''), cause)
    throw cause
  }
  if (publicKey === undefined) return fail('"kty" must be EC or RSA')
  if (!algorithmFitsKey(alg, publicKey)) return fail(`"alg" ${alg} does not fit the key`)
  return { publicKey, alg }
}

/**
 * The Workload API's `wit_svid_key`: the private key as a JWK string (RFC 7517) with `alg`.
 * A secret: never log it.
 */
export function privateKeyToJwkString(
  privateKey: KeyObject,
  alg: WitSvidAlgorithm = defaultWitAlgorithm(privateKey),
): string {
  if (privateKey?.type !== 'private') throw new TypeError('privateKey must be a private KeyObject')
  if (!algorithmFitsKey(alg, privateKey)) throw new TypeError(`algorithm ${alg} does not fit the key`)
  return JSON.stringify({ ...privateKey.export({ format: 'jwk' }), alg })
}

/**
 * Reads a `wit_svid_key` (a private JWK string with `alg`). Throws `ERR_KEY_INVALID` when it is
 * not a private EC/RSA JWK or its `alg` is missing, not allowed or does not fit.
 */
export function privateKeyFromJwkString(json: string): { privateKey: KeyObject; alg: WitSvidAlgorithm } {
  const fail = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_KEY_INVALID', `WIT-SVID key: ${why}`, { cause })
  }
  if (typeof json !== 'string') throw new TypeError('the WIT-SVID key must be a JWK string')
  let jwk: unknown
  try {
    jwk = JSON.parse(json)
  } catch (cause) {
    return fail('not JSON', cause)
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('not a JSON object')
  const { alg, kty } = jwk as Record<string, unknown>
  if (!isJwtSvidAlgorithm(alg)) return fail('"alg" is missing or not allowed')
  if (kty !== 'EC' && kty !== 'RSA') return fail('"kty" must be EC or RSA')
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
  } catch (cause) {
    return fail('not a valid private key', cause)
  }
  if (!algorithmFitsKey(alg, privateKey)) return fail(`"alg" ${alg} does not fit the key`)
  return { privateKey, alg }
}

/** Longest public JWK string accepted (an RSA-4096 JWK is under 1 KiB). */
export const MAX_PUBLIC_JWK_BYTES = 8 * 1024

/**
 * Reads a public JWK sent as a string (the agent's `public_key_jwk`): JSON, at most
 * {@link MAX_PUBLIC_JWK_BYTES}, an EC/RSA public key whose `alg` is allowed and fits.
 * Throws `ERR_KEY_INVALID`.
 */
export function parsePublicJwkString(json: string): { publicKey: KeyObject; alg: WitSvidAlgorithm } {
  if (typeof json !== 'string') throw new TypeError('the public key must be a JWK string')
  if (json === '' || Buffer.byteLength(json) > MAX_PUBLIC_JWK_BYTES) {
    throw new SigilError('ERR_KEY_INVALID', `public_key_jwk must be 1..${MAX_PUBLIC_JWK_BYTES} bytes`)
  }
  let jwk: unknown
  try {
    jwk = JSON.parse(json)
  } catch (cause) {
    throw new SigilError('ERR_KEY_INVALID', 'public_key_jwk is not JSON', { cause })
  }
  try {
    return readConfirmationJwk(jwk, 'public_key_jwk')
  } catch (cause) {
    if (isSigilError(cause)) throw new SigilError('ERR_KEY_INVALID', cause.message, { cause })
    throw cause
  }
}
