/**
 * RFC 8693 §4.1 `act` (actor) claims as a delegation chain: `{ sub: current, act: { sub:
 * previous, act: { … } } }`. The outermost `act` names the current actor; each nested `act`
 * the actor before it. Sigil's task tokens write actors as SPIFFE IDs, current first.
 *
 * Trust: RFC 8693 says only the top-level claims and the current (outermost) actor take part
 * in access decisions; the nested actors are informational. Parsing here checks shape only —
 * the token carrying the claim must be verified first.
 */
import { SigilError } from '../errors.js'

/** The `act` claim: the actor's `sub`, and the actor before it. */
export interface ActClaim {
  readonly sub: string
  readonly act?: ActClaim
}

/** The deepest chain Sigil writes or reads (a longer one is refused, not truncated). */
export const MAX_ACT_DEPTH = 16
const MAX_SUB_LENGTH = 2048

/**
 * The `act` claim for `actors` (current first), or `undefined` for an empty list.
 * Throws `ERR_INVALID_ARGUMENT` past {@link MAX_ACT_DEPTH} actors or for an empty actor.
 *
 * @example
 * buildActClaim(['spiffe://td/researcher', 'spiffe://td/planner'])
 * // { sub: 'spiffe://td/researcher', act: { sub: 'spiffe://td/planner' } }
 */
export function buildActClaim(actors: readonly string[]): ActClaim | undefined {
  if (!Array.isArray(actors)) throw new TypeError('actors must be an array of strings')
  if (actors.length > MAX_ACT_DEPTH) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `a delegation chain has at most ${MAX_ACT_DEPTH} actors`)
  }
  let claim: ActClaim | undefined
  for (let i = actors.length - 1; i >= 0; i--) {
    const sub = actors[i]
    if (typeof sub !== 'string') throw new TypeError('actors must be an array of strings')
    if (sub === '' || sub.length > MAX_SUB_LENGTH) {
      throw new SigilError('ERR_INVALID_ARGUMENT', 'an actor must be a non-empty string')
    }
    claim = claim === undefined ? { sub } : { sub, act: claim }
  }
  return claim
}

/**
 * The actors of an `act` claim, current first (`[]` when the claim is absent). Throws
 * `ERR_JWT_INVALID` for a claim that is not a chain of `{ sub: string }` objects or is deeper
 * than {@link MAX_ACT_DEPTH}. Other members of each object (RFC 8693 allows e.g. `iss`) are ignored.
 *
 * @example
 * parseActClaim(claims.act) // ['spiffe://td/researcher', 'spiffe://td/planner']
 */
export function parseActClaim(claim: unknown): string[] {
  const actors: string[] = []
  let node = claim
  while (node !== undefined) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) {
      throw new SigilError('ERR_JWT_INVALID', '"act" must be an object')
    }
    const { sub, act } = node as { sub?: unknown; act?: unknown }
    if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUB_LENGTH) {
      throw new SigilError('ERR_JWT_INVALID', '"act" needs a non-empty "sub" string')
    }
    actors.push(sub)
    if (actors.length > MAX_ACT_DEPTH) {
      throw new SigilError('ERR_JWT_INVALID', `"act" is nested deeper than ${MAX_ACT_DEPTH}`)
    }
    node = act
  }
  return actors
}
