/**
 * Node attestation: how the server decides which agent is at the other end of an
 * `AttestAgent` stream, i.e. which SPIFFE ID it gets and which node selectors it carries
 * (node-alias entries match on those selectors). One {@link NodeAttestor} per attestation
 * type; `join-token-attestor.ts` and `x509pop-attestor.ts` are the two built in.
 *
 * Trust: the evidence (`payload`) and every challenge response arrive from an
 * unauthenticated network peer and are checked here before anything is believed. An
 * attestor never decides on bans, CSRs or SVIDs: the AttestAgent handler does that with the
 * {@link AttestationResult} it gets back. Failures throw `SigilError`: `ERR_ATTESTATION_FAILED`
 * and the `ERR_TOKEN_*` codes (PERMISSION_DENIED on the wire) when the evidence does not
 * prove the claim, `ERR_INVALID_ARGUMENT` / `ERR_CERT_INVALID` for evidence that is malformed.
 */
import type { Selector } from '../../certs/selector/selector.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { AttestationType } from '../datastore/datastore.js'

/** What a successful attestation establishes. */
export interface AttestationResult {
  /** The agent's SPIFFE ID, always inside the server's trust domain. */
  readonly agentId: SpiffeId
  /** Node selectors (normalized by the datastore when stored). */
  readonly selectors: readonly Selector[]
}

/**
 * Sends a challenge to the agent and resolves its answer (the AttestAgent stream's
 * `challenge` / `challenge_response` round trip). Rejects when the agent goes away, answers
 * out of order, or takes too long.
 */
export type ChallengeExchange = (challenge: Buffer) => Promise<Buffer>

/**
 * One way of attesting nodes. Implementations are stateless apart from their configuration
 * and may be called concurrently.
 *
 * @example
 * const attestors = new Map<string, NodeAttestor>([[joinToken.type, joinToken]])
 * const { agentId, selectors } = await attestors.get(params.type)!.attest(params.payload, exchange)
 */
export interface NodeAttestor {
  /** The `AttestationParams.type` this attestor handles. */
  readonly type: AttestationType
  /** Checks the evidence (running challenge round trips if the method needs them). */
  attest(payload: Buffer, challenge: ChallengeExchange): Promise<AttestationResult>
}
