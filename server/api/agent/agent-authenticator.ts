/**
 * Who is calling: authentication of every agent API call except AttestAgent. The TLS layer
 * has already checked the client certificate against the bundle roots (OpenSSL, wall
 * clock); here the leaf is checked again as an X509-SVID of our trust domain against the
 * CURRENT bundle at the injected clock, and then against the datastore: the agent must be
 * attested (an evicted agent's row is gone), not banned, and present its current agent SVID
 * (serial equal to the recorded one).
 *
 * Renewal race: after RenewAgent the previous serial stays acceptable until it expires or
 * the agent first presents the new one, so an agent that lost the RenewAgent response is not
 * locked out. The grace lives in the datastore (the agent row's previous serial, written by
 * `updateAgentSvid` with the renewal, cleared by `forgetPreviousAgentSvid` at the first use of
 * the new SVID, and by re-attestation, ban or eviction), so it holds across restarts and across
 * servers sharing one datastore: a renewal committed by a server that died before answering is
 * honoured by any other. An SVID two renewals old is never acceptable.
 *
 * Statuses: no client certificate, or one that does not verify → UNAUTHENTICATED
 * (`ERR_SVID_UNTRUSTED` / `ERR_SVID_EXPIRED`); a valid SVID that is not a current agent SVID,
 * or an evicted agent → PERMISSION_DENIED (`ERR_NOT_AUTHORIZED`); banned → PERMISSION_DENIED
 * (`ERR_AGENT_BANNED`). `lastSeen` is written at most once per {@link TOUCH_INTERVAL_MS}.
 */
import { createHash } from 'node:crypto'
import type { PeerCertificate } from 'node:tls'
import { isSigilError, SigilError } from '../../../certs/errors.js'
import type { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { errorText } from '../../../common/errors/error-text.js'
import type { Log } from '../../../common/logging/logger.js'
import type { AttestedAgent } from '../../datastore/datastore.js'
import type { AgentApiCa, AgentApiDataStore } from './agent-api-deps.js'

/** `lastSeen` is refreshed at most this often per agent. */
export const TOUCH_INTERVAL_MS = 60_000
/** Verified leaves remembered (by hash) to skip re-verification; cleared when full. */
const VERIFIED_CACHE_SIZE = 4096

/** An authenticated caller. */
export interface AuthenticatedAgent {
  readonly agentId: SpiffeId
  readonly agent: AttestedAgent
  /** Serial of the SVID the agent presented (lowercase hex). */
  readonly serial: string
  /** NotAfter of the SVID the agent presented. */
  readonly notAfter: Date
}

/** The part of a gRPC server call the authenticator reads. */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null
}

interface VerifiedLeaf {
  readonly spiffeId: SpiffeId
  readonly serial: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly bundleSequence: number
  readonly bundleTrustDomain: string
}

/**
 * Authenticates agent API callers by their client certificate.
 *
 * @example
 * const { agentId, agent } = await authenticator.authenticate(call)
 */
export class AgentAuthenticator {
  readonly #trustDomain: TrustDomain
  readonly #ca: Pick<AgentApiCa, 'currentBundle' | 'authorities' | 'caCertificateChain'>
  readonly #datastore: Pick<AgentApiDataStore, 'getAttestedAgent' | 'touchAgent' | 'forgetPreviousAgentSvid'>
  readonly #clock: () => Date
  readonly #logger: Log
  readonly #verified = new Map<string, VerifiedLeaf>()
  readonly #lastTouch = new Map<string, number>()

  constructor(deps: {
    trustDomain: TrustDomain
    ca: Pick<AgentApiCa, 'currentBundle' | 'authorities' | 'caCertificateChain'>
    datastore: Pick<AgentApiDataStore, 'getAttestedAgent' | 'touchAgent' | 'forgetPreviousAgentSvid'>
    clock: () => Date
    logger: Log
  }) {
    this.#trustDomain = deps.trustDomain
    this.#ca = deps.ca
    this.#datastore = deps.datastore
    this.#clock = deps.clock
    this.#logger = deps.logger
  }

  /** Resolves the calling agent or rejects with the SigilError that becomes its status. */
  async authenticate(call: CallWithAuthContext): Promise<AuthenticatedAgent> {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw
    if (!Buffer.isBuffer(raw) || raw.length === 0) {
      throw new SigilError(
        'ERR_SVID_UNTRUSTED',
        'this call needs mutual TLS with a valid agent X509-SVID; none was presented or it did not verify',
      )
    }
    const now = this.#clock()
    const leaf = this.#verify(raw, now)
    const agentId = leaf.spiffeId.toString()
    const agent = await this.#datastore.getAttestedAgent(agentId)
    if (!agent) {
      throw new SigilError(
        'ERR_NOT_AUTHORIZED',
        `"${agentId}" is not an attested agent (never attested, or evicted)`,
      )
    }
    if (agent.banned) throw new SigilError('ERR_AGENT_BANNED', `agent "${agentId}" is banned`)
    let current = agent
    if (leaf.serial === agent.serialNumber) {
      if (agent.previousSerialNumber !== '') {
        // The new SVID is in use: the renewal grace ends (one write per renewal, on any server).
        await this.#datastore.forgetPreviousAgentSvid(agentId, leaf.serial)
        const { previousExpiresAt: _, ...rest } = agent
        current = { ...rest, previousSerialNumber: '' }
      }
    } else if (
      agent.previousSerialNumber === '' ||
      leaf.serial !== agent.previousSerialNumber ||
      agent.previousExpiresAt === undefined ||
      now > agent.previousExpiresAt
    ) {
      throw new SigilError(
        'ERR_NOT_AUTHORIZED',
        `the presented SVID is not agent "${agentId}"'s current SVID`,
      )
    }
    await this.#touch(agentId, now)
    return { agentId: leaf.spiffeId, agent: current, serial: leaf.serial, notAfter: leaf.notAfter }
  }

  #verify(raw: Buffer, now: Date): VerifiedLeaf {
    const bundle = this.#ca.currentBundle()
    const key = createHash('sha256').update(raw).digest('hex')
    const cached = this.#verified.get(key)
    if (
      cached &&
      cached.bundleSequence === bundle.sequenceNumber &&
      cached.bundleTrustDomain === bundle.trustDomain.name &&
      now >= cached.notBefore &&
      now <= cached.notAfter
    ) {
      return cached
    }
    // The TLS layer gives us the leaf only: the server's own CA certificates are the
    // possible intermediates (with an upstream CA, the leaf's issuer is one of them).
    const intermediates = [
      ...this.#ca.caCertificateChain(),
      ...this.#ca.authorities().x509.flatMap((a) => (a.certDer ? [a.certDer] : [])),
    ]
    try {
      const { spiffeId } = verifyX509Svid(
        [raw, ...intermediates],
        (td) => (td.equals(this.#trustDomain) ? bundle.x509Authorities : undefined),
        { now },
      )
      const facts = readCertificateFacts(raw)
      const leaf: VerifiedLeaf = {
        spiffeId,
        serial: facts.serialHex,
        notBefore: facts.notBefore,
        notAfter: facts.notAfter,
        bundleSequence: bundle.sequenceNumber,
        bundleTrustDomain: bundle.trustDomain.name,
      }
      if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.clear()
      this.#verified.set(key, leaf)
      return leaf
    } catch (e) {
      if (isSigilError(e, 'ERR_SVID_EXPIRED', 'ERR_SVID_NOT_YET_VALID', 'ERR_SVID_UNTRUSTED')) throw e
      throw new SigilError('ERR_SVID_UNTRUSTED', 'the client certificate is not a valid X509-SVID', {
        cause: e,
      })
    }
  }

  async #touch(agentId: string, now: Date): Promise<void> {
    const last = this.#lastTouch.get(agentId)
    if (last !== undefined && now.getTime() - last < TOUCH_INTERVAL_MS) return
    this.#lastTouch.set(agentId, now.getTime())
    try {
      await this.#datastore.touchAgent(agentId, now)
    } catch (err) {
      this.#logger.warn({ agent_id: agentId, err: errorText(err) }, 'touchAgent failed')
    }
  }
}
