/**
 * A JWT-SVID as the Workload API hands it to its holder (SPIFFE.md §5.3): the compact token
 * plus what a holder needs to use and cache it. The token is decoded, not verified: the
 * holder got it from its own agent and passes it on; whoever receives it validates it. The
 * decoding still checks that the token is what was asked for (`sub` equal to `spiffe_id`,
 * every requested audience in `aud`), as go-spiffe's client does.
 */
import { SigilError } from '../certs/errors.js'
import { parseJwtSvidInsecure } from '../certs/jwtsvid/parse-jwt-svid-insecure.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'

/** A JWT-SVID held by this workload. */
export interface JwtSvid {
  /** The compact JWS to send (e.g. as `Authorization: Bearer <token>`). */
  readonly token: string
  readonly spiffeId: SpiffeId
  readonly audience: readonly string[]
  readonly expiresAt: Date
  /** From `iat`, when the token has one. */
  readonly issuedAt: Date | undefined
  /** The operator's label for this identity ('' when none). */
  readonly hint: string
  /** Every claim of the payload (decoded, not verified). */
  readonly claims: Readonly<Record<string, unknown>>
}

/**
 * Decodes one `JWTSVID` message of a FetchJWTSVID answer. Throws `ERR_JWT_INVALID` when the
 * token is malformed, names another subject, or lacks a requested audience.
 *
 * @example
 * const svid = jwtSvidFromMessage(resp.svids[0], ['tool-api'])
 * fetch(url, { headers: { authorization: `Bearer ${svid.token}` } })
 */
export function jwtSvidFromMessage(
  msg: { spiffe_id: string; svid: string; hint: string },
  requestedAudience: readonly string[],
): JwtSvid {
  const parsed = parseJwtSvidInsecure(msg.svid)
  const invalid = (why: string): never => {
    throw new SigilError('ERR_JWT_INVALID', `JWT-SVID from the Workload API: ${why}`)
  }
  if (parsed.spiffeId.toString() !== msg.spiffe_id) {
    invalid(`"sub" ${parsed.spiffeId} is not the spiffe_id "${String(msg.spiffe_id).slice(0, 200)}"`)
  }
  for (const a of requestedAudience) {
    if (!parsed.audience.includes(a)) invalid(`"aud" lacks the requested audience "${a.slice(0, 200)}"`)
  }
  const iat = parsed.claims.iat
  return Object.freeze({
    token: msg.svid,
    spiffeId: parsed.spiffeId,
    audience: Object.freeze([...parsed.audience]),
    expiresAt: parsed.expiresAt,
    issuedAt: typeof iat === 'number' ? new Date(iat * 1000) : undefined,
    hint: msg.hint ?? '',
    claims: parsed.claims,
  })
}
