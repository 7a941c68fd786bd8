/**
 * Authorizers: the step after a peer's X509-SVID has been verified (SPIFFE.md §2, step 6),
 * deciding whether this SPIFFE ID may talk to us. An authorizer returns nothing to allow and
 * throws `SigilError('ERR_NOT_AUTHORIZED')` to refuse, with a message naming the ID the peer
 * presented and what was expected. They see only verified IDs; they never verify anything.
 */
import { SigilError } from '../certs/errors.js'
import { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'

/** Allows (returns) or refuses (throws `ERR_NOT_AUTHORIZED`) a verified peer. */
export type Authorizer = (peer: SpiffeId, verifiedChain: readonly Buffer[]) => void

function refuse(peer: SpiffeId, expected: string): never {
  throw new SigilError('ERR_NOT_AUTHORIZED', `peer "${peer}" is not authorized: expected ${expected}`)
}

function toId(id: SpiffeId | string): SpiffeId {
  return id instanceof SpiffeId ? id : SpiffeId.parse(id)
}

/**
 * Allows any peer with a valid SVID from a trusted trust domain.
 *
 * @example
 * tlsClientOptions(source, authorizeAny())
 */
export function authorizeAny(): Authorizer {
  return () => {}
}

/**
 * Allows exactly one SPIFFE ID.
 *
 * @example
 * authorizeId('spiffe://example.org/researcher')
 */
export function authorizeId(id: SpiffeId | string): Authorizer {
  const expected = toId(id)
  return (peer) => {
    if (!peer.equals(expected)) refuse(peer, `"${expected}"`)
  }
}

/**
 * Allows any SPIFFE ID of a set.
 *
 * @example
 * authorizeOneOf(['spiffe://example.org/planner', 'spiffe://example.org/executor'])
 */
export function authorizeOneOf(ids: Iterable<SpiffeId | string>): Authorizer {
  const allowed = new Set([...ids].map((id) => toId(id).toString()))
  if (allowed.size === 0) throw new TypeError('authorizeOneOf needs at least one SPIFFE ID')
  const list = [...allowed].map((id) => `"${id}"`).join(', ')
  return (peer) => {
    if (!allowed.has(peer.toString())) refuse(peer, `one of ${list}`)
  }
}

/**
 * Allows any SPIFFE ID of one trust domain.
 *
 * @example
 * authorizeMemberOf('example.org')
 */
export function authorizeMemberOf(trustDomain: TrustDomain | string): Authorizer {
  const td = trustDomain instanceof TrustDomain ? trustDomain : TrustDomain.parse(trustDomain)
  return (peer) => {
    if (!peer.memberOf(td)) refuse(peer, `a member of trust domain "${td.name}"`)
  }
}

/**
 * Allows the peers for which `predicate` returns true; `description` says what it checks,
 * for the refusal message.
 *
 * @example
 * authorizeIf((id) => id.path.startsWith('/agents/'), 'an ID under /agents/')
 */
export function authorizeIf(
  predicate: (peer: SpiffeId, verifiedChain: readonly Buffer[]) => boolean,
  description = 'an ID the custom predicate accepts',
): Authorizer {
  if (typeof predicate !== 'function') throw new TypeError('predicate must be a function')
  return (peer, chain) => {
    if (predicate(peer, chain) !== true) refuse(peer, description)
  }
}
