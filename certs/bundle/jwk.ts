/**
 * Public keys as JWKs (RFC 7517/7518) for bundles: EC (P-256, P-384, P-521) and RSA only.
 * Export writes members in a fixed order and full-length EC coordinates (go-jose rejects
 * short ones, SPIFFE.md §7.13); import is strict and never carries private material.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { SigilError } from '../errors.js'

/** A public EC or RSA JWK, members in the order we write them. */
export type PublicJwk =
  | { kty: 'EC'; crv: 'P-256' | 'P-384' | 'P-521'; x: string; y: string }
  | { kty: 'RSA'; n: string; e: string }

/** Byte length of one coordinate per curve. */
const COORDINATE_BYTES: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 }
const CURVE_BY_NODE_NAME: Record<string, 'P-256' | 'P-384' | 'P-521'> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
}
/** JWT-SVID keys need RSA moduli of at least this many bits (jose refuses smaller ones). */
export const MIN_RSA_BITS = 2048
const B64URL = /^[A-Za-z0-9_-]+$/
const B64STD = /^[A-Za-z0-9+/]+={0,2}$/
/** JWK members that only private or symmetric keys carry. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

/** Why `key` cannot be a bundle key, or undefined when it can (EC P-256/384/521, RSA ≥ 2048). */
export function unsupportedKeyReason(key: KeyObject): string | undefined {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec') {
    return d?.namedCurve && CURVE_BY_NODE_NAME[d.namedCurve]
      ? undefined
      : `unsupported EC curve ${d?.namedCurve}`
  }
  if (key.asymmetricKeyType === 'rsa') {
    return (d?.modulusLength ?? 0) >= MIN_RSA_BITS ? undefined : `RSA key shorter than ${MIN_RSA_BITS} bits`
  }
  return `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`
}

/**
 * The public JWK of an EC or RSA key (public or private KeyObject; only public members are written).
 *
 * @example
 * publicKeyToJwk(publicKey) // { kty: 'EC', crv: 'P-256', x: '…', y: '…' }
 */
export function publicKeyToJwk(key: KeyObject): PublicJwk {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const why = unsupportedKeyReason(pub)
  if (why) throw new SigilError('ERR_KEY_UNSUPPORTED', why)
  const jwk = pub.export({ format: 'jwk' })
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) }
  const crv = CURVE_BY_NODE_NAME[pub.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'P-256'
  const size = COORDINATE_BYTES[crv] ?? 32
  return { kty: 'EC', crv, x: padCoordinate(String(jwk.x), size), y: padCoordinate(String(jwk.y), size) }
}

function padCoordinate(b64url: string, size: number): string {
  const raw = Buffer.from(b64url, 'base64url')
  if (raw.length >= size) return b64url
  return Buffer.concat([Buffer.alloc(size - raw.length), raw]).toString('base64url')
}

/**
 * Reads the public key of a bundle JWK. Returns undefined when `kty` is one we do not
 * understand (the spec says to ignore such keys); throws `ERR_BUNDLE_INVALID` when an EC
 * or RSA key is malformed, carries private members, or uses an unsupported curve or size.
 */
export function jwkToPublicKey(jwk: Record<string, unknown>, where: string): KeyObject | undefined {
  const fail = (why: string): never => {
    throw new SigilError('ERR_BUNDLE_INVALID', `${where}: ${why}`)
  }
  const kty = jwk.kty
  if (typeof kty !== 'string') fail('"kty" is missing or not a string')
  if (kty !== 'EC' && kty !== 'RSA') return undefined
  for (const m of PRIVATE_MEMBERS) if (Object.hasOwn(jwk, m)) fail(`carries private key member "${m}"`)
  let input: PublicJwk
  if (kty === 'EC') {
    const { crv, x, y } = jwk
    const size = typeof crv === 'string' ? COORDINATE_BYTES[crv] : undefined
    if (size === undefined) fail(`unsupported or missing "crv" ${JSON.stringify(crv) ?? ''}`)
    if (!isB64Url(x) || !isB64Url(y)) fail('"x" and "y" must be base64url')
    if (decodedLength(x as string) !== size || decodedLength(y as string) !== size) {
      fail(`"x" and "y" must be full-length ${size}-byte coordinates for ${crv}`)
    }
    input = { kty: 'EC', crv: crv as 'P-256', x: x as string, y: y as string }
  } else {
    const { n, e } = jwk
    if (!isB64Url(n) || !isB64Url(e)) fail('"n" and "e" must be base64url')
    input = { kty: 'RSA', n: n as string, e: e as string }
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: input, format: 'jwk' })
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `${where}: not a valid ${kty} public key`, { cause })
  }
  const why = unsupportedKeyReason(key)
  if (why) fail(why)
  return key
}

/** True for a canonical unpadded base64url string (no stray trailing bits). */
export function isB64Url(s: unknown): s is string {
  return typeof s === 'string' && B64URL.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s
}

/** Decodes canonical standard padded base64 (the `x5c` form), or returns undefined. */
export function decodeStdBase64(s: unknown): Buffer | undefined {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !B64STD.test(s)) return undefined
  const raw = Buffer.from(s, 'base64')
  return raw.toString('base64') === s ? raw : undefined
}

function decodedLength(b64url: string): number {
  return Buffer.from(b64url, 'base64url').length
}
