/**
 * WIT-SVID validation against trust bundles (WIT-SVID.md §4): compact JWS; header exactly
 * `{alg, kid, typ: "wit+jwt"}` with an allowed `alg`; `sub` a SPIFFE ID; `exp` present; no
 * `aud` (a token with an audience is not a WIT-SVID); `cnf.jwk` a public EC/RSA key with an
 * allowed `alg` that fits it; the key by `kid` among the WIT authorities (`use: "wit-svid"`) of
 * `sub`'s trust domain, never a JWT authority; the signature; `exp`/`nbf`/`iat` with a leeway.
 *
 * Trust: a valid WIT-SVID proves nothing about its presenter. It MUST be accepted only with a
 * proof of possession of the `cnf` key (a WPT: `../wpt/verify-workload-proof-token.ts`).
 */
import type { KeyObject } from 'node:crypto'
import { TrustBundle } from '../bundle/trust-bundle.js'
import { SigilError } from '../errors.js'
import { type DecodedCompactJws, decodeCompactJws, verifyCompactJws } from '../jws/compact-jws.js'
import { algorithmFitsKey, isJwtSvidAlgorithm } from '../jwtsvid/jwt-svid-algorithms.js'
import { DEFAULT_JWT_LEEWAY_SECONDS, MAX_JWT_LEEWAY_SECONDS } from '../jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { readConfirmationJwk, type WitSvidAlgorithm } from './confirmation-key.js'
import { WIT_SVID_TYPE } from './wit-svid-signer.js'

const HEADER_MEMBERS = new Set(['alg', 'kid', 'typ'])

/** Options for {@link validateWitSvid}. */
export interface ValidateWitSvidOptions {
  /** The bundle of a trust domain, or undefined when the caller does not trust it. */
  bundleFor: (trustDomain: TrustDomain) => TrustBundle | undefined
  now?: Date
  /** Leeway for `exp`, `nbf`, `iat`, 0..300 s; default 30 s. */
  leewaySeconds?: number
}

/** A WIT-SVID decoded and checked in shape, NOT verified. */
export interface UnverifiedWitSvid {
  readonly jws: DecodedCompactJws
  readonly alg: WitSvidAlgorithm
  readonly kid: string
  readonly spiffeId: SpiffeId
  readonly claims: Readonly<Record<string, unknown>>
  readonly expiresAt: Date
  readonly confirmationKey: KeyObject
  readonly confirmationAlgorithm: WitSvidAlgorithm
}

/** A validated WIT-SVID. */
export interface ValidatedWitSvid {
  spiffeId: SpiffeId
  expiresAt: Date
  /** `jti` when present (audit only: the spec does not make it a revocation handle). */
  jti: string | undefined
  /** The workload key a proof of possession must be signed with, and its algorithm. */
  confirmationKey: KeyObject
  confirmationAlgorithm: WitSvidAlgorithm
  /** Every claim as sent. */
  claims: Record<string, unknown>
}

/**
 * Decodes a WIT-SVID and checks header and claims without the signature or times. For display,
 * or as step one of {@link validateWitSvid}. Throws `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_KID_UNKNOWN` (no kid) or `ERR_SPIFFE_ID_INVALID`.
 */
export function parseWitSvidInsecure(token: string): UnverifiedWitSvid {
  const jws = decodeCompactJws(token, 'WIT-SVID')
  const invalid = (why: string): never => {
    throw new SigilError('ERR_JWT_INVALID', `invalid WIT-SVID: ${why}`)
  }
  const { alg, kid, typ } = jws.header
  if (!isJwtSvidAlgorithm(alg)) {
    throw new SigilError(
      'ERR_JWT_ALG_NOT_ALLOWED',
      `WIT-SVID algorithm "${String(alg).slice(0, 20)}" is not allowed`,
    )
  }
  for (const name of Object.keys(jws.header)) {
    if (!HEADER_MEMBERS.has(name)) invalid(`header member "${name.slice(0, 40)}" is not allowed`)
  }
  if (typ !== WIT_SVID_TYPE) invalid(`header "typ" must be "${WIT_SVID_TYPE}"`)
  if (kid === undefined || kid === '')
    throw new SigilError('ERR_JWT_KID_UNKNOWN', 'WIT-SVID header has no "kid"')
  if (typeof kid !== 'string') invalid('header "kid" must be a string')
  const claims = jws.payload
  if (typeof claims.sub !== 'string') invalid('"sub" claim is missing or not a string')
  const spiffeId = SpiffeId.parse(claims.sub as string)
  const exp = claims.exp
  if (typeof exp !== 'number' || !Number.isFinite(exp)) invalid('"exp" claim is missing or not a number')
  for (const name of ['iat', 'nbf']) {
    const v = claims[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v)))
      invalid(`"${name}" claim must be a number`)
  }
  if (Object.hasOwn(claims, 'aud')) invalid('"aud" is not allowed in a WIT-SVID')
  if (claims.jti !== undefined && typeof claims.jti !== 'string') invalid('"jti" claim must be a string')
  const cnf = claims.cnf
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
    invalid('"cnf" claim is missing or not an object')
  const { publicKey, alg: confirmationAlgorithm } = readConfirmationJwk((cnf as Record<string, unknown>).jwk)
  return {
    jws,
    alg,
    kid: kid as string,
    spiffeId,
    claims,
    expiresAt: new Date((exp as number) * 1000),
    confirmationKey: publicKey,
    confirmationAlgorithm,
  }
}

/**
 * Validates a WIT-SVID. Throws `SigilError` with `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_KID_UNKNOWN`, `ERR_SPIFFE_ID_INVALID`, `ERR_BUNDLE_NOT_FOUND`,
 * `ERR_JWT_SIGNATURE_INVALID`, `ERR_JWT_EXPIRED` or `ERR_JWT_NOT_YET_VALID`.
 *
 * @example
 * const wit = validateWitSvid(token, { bundleFor: (td) => witBundles.get(td.name) })
 * // then verify the WPT with wit.confirmationKey
 */
export function validateWitSvid(token: string, opts: ValidateWitSvidOptions): ValidatedWitSvid {
  const { now, skew } = checkOptions(opts)
  const parsed = parseWitSvidInsecure(token)
  const td = parsed.spiffeId.trustDomain
  const bundle = opts.bundleFor(td)
  if (bundle === undefined)
    throw new SigilError('ERR_BUNDLE_NOT_FOUND', `no WIT bundle for trust domain "${td.name}"`)
  if (!(bundle instanceof TrustBundle) || !bundle.trustDomain.equals(td)) {
    throw new TypeError(`bundleFor("${td.name}") must return that trust domain's TrustBundle or undefined`)
  }
  const authority = bundle.findWitAuthority(parsed.kid)
  if (authority === undefined) {
    throw new SigilError(
      'ERR_JWT_KID_UNKNOWN',
      `kid "${parsed.kid.slice(0, 80)}" is not a WIT authority of "${td.name}"`,
    )
  }
  if (
    !algorithmFitsKey(parsed.alg, authority.publicKey) ||
    !verifyCompactJws(parsed.jws, parsed.alg, authority.publicKey)
  ) {
    throw new SigilError('ERR_JWT_SIGNATURE_INVALID', 'WIT-SVID rejected: bad signature')
  }
  checkTimes(parsed.claims, now, skew, 'WIT-SVID')
  const jti = parsed.claims.jti
  return {
    spiffeId: parsed.spiffeId,
    expiresAt: parsed.expiresAt,
    jti: typeof jti === 'string' ? jti : undefined,
    confirmationKey: parsed.confirmationKey,
    confirmationAlgorithm: parsed.confirmationAlgorithm,
    claims: { ...parsed.claims },
  }
}

/**
 * `exp` (required), `nbf` and `iat` against `now` with `skew` seconds of leeway. Throws
 * `ERR_JWT_EXPIRED` or `ERR_JWT_NOT_YET_VALID`. Shared with the WPT verifier.
 */
export function checkTimes(
  claims: Readonly<Record<string, unknown>>,
  now: Date,
  skew: number,
  what: string,
): void {
  const t = Math.floor(now.getTime() / 1000)
  if (typeof claims.exp !== 'number' || !(t < claims.exp + skew)) {
    throw new SigilError('ERR_JWT_EXPIRED', `${what} rejected: expired`)
  }
  for (const name of ['nbf', 'iat']) {
    const v = claims[name]
    if (typeof v === 'number' && v > t + skew) {
      throw new SigilError('ERR_JWT_NOT_YET_VALID', `${what} rejected: "${name}" is in the future`)
    }
  }
}

/** `now` and the leeway of validation options (shared with the WPT verifier). */
export function checkOptions(
  opts: { bundleFor?: unknown; now?: Date; leewaySeconds?: number },
  needBundle = true,
): {
  now: Date
  skew: number
} {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options are required')
  if (needBundle && typeof opts.bundleFor !== 'function') throw new TypeError('bundleFor must be a function')
  const now = opts.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
  const skew = opts.leewaySeconds ?? DEFAULT_JWT_LEEWAY_SECONDS
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0 || skew > MAX_JWT_LEEWAY_SECONDS) {
    throw new TypeError(`leewaySeconds must be a number from 0 to ${MAX_JWT_LEEWAY_SECONDS}`)
  }
  return { now, skew }
}
