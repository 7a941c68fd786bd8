/**
 * NewWitSvid: one WIT-SVID for an entry the caller may serve, bound to the workload key the
 * agent generated for one process (only its public JWK travels). SPIFFE ID and TTL come from
 * the entry (`x509SvidTtl`, or the server's X509-SVID default: a WIT lives and rotates like the
 * process's X509-SVID). The token is recorded (its jti, as a JWT-kind credential, so `svid
 * revoke --jti` and `--spiffe-id` cover it) before it is released.
 */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { parsePublicJwkString } from '../../../certs/witsvid/confirmation-key.js'
import type { NewWitSvidRequest__Output } from '../../../proto/generated/sigil/agent/v1/NewWitSvidRequest.js'
import type { NewWitSvidResponse } from '../../../proto/generated/sigil/agent/v1/NewWitSvidResponse.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { unixSeconds } from './agent-wire.js'
import { authorizedEntries, requireAuthorizedEntry } from './authorized-entries.js'
import { witIssuanceRecord } from './issuance-record.js'

const METHOD = 'NewWitSvid'

/**
 * Mints a WIT-SVID for the calling agent.
 *
 * @example
 * const { token } = await newWitSvid(deps, caller, { entry_id, public_key_jwk: JSON.stringify(jwk) })
 */
export async function newWitSvid(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: NewWitSvidRequest__Output,
): Promise<NewWitSvidResponse> {
  if (!req.entry_id) throw new SigilError('ERR_INVALID_ARGUMENT', 'entry_id is empty')
  const { publicKey, alg } = parsePublicJwkString(req.public_key_jwk)
  const entries = await authorizedEntries(deps, caller)
  const entry = requireAuthorizedEntry(deps, entries, caller, req.entry_id, METHOD)
  const now = deps.clock()
  const wit = deps.ca.signWitSvid({
    spiffeId: SpiffeId.parse(entry.spiffeId),
    workloadKey: publicKey,
    workloadAlgorithm: alg,
    ttlSeconds: entry.x509SvidTtl || deps.defaultX509SvidTtlSeconds,
  })
  const agentId = caller.agentId.toString()
  await deps.datastore.recordIssuedSvids([witIssuanceRecord(wit, { entryId: entry.id, agentId }, now)])
  deps.logger.debug({ method: METHOD, agent_id: agentId, entry_id: entry.id }, 'WIT-SVID signed')
  return {
    token: wit.token,
    spiffe_id: wit.spiffeId.toString(),
    expires_at: unixSeconds(wit.expiresAt),
    issued_at: unixSeconds(wit.issuedAt),
  }
}
