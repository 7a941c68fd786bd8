/**
 * Builds the issuance-record rows (the audit trail, issue item 7) for what the agent API
 * signs. Every SVID is recorded before it is released.
 */
import type { MintedJwtSvid } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import type { MintedWitSvid } from '../../../certs/witsvid/wit-svid-signer.js'
import type { MintedX509Svid } from '../../../certs/x509svid/x509-svid-minter.js'
import type { IssuedSvidRecord } from '../../datastore/datastore.js'

/** The record of an X509-SVID minted for `entryId` (`''` for an agent's own SVID) at `agentId`'s request. */
export function x509IssuanceRecord(
  svid: MintedX509Svid,
  who: { entryId: string; agentId: string },
  issuedAt: Date,
): IssuedSvidRecord {
  return {
    kind: 'x509',
    serialOrJti: svid.serialHex,
    spiffeId: svid.spiffeId.toString(),
    entryId: who.entryId,
    agentId: who.agentId,
    notBefore: svid.notBefore,
    notAfter: svid.notAfter,
    audience: [],
    issuedAt,
  }
}

/** The record of a JWT-SVID minted for `entryId` at `agentId`'s request. */
export function jwtIssuanceRecord(
  jwt: MintedJwtSvid,
  who: { entryId: string; agentId: string },
  issuedAt: Date,
): IssuedSvidRecord {
  return {
    kind: 'jwt',
    serialOrJti: jwt.jti,
    spiffeId: jwt.spiffeId.toString(),
    entryId: who.entryId,
    agentId: who.agentId,
    notBefore: jwt.issuedAt,
    notAfter: jwt.expiresAt,
    audience: [...jwt.audience],
    issuedAt,
  }
}

/**
 * The record of a WIT-SVID minted for `entryId` (`''` for an operator's) at `agentId`'s request.
 * Recorded as a JWT-kind credential under its `jti` (no audience), so revoking that jti or the
 * SPIFFE ID covers it.
 */
export function witIssuanceRecord(
  wit: MintedWitSvid,
  who: { entryId: string; agentId: string },
  issuedAt: Date,
): IssuedSvidRecord {
  return {
    kind: 'jwt',
    serialOrJti: wit.jti,
    spiffeId: wit.spiffeId.toString(),
    entryId: who.entryId,
    agentId: who.agentId,
    notBefore: wit.issuedAt,
    notAfter: wit.expiresAt,
    audience: [],
    issuedAt,
  }
}
