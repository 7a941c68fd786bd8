/**
 * Transaction Tokens (draft-ietf-oauth-transaction-tokens-10) for Sigil tasks: a short-lived
 * JWT that carries the immutable context of one task through a call chain inside one trust
 * domain. Header `{alg, kid, typ: "txntoken+jwt"}`; claims `txn` (the task ID), `sub` (the
 * principal the work is for), `aud` (the trust domain, `spiffe://<td>`), `scope` (the task's
 * audiences, space-separated as in RFC 8693), `req_wl` (the SPIFFE ID of the workload that
 * asked), `tctx` (`purpose`, `scope` as a list, `deadline` in unix seconds), `iat`, `exp`
 * (never past the deadline), `act` (RFC 8693 actor chain) when delegated, `iss` when the
 * signer has one. Signed with the JWT authority key (the same kid the JWT bundle publishes).
 *
 * Trust: like the JWT-SVID signer, this signs whatever it is given; deciding that the caller
 * may start this task, with this scope and deadline, is the caller's job.
 */
import { SigilError } from '../errors.js'
import type { JwtSvidSigner } from '../jwtsvid/jwt-svid-signer.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { TrustDomain } from '../spiffeid/trust-domain.js'
import { type ActClaim, buildActClaim } from './act-chain.js'

/** The JWS `typ` of a Txn-Token. */
export const TXN_TOKEN_TYPE = 'txntoken+jwt'
/** The HTTP header a Txn-Token travels in. */
export const TXN_TOKEN_HEADER = 'Txn-Token'

/** The claims of a Sigil Txn-Token as written. */
export interface TxnTokenClaims {
  txn: string
  sub: string
  aud: string
  scope: string
  req_wl: string
  tctx: { purpose: string; scope: string[]; deadline: number }
  iat: number
  exp: number
  act?: ActClaim
  iss?: string
}

/** What {@link signTxnToken} needs. */
export interface SignTxnTokenOptions {
  trustDomain: TrustDomain
  /** The task ID. */
  txn: string
  /** The principal: the delegator's subject, or the requesting workload's SPIFFE ID. */
  subject: string
  requestingWorkload: SpiffeId
  purpose: string
  /** The audiences the task may call; none empty, none containing whitespace. */
  scope: readonly string[]
  /** `exp` is never later than this. */
  deadline: Date
  /** Actors, current first (RFC 8693 `act`); omitted or empty when not delegated. */
  actors?: readonly string[]
  now?: Date
  /** `exp` never goes past this either (the signing key's expiry). */
  notAfterCap?: Date
}

/** A freshly signed Txn-Token. */
export interface MintedTxnToken {
  token: string
  claims: TxnTokenClaims
  issuedAt: Date
  expiresAt: Date
}

/**
 * Signs a Txn-Token with a JWT authority's signer. Throws `ERR_INVALID_ARGUMENT` when the
 * deadline (or the cap) leaves no lifetime or a scope value is empty or has whitespace;
 * `TypeError` for arguments of the wrong type.
 *
 * @example
 * const { token } = await signTxnToken(signer, { trustDomain, txn: taskId, subject, requestingWorkload, purpose: 'nightly report', scope: ['spiffe://example.org/tool-api'], deadline })
 */
export async function signTxnToken(
  signer: JwtSvidSigner,
  opts: SignTxnTokenOptions,
): Promise<MintedTxnToken> {
  const { trustDomain, txn, subject, requestingWorkload, purpose, deadline, notAfterCap } = opts
  if (!(trustDomain instanceof TrustDomain)) throw new TypeError('trustDomain must be a TrustDomain')
  if (!(requestingWorkload instanceof SpiffeId)) throw new TypeError('requestingWorkload must be a SpiffeId')
  for (const [name, v] of [
    ['txn', txn],
    ['subject', subject],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw new TypeError(`${name} must be a non-empty string`)
  }
  if (typeof purpose !== 'string') throw new TypeError('purpose must be a string')
  const scope = checkScope(opts.scope)
  const now = opts.now ?? new Date()
  for (const [name, d] of [
    ['now', now],
    ['deadline', deadline],
    ['notAfterCap', notAfterCap ?? now],
  ] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError(`${name} must be a valid Date`)
  }
  const iat = Math.floor(now.getTime() / 1000)
  const deadlineSec = Math.floor(deadline.getTime() / 1000)
  let exp = deadlineSec
  if (notAfterCap !== undefined) exp = Math.min(exp, Math.floor(notAfterCap.getTime() / 1000))
  if (exp <= iat)
    throw new SigilError('ERR_INVALID_ARGUMENT', 'the deadline leaves the Txn-Token no lifetime')
  const claims: TxnTokenClaims = {
    txn,
    sub: subject,
    aud: trustDomain.idString(),
    scope: scope.join(' '),
    req_wl: requestingWorkload.toString(),
    tctx: { purpose, scope, deadline: deadlineSec },
    iat,
    exp,
  }
  const act = buildActClaim(opts.actors ?? [])
  if (act !== undefined) claims.act = act
  if (signer.issuer !== undefined) claims.iss = signer.issuer
  const token = await signer.signJws(TXN_TOKEN_TYPE, { ...claims })
  return { token, claims, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) }
}

/**
 * A checked copy of a task scope: a non-empty list of distinct audiences, none empty or with
 * whitespace (the `scope` claim is space-separated). Throws `ERR_INVALID_ARGUMENT`.
 *
 * @example
 * checkScope(['spiffe://example.org/tool-api']) // ['spiffe://example.org/tool-api']
 */
export function checkScope(scope: readonly string[]): string[] {
  if (!Array.isArray(scope) || !scope.every((s) => typeof s === 'string')) {
    throw new TypeError('scope must be an array of strings')
  }
  if (scope.length === 0) throw new SigilError('ERR_INVALID_ARGUMENT', 'scope must not be empty')
  for (const s of scope) {
    if (s === '' || /\s/.test(s) || s.length > 2048) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        'each scope value must be 1-2048 characters without whitespace',
      )
    }
  }
  return [...new Set(scope)]
}
