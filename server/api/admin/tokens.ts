/**
 * Admin handler for join tokens. A token is 32 random bytes in lowercase hex; only its
 * SHA-256 (`joinTokenHash`, shared with node attestation) is stored, with the alias
 * SPIFFE ID and the expiry. The token is returned once, to the operator, and never logged.
 */
import { randomBytes } from 'node:crypto'
import { SigilError } from '../../../certs/errors.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import { joinTokenHash } from '../../nodeattestation/join-token-attestor.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { checkTtl, requireWorkloadId, serverSpiffeId } from './admin-input.js'
import { unary } from './unary.js'

/** Random bytes in a join token (hex-encoded: 64 characters). */
export const JOIN_TOKEN_BYTES = 32

/** The handler for `token generate`. */
export function tokenHandlers(deps: AdminApiDeps): Pick<AdminAPIHandlers, 'CreateJoinToken'> {
  const { datastore, logger, trustDomain, clock } = deps
  return {
    CreateJoinToken: unary('CreateJoinToken', logger, async (req) => {
      const alias = requireWorkloadId(req.spiffe_id, trustDomain, 'spiffe_id')
      if (alias.equals(serverSpiffeId(trustDomain))) {
        throw new SigilError('ERR_INVALID_ARGUMENT', 'spiffe_id must not be the server ID')
      }
      const ttl = checkTtl(req.ttl, 'ttl') || deps.joinTokenTtlSeconds
      const token = randomBytes(JOIN_TOKEN_BYTES).toString('hex')
      const expiresAt = new Date(clock().getTime() + ttl * 1000)
      await datastore.createJoinToken({
        tokenHash: joinTokenHash(token),
        spiffeId: alias.toString(),
        expiresAt,
      })
      logger.info({ spiffe_id: alias.toString(), expires_at: expiresAt.toISOString() }, 'join token created')
      return { token, expires_at: Math.floor(expiresAt.getTime() / 1000) }
    }),
  }
}
