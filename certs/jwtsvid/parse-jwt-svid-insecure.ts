/**
 * Steps 1–2 of JWT-SVID validation (SPIFFE.md §3) without the signature: the token's shape,
 * header and required claims. {@link validateJwtSvid} runs this first; on its own it is
 * for display and debugging only. NOTHING it returns is authenticated.
 */
import { base64url } from 'jose'
import { SigilError } from '../errors.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { isJwtSvidAlgorithm, JWT_SVID_ALGORITHMS, type JwtSvidAlgorithm } from './jwt-svid-algorithms.js'

/** Tokens longer than this (characters) are refused before decoding. */
export const MAX_JWT_SVID_LENGTH = 64 * 1024

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
  if (typeof token !== 'string') throw new TypeError('token must be a string')
  const invalid = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_JWT_INVALID', `invalid JWT-SVID: ${why}`, { cause })
  }
  if (token.length > MAX_JWT_SVID_LENGTH) invalid(`longer than ${MAX_JWT_SVID_LENGTH} characters`)
  if (token.trimStart().startsWith('{')) invalid('JWS JSON serialization is not allowed; use compact form')
  const parts = token.split('.')
  if (parts.length === 5) invalid('JWE tokens are not allowed')
  if (parts.length !== 3) invalid('compact JWS must have exactly 3 parts')
  const [h, p, s] = parts as [string, string, string]

  const header = decodeJsonPart(h, 'header', invalid)
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
  if (s === '') invalid('the signature is empty')

  const claims = decodeJsonPart(p, 'payload', invalid)
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

function decodeJsonPart(
  part: string,
  name: string,
  invalid: (why: string, cause?: unknown) => never,
): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(part)))
  } catch (cause) {
    invalid(`${name} is not base64url-encoded JSON`, cause)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    invalid(`${name} is not a JSON object`)
  return value as Record<string, unknown>
}
