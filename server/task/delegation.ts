/**
 * Who a new task works for: the `on_behalf_of` token (a JWT-SVID addressed to the caller, or a
 * Txn-Token) or the parent task's Txn-Token, verified against our own trust domain's bundle.
 * The result names the principal (`sub`), the actor chain (current first: the caller, then the
 * chain the token carried) and, for a Txn-Token, the bounds a sub-task inherits (scope, deadline).
 *
 * Trust: both tokens are untrusted input. A token of another trust domain, with a bad signature,
 * expired, revoked (per the injected `isRevoked`), of an ended task, or a JWT-SVID not addressed
 * to the caller is refused with `ERR_NOT_AUTHORIZED`, the reason in the message.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { isSigilError, SigilError } from '../../certs/errors.js'
import { validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseActClaim } from '../../certs/txntoken/act-chain.js'
import { TXN_TOKEN_TYPE } from '../../certs/txntoken/sign-txn-token.js'
import { verifyTxnToken } from '../../certs/txntoken/verify-txn-token.js'
import type { DataStore } from '../datastore/datastore.js'

/** Asks the revocation list about a credential (wired to revocation by the server). */
export type IsRevoked = (ids: { readonly jti?: string; readonly txn?: string }) => boolean

/** The delegation a new task inherits. */
export interface Delegation {
  /** The principal (the new Txn-Token's `sub`). */
  readonly subject: string
  /** Actors, current (the caller) first. */
  readonly actors: string[]
  /** A Txn-Token's `txn` (the parent task), `''` for a JWT-SVID. */
  readonly parentTxn: string
  /** Scope and deadline a sub-task may not exceed (Txn-Tokens only). */
  readonly bounds?: { readonly scope: readonly string[]; readonly deadline: Date }
}

/** What {@link resolveDelegation} needs. */
export interface DelegationContext {
  readonly trustDomain: TrustDomain
  readonly bundle: TrustBundle
  readonly now: Date
  readonly isRevoked: IsRevoked
  readonly datastore: Pick<DataStore, 'getTask'>
}

function refuse(why: string, cause?: unknown): never {
  throw new SigilError('ERR_NOT_AUTHORIZED', `delegation refused: ${why}`, { cause })
}

function tokenType(token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      typ?: unknown
    }
    return typeof header.typ === 'string' ? header.typ : undefined
  } catch {
    return undefined
  }
}

/**
 * Verifies `token` and returns the delegation for a task `caller` begins.
 *
 * @example
 * const d = await resolveDelegation(onBehalfOf, caller, { trustDomain, bundle, now, isRevoked, datastore })
 */
export async function resolveDelegation(
  token: string,
  caller: SpiffeId,
  ctx: DelegationContext,
): Promise<Delegation> {
  const check = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (e) {
      if (isSigilError(e)) refuse(`${what}: ${e.message}`, e)
      throw e
    }
  }
  if (tokenType(token) === TXN_TOKEN_TYPE) {
    const txn = await check('Txn-Token', () =>
      verifyTxnToken(token, {
        trustDomain: ctx.trustDomain,
        bundle: ctx.bundle,
        now: ctx.now,
        leewaySeconds: 0,
      }),
    )
    if (ctx.isRevoked({ txn: txn.txn })) refuse('the Txn-Token is revoked')
    const parent = await ctx.datastore.getTask(txn.txn)
    if (parent !== undefined && parent.state === 'ended')
      refuse(`task ${txn.txn} has ended (${parent.outcome})`)
    return {
      subject: txn.subject,
      actors: [caller.toString(), ...txn.actors],
      parentTxn: txn.txn,
      bounds: { scope: txn.scope, deadline: txn.expiresAt },
    }
  }
  const jwt = await check('JWT-SVID', () =>
    validateJwtSvid(token, {
      audience: caller.toString(),
      bundleFor: (td) => (td.equals(ctx.trustDomain) ? ctx.bundle : undefined),
      now: ctx.now,
      leewaySeconds: 0,
    }),
  )
  const jti = typeof jwt.claims.jti === 'string' ? jwt.claims.jti : undefined
  const txn = typeof jwt.claims.txn === 'string' ? jwt.claims.txn : undefined
  if (ctx.isRevoked({ ...(jti ? { jti } : {}), ...(txn ? { txn } : {}) })) refuse('the JWT-SVID is revoked')
  let carried: string[] = []
  try {
    carried = parseActClaim(jwt.claims.act)
  } catch (e) {
    refuse('the JWT-SVID has a malformed "act" claim', e)
  }
  // A task JWT-SVID's own act starts with its holder (the delegator); keep the chain behind it.
  const behind = carried[0] === jwt.spiffeId.toString() ? carried.slice(1) : carried
  return { subject: jwt.spiffeId.toString(), actors: [caller.toString(), ...behind], parentTxn: '' }
}
