/**
 * NewJwtSvid: one JWT-SVID for an entry the caller may serve. SPIFFE ID and TTL come from
 * the entry (`jwtSvidTtl`, or the server default); the audience from the request, which must
 * be non-empty. The token is recorded (jti, audience) before it is released.
 */
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { NewJwtSvidRequest__Output } from '../../../proto/generated/sigil/agent/v1/NewJwtSvidRequest.js'
import type { NewJwtSvidResponse } from '../../../proto/generated/sigil/agent/v1/NewJwtSvidResponse.js'
import { issuanceEvent } from '../../audit/issuance-event.js'
import { enforceSigning } from '../../policy/signing-policy.js'
import { type AgentApiContext, MAX_JWT_AUDIENCES } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { unixSeconds } from './agent-wire.js'
import { authorizedEntries, requireAuthorizedEntry } from './authorized-entries.js'
import { jwtIssuanceRecord } from './issuance-record.js'

const METHOD = 'NewJwtSvid'
const MAX_AUDIENCE_BYTES = 2048

/**
 * Mints a JWT-SVID for the calling agent.
 *
 * @example
 * const { token } = await newJwtSvid(deps, caller, { entry_id, audience: ['spiffe://example.org/db'] })
 */
export async function newJwtSvid(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: NewJwtSvidRequest__Output,
): Promise<NewJwtSvidResponse> {
  if (!req.entry_id) throw new SigilError('ERR_INVALID_ARGUMENT', 'entry_id is empty')
  const audience = req.audience
  if (audience.length === 0) throw new SigilError('ERR_INVALID_ARGUMENT', 'audience is empty')
  if (audience.length > MAX_JWT_AUDIENCES) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `at most ${MAX_JWT_AUDIENCES} audience values`)
  }
  for (const a of audience) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (a.length === 0 || Buffer.byteLength(a) > MAX_AUDIENCE_BYTES || /[\u0000-\u001f]/.test(a)) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        'each audience value must be 1-2048 bytes of printable text',
      )
    }
  }
  const entries = await authorizedEntries(deps, caller)
  const entry = requireAuthorizedEntry(deps, entries, caller, req.entry_id, METHOD)
  const now = deps.clock()
  // policy: each audience is a resource of its own; one denied refuses the token
  const permittedBy = new Set<string>()
  for (const aud of audience) {
    const decision = await enforceSigning(deps.policies?.point, {
      action: 'FetchJWTSVID',
      entry,
      agent: caller.agent,
      resource: aud,
      audiences: audience,
      now,
    })
    for (const id of decision?.policyIds ?? []) permittedBy.add(id)
  }
  const jwt = await deps.ca.signJwtSvid({
    spiffeId: SpiffeId.parse(entry.spiffeId),
    audience,
    ttlSeconds: entry.jwtSvidTtl || deps.defaultJwtSvidTtlSeconds,
  })
  const agentId = caller.agentId.toString()
  const record = jwtIssuanceRecord(jwt, { entryId: entry.id, agentId }, now)
  await deps.datastore.recordIssuedSvids([record])
  await deps.audit?.record(
    issuanceEvent(record, {
      entry,
      agent: caller.agent,
      // the policies that permitted it (`svid explain`)
      ...(permittedBy.size > 0 ? { details: { policies: [...permittedBy].sort() } } : {}),
    }),
  )
  deps.logger.debug({ method: METHOD, agent_id: agentId, entry_id: entry.id }, 'JWT-SVID signed')
  return {
    token: jwt.token,
    spiffe_id: jwt.spiffeId.toString(),
    expires_at: unixSeconds(jwt.expiresAt),
    issued_at: unixSeconds(jwt.issuedAt),
  }
}
