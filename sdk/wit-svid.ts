/**
 * A WIT-SVID as the SDK hands it to a workload: the token, its private key (the Workload API's
 * `wit_svid_key`, a JWK) and what the token says. The key is a secret and the token, though no
 * bearer token, identifies the workload: log neither.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { SigilError } from '../certs/errors.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { privateKeyFromJwkString, type WitSvidAlgorithm } from '../certs/witsvid/confirmation-key.js'
import { parseWitSvidInsecure } from '../certs/witsvid/validate-wit-svid.js'
import type { WITSVIDResponse__Output } from '../proto/generated/WITSVIDResponse.js'

/** One WIT-SVID of this workload. */
export interface WitSvid {
  readonly spiffeId: SpiffeId
  /** The compact JWS (`Workload-Identity-Token` header value). */
  readonly token: string
  /** The private key of `cnf.jwk`: signs the Workload Proof Tokens. */
  readonly privateKey: KeyObject
  /** `cnf.jwk.alg`. */
  readonly algorithm: WitSvidAlgorithm
  readonly expiresAt: Date
  readonly hint: string
}

/**
 * The WIT-SVIDs of a FetchWITSVID message, each checked for form and that its key is the
 * `cnf.jwk` it carries. Throws `SigilError` (`ERR_SVID_INVALID`) when one is not.
 */
export function witSvidsFromResponse(msg: WITSVIDResponse__Output): WitSvid[] {
  return (msg.svids ?? []).map((m, i) => {
    try {
      const parsed = parseWitSvidInsecure(m.wit_svid)
      const { privateKey, alg } = privateKeyFromJwkString(m.wit_svid_key)
      if (
        alg !== parsed.confirmationAlgorithm ||
        !parsed.confirmationKey.equals(createPublicKey(privateKey))
      ) {
        throw new SigilError('ERR_SVID_INVALID', 'the key is not the one in cnf.jwk')
      }
      if (parsed.spiffeId.toString() !== m.spiffe_id)
        throw new SigilError('ERR_SVID_INVALID', 'spiffe_id is not the sub claim')
      return {
        spiffeId: parsed.spiffeId,
        token: m.wit_svid,
        privateKey,
        algorithm: alg,
        expiresAt: parsed.expiresAt,
        hint: m.hint ?? '',
      }
    } catch (cause) {
      throw new SigilError('ERR_SVID_INVALID', `WIT-SVID ${i} from the agent is malformed`, { cause })
    }
  })
}
