/**
 * The agent's own identity: its X509-SVID (issued by the server at attestation, renewed at the
 * configured fraction of its life) and the private key the agent generated for it. The key
 * never leaves the agent; the server saw only a CSR.
 */
import type { KeyObject } from 'node:crypto'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { publicKeyToSpkiDer } from '../../certs/keys/keys.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { readSvidChain } from '../../certs/x509svid/parse-x509-svid.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'

/** The agent SVID with its key and the facts the agent acts on. */
export interface AgentIdentity {
  readonly spiffeId: SpiffeId
  /** DER, leaf first. */
  readonly chainDer: readonly Buffer[]
  readonly privateKey: KeyObject
  readonly notBefore: Date
  readonly notAfter: Date
  /** Lowercase hex. */
  readonly serial: string
}

/**
 * Builds an {@link AgentIdentity} from a chain and its key, checking the SVID rules, that the
 * ID is in `trustDomain` and that the key belongs to the leaf. Throws `ERR_SVID_INVALID`.
 */
export function agentIdentityFromChain(
  chainDer: readonly Buffer[],
  privateKey: KeyObject,
  trustDomain: TrustDomain,
): AgentIdentity {
  const { spiffeId, facts } = readSvidChain(chainDer)
  const leaf = facts[0]!
  if (!spiffeId.memberOf(trustDomain)) {
    throw new SigilError(
      'ERR_SVID_INVALID',
      `agent SVID "${spiffeId}" is not in trust domain "${trustDomain}"`,
    )
  }
  if (!publicKeyToSpkiDer(privateKey).equals(leaf.spkiDer)) {
    throw new SigilError('ERR_SVID_INVALID', 'the agent SVID does not certify the agent key')
  }
  return {
    spiffeId,
    chainDer: chainDer.map((d) => Buffer.from(d)),
    privateKey,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serial: leaf.serialHex,
  }
}

/**
 * Like {@link agentIdentityFromChain}, and also verifies the SVID against `bundle` at `now`
 * (for SVIDs just received from the server). Throws `ERR_SVID_*`.
 */
export function verifiedAgentIdentity(
  chainDer: readonly Buffer[],
  privateKey: KeyObject,
  trustDomain: TrustDomain,
  bundle: TrustBundle,
  now: Date,
): AgentIdentity {
  verifyX509Svid(chainDer, (td) => (td.equals(trustDomain) ? bundle.x509Authorities : undefined), { now })
  return agentIdentityFromChain(chainDer, privateKey, trustDomain)
}
