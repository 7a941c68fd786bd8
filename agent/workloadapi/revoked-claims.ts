/**
 * ValidateJWTSVID's revocation check: a token of our trust domain whose `jti`, or whose
 * Txn-Token `txn` claim, is on the agent's revocation list is refused with `ERR_SVID_REVOKED`
 * (INVALID_ARGUMENT, like every other validation failure). One Map probe per claim.
 */
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'

/** What the check asks (the agent's `RevocationSet`). */
export interface RevocationLookup {
  isRevoked(kind: 'jwt_jti' | 'txn', value: string): boolean
}

/**
 * Throws `ERR_SVID_REVOKED` when `claims.jti` or `claims.txn` is revoked.
 *
 * @example
 * refuseRevokedClaims(revocations, validated.claims)
 */
export function refuseRevokedClaims(
  revocations: RevocationLookup,
  claims: Readonly<Record<string, unknown>>,
): void {
  const { jti, txn } = claims
  if (typeof jti === 'string' && revocations.isRevoked('jwt_jti', jti)) {
    throw new SigilError('ERR_SVID_REVOKED', `the JWT-SVID has been revoked (jti ${echo(jti)})`)
  }
  if (typeof txn === 'string' && revocations.isRevoked('txn', txn)) {
    throw new SigilError('ERR_SVID_REVOKED', `the JWT-SVID's transaction has been revoked (txn ${echo(txn)})`)
  }
}
