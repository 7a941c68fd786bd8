/**
 * What one join token consume attempt found, shared by every backend: the backend commits the
 * outcome first (an expired token stays deleted), then {@link consumeResult} reports it.
 */
import { SigilError } from '../../certs/errors.js'

/** What one consume attempt found. */
export type ConsumeOutcome =
  | { readonly kind: 'ok'; readonly spiffeId: string }
  | { readonly kind: 'expired' }
  | { readonly kind: 'used' }
  | { readonly kind: 'unknown' }

/**
 * The alias of a consumed token, or the error its outcome means.
 *
 * @example
 * return consumeResult(await commit(() => table.consume(hash, now))) // { spiffeId } or ERR_TOKEN_*
 */
export function consumeResult(outcome: ConsumeOutcome): { spiffeId: string } {
  switch (outcome.kind) {
    case 'ok':
      return { spiffeId: outcome.spiffeId }
    case 'expired':
      throw new SigilError('ERR_TOKEN_EXPIRED', 'join token has expired')
    case 'used':
      throw new SigilError('ERR_TOKEN_USED', 'join token was already used')
    case 'unknown':
      throw new SigilError('ERR_TOKEN_INVALID', 'join token is not known')
  }
}
