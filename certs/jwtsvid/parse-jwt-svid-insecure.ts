/**
 * Steps 1–2 of JWT-SVID validation (SPIFFE.md §3) without the signature: the token's shape,
 * header and required claims. {@link validateJwtSvid} runs this first; on its own it is
 * for display and debugging only. NOTHING it returns is authenticated.
 */
import { SigilError } from '../errors.js'
import { decodeCompactJws, MAX_COMPACT_JWS_LENGTH } from '../jws/compact-jws.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { isJwtSvidAlgorithm, JWT_SVID_ALGORITHMS, type JwtSvidAlgorithm } from './jwt-svid-algorithms.js'

/** Tokens longer than this (characters) are refused before decoding. */
export const MAX_JWT_SVID_LENGTH = MAX_COMPACT_JWS_LENGTH

const ALLOWED_HEADER_MEMBERS = new Set(['alg', 'kid', 'typ'])

/** A JWT-SVID decoded but NOT verified. */
export interface UnverifiedJwtSvid {
  readonly header: { readonly alg: JwtSvidAlgorithm; readonly kid: string; readonly typ?: 'JWT' | 'JOSE' }
  /** Every claim as sent (numbers as JSON numbers). */
  readonly claims: Readonly<Record<string, unknown>>
  readonly spiffeId: SpiffeId
  /** `aud` as a list; a bare string becomes a one-element list. */
  readonly audience: string[]
  readonly expiresAt: Date
}

/**
 * Decodes a JWT-SVID and checks its shape, header (`alg` allowed, only `alg`/`kid`/`typ`,
 * `typ` JWT or JOSE, `kid` present) and claims (`sub` a SPIFFE ID, `exp` a number, `aud`
 * present). Does NOT check the signature, expiry or audience.
 * Throws `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`, `ERR_JWT_KID_UNKNOWN` (no kid) or
 * `ERR_SPIFFE_ID_INVALID`.
 *
 * @example
 * parseJwtSvidInsecure(token).spiffeId.toString() // for a log line, never for a decision
 */
export function parseJwtSvidInsecure(
  token: string,
  allowedAlgorithms: readonly JwtSvidAlgorithm[] = JWT_SVID_ALGORITHMS,
): UnverifiedJwtSvid {
  const invalid = (why: string): never => {
    throw new SigilError('ERR_JWT_INVALID', `invalid JWT-SVID: ${why}`)
  }
  const { header, payload: claims } = decodeCompactJws(token, 'JWT-SVID')
  const alg = header.alg
  if (typeof alg !== 'string') invalid('header "alg" is missing')
  if (!isJwtSvidAlgorithm(alg) || !allowedAlgorithms.includes(alg)) {
    throw new SigilError(
      'ERR_JWT_ALG_NOT_ALLOWED',
      `JWT-SVID algorithm "${String(alg).slice(0, 20)}" is not allowed`,
    )
  }
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER_MEMBERS.has(name)) invalid(`header member "${name.slice(0, 40)}" is not allowed`)
  }
  const typ = header.typ
  if (typ !== undefined && typ !== 'JWT' && typ !== 'JOSE') invalid('header "typ" must be "JWT" or "JOSE"')
  const kid = header.kid
  if (kid === undefined || kid === '')
    throw new SigilError('ERR_JWT_KID_UNKNOWN', 'JWT-SVID header has no "kid"')
  if (typeof kid !== 'string') invalid('header "kid" must be a string')
  const sub = claims.sub
  if (sub === undefined) invalid('"sub" claim is missing')
  if (typeof sub !== 'string') invalid('"sub" claim must be a string')
  const spiffeId = SpiffeId.parse(sub as string)
  const exp = claims.exp
  if (exp === undefined) invalid('"exp" claim is missing')
  if (typeof exp !== 'number' || !Number.isFinite(exp)) invalid('"exp" claim must be a number')
  for (const name of ['iat', 'nbf']) {
    const v = claims[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v)))
      invalid(`"${name}" claim must be a number`)
  }
  const aud = claims.aud
  if (aud === undefined) invalid('"aud" claim is missing')
  const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? (aud as unknown[]) : undefined
  if (!audience || audience.length === 0 || !audience.every((a) => typeof a === 'string')) {
    invalid('"aud" claim must be a string or a non-empty array of strings')
  }
  return {
    header:
      typ === undefined
        ? { alg, kid: kid as string }
        : { alg, kid: kid as string, typ: typ as 'JWT' | 'JOSE' },
    claims,
    spiffeId,
    audience: audience as string[],
    expiresAt: new Date((exp as number) * 1000),
  }
}
