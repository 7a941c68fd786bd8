/**
 * Compact JWS (RFC 7515) signing and verification with `node:crypto`, synchronously: the hot
 * path of JWT-SVID and WIT-SVID minting and of WPT verification. ECDSA signatures use the
 * JOSE form (`dsaEncoding: 'ieee-p1363'`, r‖s), RSASSA-PSS a salt as long as the hash.
 * Only the algorithms of {@link JWS_ALGORITHMS} exist here (`none`, HMAC and EdDSA never);
 * every profile (JWT-SVID, WIT-SVID, WPT) narrows them further with its own allowlist.
 *
 * Trust: {@link decodeCompactJws} authenticates nothing; {@link verifyCompactJws} checks one
 * signature with the key and algorithm the caller chose (never the token's word alone).
 */
import { constants, type KeyObject, sign, verify } from 'node:crypto'
import { SigilError } from '../errors.js'
import {
  algorithmFitsKey,
  isJwtSvidAlgorithm,
  JWT_SVID_ALGORITHMS,
  type JwtSvidAlgorithm,
} from '../jwtsvid/jwt-svid-algorithms.js'

/** The signature algorithms of this module (the JWT-SVID list: RS, ES, PS with SHA-256/384/512). */
export const JWS_ALGORITHMS = JWT_SVID_ALGORITHMS
/** One of {@link JWS_ALGORITHMS}. */
export type JwsAlgorithm = JwtSvidAlgorithm

/** Tokens longer than this (characters) are refused before decoding. */
export const MAX_COMPACT_JWS_LENGTH = 64 * 1024

const HASH: Record<JwsAlgorithm, 'sha256' | 'sha384' | 'sha512'> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
}
const EC_SIGNATURE_BYTES: Partial<Record<JwsAlgorithm, number>> = { ES256: 64, ES384: 96, ES512: 132 }
const SALT_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const

/** A compact JWS split and decoded, NOT verified. */
export interface DecodedCompactJws {
  readonly header: Readonly<Record<string, unknown>>
  readonly payload: Readonly<Record<string, unknown>>
  /** `base64url(header).base64url(payload)`, the bytes the signature covers. */
  readonly signingInput: string
  readonly signature: Buffer
}

/** Base64url of the UTF-8 JSON of `value`. */
export function encodeJsonPart(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

/**
 * Signs `payload` under `header` (which must name `alg`) as a compact JWS. Throws `TypeError`
 * when the algorithm is not one of {@link JWS_ALGORITHMS} or does not fit the key.
 *
 * @example
 * const token = signCompactJws({ alg: 'ES256', typ: 'wpt+jwt' }, { aud, exp, jti }, privateKey)
 */
export function signCompactJws(
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
  privateKey: KeyObject,
): string {
  const alg = header.alg
  if (!isJwtSvidAlgorithm(alg)) throw new TypeError(`unsupported JWS algorithm "${String(alg)}"`)
  return signWithEncodedHeader(encodeJsonPart(header), alg, payload, privateKey)
}

/**
 * {@link signCompactJws} with the header already encoded (a signer encodes its constant
 * header once). The caller vouches that `encodedHeader` names `alg`.
 */
export function signWithEncodedHeader(
  encodedHeader: string,
  alg: JwsAlgorithm,
  payload: Readonly<Record<string, unknown>>,
  privateKey: KeyObject,
): string {
  if (privateKey?.type !== 'private') throw new TypeError('privateKey must be a private KeyObject')
  if (!algorithmFitsKey(alg, privateKey)) throw new TypeError(`algorithm ${alg} does not fit the key`)
  const signingInput = `${encodedHeader}.${encodeJsonPart(payload)}`
  const signature = sign(HASH[alg], Buffer.from(signingInput, 'latin1'), keyParams(alg, privateKey))
  return `${signingInput}.${signature.toString('base64url')}`
}

/**
 * Splits a compact JWS and decodes its header and payload (each a JSON object). Authenticates
 * nothing. Throws `ERR_JWT_ALG_NOT_ALLOWED` for `alg: none` (an unsecured JWS is never
 * accepted), `ERR_JWT_INVALID` (prefixed with `what`) for anything malformed: too long, JSON
 * serialization, JWE, not three parts, non-canonical base64url, not JSON objects, an empty
 * signature.
 */
export function decodeCompactJws(token: string, what = 'JWT'): DecodedCompactJws {
  if (typeof token !== 'string') throw new TypeError('token must be a string')
  const invalid = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_JWT_INVALID', `invalid ${what}: ${why}`, { cause })
  }
  if (token.length > MAX_COMPACT_JWS_LENGTH) invalid(`longer than ${MAX_COMPACT_JWS_LENGTH} characters`)
  if (token.trimStart().startsWith('{')) invalid('JWS JSON serialization is not allowed; use compact form')
  const parts = token.split('.')
  if (parts.length === 5) invalid('JWE tokens are not allowed')
  if (parts.length !== 3) invalid('compact JWS must have exactly 3 parts')
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJsonObject(h, 'header', invalid)
  if (typeof header.alg === 'string' && header.alg.toLowerCase() === 'none') {
    throw new SigilError('ERR_JWT_ALG_NOT_ALLOWED', `${what} algorithm "none" is never allowed`)
  }
  if (s === '') invalid('the signature is empty')
  const signature = decodeB64Url(s)
  if (signature === undefined) invalid('the signature is not base64url')
  return {
    header,
    payload: decodeJsonObject(p, 'payload', invalid),
    signingInput: `${h}.${p}`,
    signature: signature as Buffer,
  }
}

/**
 * True when `jws.signature` is a valid `alg` signature by `publicKey` over `jws.signingInput`.
 * False (never a throw) for a wrong key, a key that does not fit `alg`, or a malformed signature.
 */
export function verifyCompactJws(
  jws: Pick<DecodedCompactJws, 'signingInput' | 'signature'>,
  alg: JwsAlgorithm,
  publicKey: KeyObject,
): boolean {
  if (!isJwtSvidAlgorithm(alg) || !algorithmFitsKey(alg, publicKey)) return false
  const ecBytes = EC_SIGNATURE_BYTES[alg]
  if (ecBytes !== undefined && jws.signature.length !== ecBytes) return false
  try {
    return verify(
      HASH[alg],
      Buffer.from(jws.signingInput, 'latin1'),
      keyParams(alg, publicKey),
      jws.signature,
    )
  } catch {
    return false
  }
}

function keyParams(alg: JwsAlgorithm, key: KeyObject) {
  if (alg.startsWith('ES')) return { key, dsaEncoding: 'ieee-p1363' as const }
  if (alg.startsWith('PS')) {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SALT_BYTES[HASH[alg]] }
  }
  return { key }
}

const B64URL = /^[A-Za-z0-9_-]*$/

/** Decodes canonical unpadded base64url, or returns undefined. */
export function decodeB64Url(s: string): Buffer | undefined {
  if (!B64URL.test(s) || s.length % 4 === 1) return undefined
  const raw = Buffer.from(s, 'base64url')
  return raw.toString('base64url') === s ? raw : undefined
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function decodeJsonObject(
  part: string,
  name: string,
  invalid: (why: string, cause?: unknown) => never,
): Record<string, unknown> {
  const raw = decodeB64Url(part)
  if (raw === undefined) return invalid(`${name} is not base64url`)
  let value: unknown
  try {
    value = JSON.parse(UTF8.decode(raw))
  } catch (cause) {
    return invalid(`${name} is not JSON`, cause)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return invalid(`${name} is not a JSON object`)
  }
  return value as Record<string, unknown>
}
