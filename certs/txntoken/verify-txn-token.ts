/**
 * Txn-Token verification against a JWT bundle: header exactly `{alg, kid, typ:
 * "txntoken+jwt"}` with an allowed algorithm; the key by `kid` in the bundle of the expected
 * trust domain; the signature (jose, one-algorithm allowlist); `aud` = that trust domain;
 * `exp`/`iat` with the JWT-SVID leeway; `exp` not past `tctx.deadline`; every required claim
 * of the shape `sign-txn-token.ts` writes; `act` a well-formed chain.
 *
 * Trust: a Txn-Token from another trust domain is refused (`ERR_TRUST_DOMAIN_MISMATCH`): it
 * is only meaningful inside the domain that issued it. Revocation is not checked here; the
 * caller asks its revocation source about the returned `txn`.
 */
import { decodeProtectedHeader, jwtVerify } from 'jose'
import type { TrustBundle } from '../bundle/trust-bundle.js'
import { SigilError } from '../errors.js'
import { isJwtSvidAlgorithm } from '../jwtsvid/jwt-svid-algorithms.js'
import { MAX_JWT_SVID_LENGTH } from '../jwtsvid/parse-jwt-svid-insecure.js'
import { DEFAULT_JWT_LEEWAY_SECONDS, jwtVerificationKey, mapJoseError } from '../jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { TrustDomain } from '../spiffeid/trust-domain.js'
import { parseActClaim } from './act-chain.js'
import { TXN_TOKEN_TYPE } from './sign-txn-token.js'

/** Options for {@link verifyTxnToken}. */
export interface VerifyTxnTokenOptions {
  /** The trust domain the token must be for (its `aud`). */
  trustDomain: TrustDomain
  /** That trust domain's bundle (its JWT authorities verify the signature). */
  bundle: TrustBundle
  now?: Date
  /** Default {@link DEFAULT_JWT_LEEWAY_SECONDS}. */
  leewaySeconds?: number
}

/** A verified Txn-Token. */
export interface VerifiedTxnToken {
  /** The task ID (`txn`). */
  txn: string
  /** The principal the work is for (`sub`). */
  subject: string
  requestingWorkload: SpiffeId
  purpose: string
  scope: string[]
  deadline: Date
  issuedAt: Date
  expiresAt: Date
  /** Actors from `act`, current first; `[]` when not delegated. */
  actors: string[]
  /** Every claim as sent. */
  claims: Record<string, unknown>
}

const ALLOWED_HEADER_MEMBERS = new Set(['alg', 'kid', 'typ'])

/**
 * Verifies a Txn-Token. Throws `SigilError` with `ERR_JWT_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_KID_UNKNOWN`, `ERR_JWT_SIGNATURE_INVALID`, `ERR_JWT_EXPIRED`,
 * `ERR_JWT_NOT_YET_VALID` or `ERR_TRUST_DOMAIN_MISMATCH`; `TypeError` for bad options.
 *
 * @example
 * const { txn, subject, actors } = await verifyTxnToken(req.headers['txn-token'], { trustDomain, bundle })
 */
export async function verifyTxnToken(token: string, opts: VerifyTxnTokenOptions): Promise<VerifiedTxnToken> {
  const { trustDomain, bundle } = opts ?? {}
  if (!(trustDomain instanceof TrustDomain)) throw new TypeError('trustDomain must be a TrustDomain')
  if (typeof bundle !== 'object' || bundle === null || !bundle.trustDomain?.equals(trustDomain)) {
    throw new TypeError("bundle must be the trust domain's TrustBundle")
  }
  const now = opts.now ?? new Date()
  const skew = opts.leewaySeconds ?? DEFAULT_JWT_LEEWAY_SECONDS
  if (typeof token !== 'string') throw new TypeError('token must be a string')
  const invalid = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_JWT_INVALID', `invalid Txn-Token: ${why}`, { cause })
  }
  if (token.length > MAX_JWT_SVID_LENGTH) invalid(`longer than ${MAX_JWT_SVID_LENGTH} characters`)
  if (token.split('.').length !== 3) invalid('compact JWS must have exactly 3 parts')
  let header: Record<string, unknown> = {}
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>
  } catch (cause) {
    invalid('malformed header', cause)
  }
  const alg = header.alg
  if (!isJwtSvidAlgorithm(alg)) {
    throw new SigilError('ERR_JWT_ALG_NOT_ALLOWED', `algorithm "${String(alg).slice(0, 20)}" is not allowed`)
  }
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER_MEMBERS.has(name)) invalid(`header member "${name.slice(0, 40)}" is not allowed`)
  }
  if (header.typ !== TXN_TOKEN_TYPE) invalid(`header "typ" must be "${TXN_TOKEN_TYPE}"`)
  const kid = header.kid
  if (typeof kid !== 'string' || kid === '')
    throw new SigilError('ERR_JWT_KID_UNKNOWN', 'Txn-Token has no "kid"')
  const publicKey = jwtVerificationKey(bundle, kid, alg)
  let claims: Record<string, unknown> = {}
  try {
    const verified = await jwtVerify(token, publicKey, {
      algorithms: [alg],
      currentDate: now,
      clockTolerance: skew,
      typ: TXN_TOKEN_TYPE,
      requiredClaims: ['exp', 'iat'],
    })
    claims = verified.payload as Record<string, unknown>
  } catch (cause) {
    const [code, why] = mapJoseError(cause)
    throw new SigilError(code, `Txn-Token rejected: ${why}`, { cause })
  }
  if (claims.aud !== trustDomain.idString()) {
    throw new SigilError(
      'ERR_TRUST_DOMAIN_MISMATCH',
      `Txn-Token is not for trust domain "${trustDomain.name}"`,
    )
  }
  const iat = claims.iat as number
  if (iat > Math.floor(now.getTime() / 1000) + skew) {
    throw new SigilError('ERR_JWT_NOT_YET_VALID', 'Txn-Token rejected: "iat" is in the future')
  }
  const str = (name: string, v: unknown): string =>
    typeof v === 'string' && v !== '' ? v : invalid(`"${name}" must be a non-empty string`)
  const txn = str('txn', claims.txn)
  const subject = str('sub', claims.sub)
  const scopeText = str('scope', claims.scope)
  let requestingWorkload: SpiffeId
  try {
    requestingWorkload = SpiffeId.parse(str('req_wl', claims.req_wl))
  } catch (cause) {
    return invalid('"req_wl" must be a SPIFFE ID', cause)
  }
  const tctx = claims.tctx as { purpose?: unknown; scope?: unknown; deadline?: unknown } | undefined
  if (typeof tctx !== 'object' || tctx === null || Array.isArray(tctx)) invalid('"tctx" must be an object')
  const { purpose, scope, deadline } = tctx as { purpose?: unknown; scope?: unknown; deadline?: unknown }
  if (typeof purpose !== 'string') invalid('"tctx.purpose" must be a string')
  if (!Array.isArray(scope) || scope.length === 0 || !scope.every((s) => typeof s === 'string' && s !== '')) {
    invalid('"tctx.scope" must be a non-empty list of strings')
  }
  if ((scope as string[]).join(' ') !== scopeText) invalid('"scope" and "tctx.scope" disagree')
  if (typeof deadline !== 'number' || !Number.isSafeInteger(deadline))
    invalid('"tctx.deadline" must be a number')
  const exp = claims.exp as number
  if (exp > (deadline as number)) invalid('"exp" is past "tctx.deadline"')
  return {
    txn,
    subject,
    requestingWorkload,
    purpose: purpose as string,
    scope: [...(scope as string[])],
    deadline: new Date((deadline as number) * 1000),
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    actors: parseActClaim(claims.act),
    claims: { ...claims },
  }
}
