/**
 * JWT-SVID validation against trust bundles, in the order of SPIFFE.md §3:
 * (1) compact form, allowed `alg`, header members, `typ`, `kid`; (2) `sub`/`exp`/`aud`, `sub`
 * a SPIFFE ID; (3) the bundle of `sub`'s trust domain, the key by `kid`, the signature
 * (through jose's `jwtVerify`, with a one-algorithm allowlist); (4) times; (5) audience.
 *
 * Decisions: times use one leeway for `exp`, `nbf` and `iat`, the `leewaySeconds` option
 * (default {@link DEFAULT_JWT_LEEWAY_SECONDS}, 30 s; at most {@link MAX_JWT_LEEWAY_SECONDS};
 * go-jose uses 60 s, java-spiffe 0 s on `exp`): a token is accepted up to that long after its
 * `exp`, and refused when its `nbf` or `iat` lies further ahead; an `nbf` or `iat` beyond it
 * gives `ERR_JWT_NOT_YET_VALID`. Audience: the token passes when ANY expected audience is in
 * `aud` (go-spiffe's rule; the Workload API's ValidateJWTSVID passes exactly one). A JWT
 * authority's local `expiresAt` is not consulted: a key is trusted while it is in the bundle.
 */
import type { KeyObject } from 'node:crypto'
import { errors, jwtVerify } from 'jose'
import { TrustBundle } from '../bundle/trust-bundle.js'
import { type ErrorCode, SigilError } from '../errors.js'
import type { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import {
  algorithmFitsKey,
  isJwtSvidAlgorithm,
  JWT_SVID_ALGORITHMS,
  type JwtSvidAlgorithm,
} from './jwt-svid-algorithms.js'
import { parseJwtSvidInsecure } from './parse-jwt-svid-insecure.js'

/** Default leeway for `exp`, `nbf` and `iat`, in seconds (clock skew between issuer and validator). */
export const DEFAULT_JWT_LEEWAY_SECONDS = 30
/** Largest leeway accepted: beyond it a short-lived JWT-SVID's `exp` would mean little. */
export const MAX_JWT_LEEWAY_SECONDS = 300

/** Options for {@link validateJwtSvid}. */
export interface ValidateJwtSvidOptions {
  /** The audience(s) the caller answers to; the token passes if any one is in `aud`. */
  audience: string | readonly string[]
  /** The bundle of a trust domain, or undefined when the caller does not trust it. */
  bundleFor: (trustDomain: TrustDomain) => TrustBundle | undefined
  now?: Date
  /** Leeway for `exp`, `nbf` and `iat`, 0..{@link MAX_JWT_LEEWAY_SECONDS}; default {@link DEFAULT_JWT_LEEWAY_SECONDS}. */
  leewaySeconds?: number
  /** A subset of {@link JWT_SVID_ALGORITHMS}; default all of them. */
  allowedAlgorithms?: readonly JwtSvidAlgorithm[]
  /**
   * A revocation list (e.g. the SDK's `RevocationFeed`): after every other check, a token whose
   * `jti`, or whose Txn-Token `txn` claim, is revoked is refused with `ERR_SVID_REVOKED`.
   */
  revocations?: { isRevoked(q: { jti?: string; txn?: string }): boolean }
}

/** A validated JWT-SVID. */
export interface ValidatedJwtSvid {
  spiffeId: SpiffeId
  /** Every claim of the payload as sent. */
  claims: Record<string, unknown>
  expiresAt: Date
  /** `aud` as a list (a bare string becomes a one-element list). */
  audience: string[]
}

/**
 * Validates a JWT-SVID. Throws `SigilError` with `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_KID_UNKNOWN`, `ERR_SPIFFE_ID_INVALID`, `ERR_BUNDLE_NOT_FOUND`,
 * `ERR_JWT_SIGNATURE_INVALID`, `ERR_JWT_EXPIRED`, `ERR_JWT_NOT_YET_VALID` or
 * `ERR_JWT_AUDIENCE_MISMATCH` (or `ERR_SVID_REVOKED` with `revocations`); `TypeError` for bad options.
 *
 * @example
 * const { spiffeId } = await validateJwtSvid(token, { audience: 'spiffe://example.org/db', bundleFor: (td) => bundles.get(td.name) })
 */
export async function validateJwtSvid(
  token: string,
  opts: ValidateJwtSvidOptions,
): Promise<ValidatedJwtSvid> {
  const { expected, bundleFor, now, skew, algorithms } = checkOptions(opts)
  // Steps 1 and 2.
  const parsed = parseJwtSvidInsecure(token, algorithms)
  const { alg, kid } = parsed.header
  const td = parsed.spiffeId.trustDomain
  // Step 3.
  const bundle = bundleFor(td)
  if (bundle === undefined) {
    throw new SigilError('ERR_BUNDLE_NOT_FOUND', `no JWT bundle for trust domain "${td.name}"`)
  }
  if (!(bundle instanceof TrustBundle) || !bundle.trustDomain.equals(td)) {
    throw new TypeError(`bundleFor("${td.name}") must return that trust domain's TrustBundle or undefined`)
  }
  const publicKey = jwtVerificationKey(bundle, kid, alg)
  // Steps 3 (signature) and 4 (exp, nbf).
  try {
    await jwtVerify(token, publicKey, { algorithms: [alg], currentDate: now, clockTolerance: skew })
  } catch (cause) {
    const [code, why] = mapJoseError(cause)
    throw new SigilError(code, `JWT-SVID rejected: ${why}`, { cause })
  }
  // Step 4 (iat): go-jose also refuses tokens issued in the future.
  const iat = parsed.claims.iat
  if (typeof iat === 'number' && iat > Math.floor(now.getTime() / 1000) + skew) {
    throw new SigilError('ERR_JWT_NOT_YET_VALID', 'JWT-SVID rejected: "iat" is in the future')
  }
  // Step 5.
  if (!parsed.audience.some((a) => expected.includes(a))) {
    throw new SigilError('ERR_JWT_AUDIENCE_MISMATCH', 'JWT-SVID rejected: no expected audience is in "aud"')
  }
  if (opts.revocations !== undefined) {
    const { jti, txn } = parsed.claims
    const q = {
      ...(typeof jti === 'string' ? { jti } : {}),
      ...(typeof txn === 'string' ? { txn } : {}),
    }
    if ((q.jti !== undefined || q.txn !== undefined) && opts.revocations.isRevoked(q)) {
      throw new SigilError('ERR_SVID_REVOKED', 'JWT-SVID rejected: it has been revoked')
    }
  }
  return {
    spiffeId: parsed.spiffeId,
    claims: { ...parsed.claims },
    expiresAt: parsed.expiresAt,
    audience: [...parsed.audience],
  }
}

/**
 * The public key of JWT authority `kid` in `bundle`, if it can verify `alg` (shared with the
 * Txn-Token verifier). Throws `ERR_JWT_KID_UNKNOWN` or `ERR_JWT_SIGNATURE_INVALID`.
 */
export function jwtVerificationKey(bundle: TrustBundle, kid: string, alg: JwtSvidAlgorithm): KeyObject {
  const authority = bundle.findJwtAuthority(kid)
  if (authority === undefined) {
    throw new SigilError(
      'ERR_JWT_KID_UNKNOWN',
      `kid "${kid.slice(0, 80)}" is not in the bundle of "${bundle.trustDomain.name}"`,
    )
  }
  if (!algorithmFitsKey(alg, authority.publicKey)) {
    throw new SigilError('ERR_JWT_SIGNATURE_INVALID', `the key "${kid.slice(0, 80)}" cannot verify ${alg}`)
  }
  return authority.publicKey
}

/** A jose verification error as a Sigil code and a short reason (shared with the Txn-Token verifier). */
export function mapJoseError(e: unknown): [ErrorCode, string] {
  if (e instanceof errors.JWSSignatureVerificationFailed)
    return ['ERR_JWT_SIGNATURE_INVALID', 'bad signature']
  if (e instanceof errors.JWTExpired) return ['ERR_JWT_EXPIRED', 'expired']
  if (e instanceof errors.JWTClaimValidationFailed && e.claim === 'nbf') {
    return ['ERR_JWT_NOT_YET_VALID', '"nbf" is in the future']
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return ['ERR_JWT_ALG_NOT_ALLOWED', 'algorithm not allowed']
  return ['ERR_JWT_INVALID', e instanceof Error ? e.message.slice(0, 200) : 'malformed token']
}

function checkOptions(opts: ValidateJwtSvidOptions): {
  expected: readonly string[]
  bundleFor: ValidateJwtSvidOptions['bundleFor']
  now: Date
  skew: number
  algorithms: readonly JwtSvidAlgorithm[]
} {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options are required')
  const expected = typeof opts.audience === 'string' ? [opts.audience] : opts.audience
  if (
    !Array.isArray(expected) ||
    expected.length === 0 ||
    !expected.every((a) => typeof a === 'string' && a !== '')
  ) {
    throw new TypeError('audience must be a non-empty string or a non-empty array of non-empty strings')
  }
  if (typeof opts.bundleFor !== 'function') throw new TypeError('bundleFor must be a function')
  const now = opts.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
  const skew = opts.leewaySeconds ?? DEFAULT_JWT_LEEWAY_SECONDS
  if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0 || skew > MAX_JWT_LEEWAY_SECONDS) {
    throw new TypeError(`leewaySeconds must be a number from 0 to ${MAX_JWT_LEEWAY_SECONDS}`)
  }
  const algorithms = opts.allowedAlgorithms ?? JWT_SVID_ALGORITHMS
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every(isJwtSvidAlgorithm)) {
    throw new TypeError(`allowedAlgorithms must be a non-empty subset of ${JWT_SVID_ALGORITHMS.join(', ')}`)
  }
  return { expected, bundleFor: opts.bundleFor, now, skew, algorithms }
}
