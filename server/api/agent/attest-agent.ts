/**
 * The AttestAgent handler (bidi stream): params → [challenge ↔ challenge_response]* →
 * result. Order of work, chosen so that malformed input costs nothing: the stream shape and
 * the CSR are checked before the attestor runs (a garbage CSR never burns a join token);
 * then the attestor, the ban check, signing, the issuance record, and finally the agent row
 * (which the datastore refuses atomically for a banned agent). An evicted agent has no row
 * and simply attests again; a banned one is refused with PERMISSION_DENIED.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js'
import { isSigilError, SigilError } from '../../../certs/errors.js'
import { formatSelector } from '../../../certs/selector/selector.js'
import { parseCsr } from '../../../certs/x509svid/csr.js'
import type { AgentSvidResult } from '../../../proto/generated/sigil/agent/v1/AgentSvidResult.js'
import type { AttestAgentRequest__Output } from '../../../proto/generated/sigil/agent/v1/AttestAgentRequest.js'
import type { AttestAgentResponse } from '../../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import { issuanceEvent } from '../../audit/issuance-event.js'
import type { ChallengeExchange } from '../../nodeattestation/node-attestor.js'
import { toGrpcError } from '../grpc-status.js'
import type { AgentApiDeps } from './agent-api-deps.js'
import { toWireBundle, toWireX509Svid } from './agent-wire.js'
import { AttestationStreamReader, StreamGone } from './attestation-stream.js'
import { x509IssuanceRecord } from './issuance-record.js'

type AttestCall = ServerDuplexStream<AttestAgentRequest__Output, AttestAgentResponse>

const METHOD = 'AttestAgent'

function outOfOrder(why: string): SigilError {
  return new SigilError('ERR_INVALID_ARGUMENT', `AttestAgent messages out of order: ${why}`)
}

/**
 * The AttestAgent handler.
 *
 * @example
 * server.addService(service, { AttestAgent: attestAgentHandler(deps), ... })
 */
export function attestAgentHandler(deps: AgentApiDeps): (call: AttestCall) => void {
  return (call) => {
    const reader = new AttestationStreamReader(call)
    attest(call, reader, deps).then(
      (result) => {
        if (reader.gone) return
        call.write({ result })
        call.end()
      },
      (e: unknown) => {
        if (e instanceof StreamGone || reader.gone) {
          deps.logger.debug({ method: METHOD }, 'agent left the attestation stream')
          return
        }
        // a refused attestation is a refused agent SVID: recorded (the join token itself never is)
        deps.audit?.note({
          kind: 'signing_refused',
          decision: 'deny',
          details: {
            method: METHOD,
            error: {
              code: isSigilError(e) ? e.code : 'ERR_INTERNAL',
              message: isSigilError(e) ? e.message : 'internal error',
            },
          },
        })
        call.emit('error', toGrpcError(e, deps.logger, METHOD))
      },
    )
  }
}

async function attest(
  call: AttestCall,
  reader: AttestationStreamReader,
  deps: AgentApiDeps,
): Promise<AgentSvidResult> {
  const deadline = Date.now() + deps.attestTimeoutMs
  const first = await reader.next(deadline)
  if (!first) throw outOfOrder('the stream ended before the attestation params')
  if (first.step !== 'params' || !first.params) throw outOfOrder('the first message must be params')
  const { type, payload, csr } = first.params
  const attestor = deps.attestors.get(type)
  if (!attestor) {
    const known = [...deps.attestors.keys()].join(', ') || 'none'
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `attestation type "${type.slice(0, 64)}" is unknown or not enabled on this server (enabled: ${known})`,
    )
  }
  if (csr.length === 0) throw new SigilError('ERR_CSR_INVALID', 'params.csr is empty')
  const { publicKey } = await parseCsr(csr)
  if (reader.hasPending) throw outOfOrder('a second message arrived before the server answered params')

  const exchange: ChallengeExchange = async (challenge) => {
    call.write({ challenge })
    const msg = await reader.next(deadline)
    if (!msg) throw outOfOrder('the stream ended before the challenge response')
    if (msg.step !== 'challenge_response') throw outOfOrder('expected challenge_response')
    return msg.challenge_response ?? Buffer.alloc(0)
  }
  const { agentId, selectors } = await attestor.attest(payload, exchange)
  if (reader.hasPending) throw outOfOrder('a message arrived that the attestation did not ask for')

  const id = agentId.toString()
  const existing = await deps.datastore.getAttestedAgent(id)
  if (existing?.banned) throw new SigilError('ERR_AGENT_BANNED', `agent "${id}" is banned`)
  const now = deps.clock()
  const svid = deps.ca.signX509Svid({
    spiffeId: agentId,
    publicKey,
    ttlSeconds: deps.agentSvidTtlSeconds,
    validate: true,
  })
  const record = x509IssuanceRecord(svid, { entryId: '', agentId: id }, now)
  await deps.datastore.recordIssuedSvids([record])
  await deps.audit?.record(
    issuanceEvent(record, {
      agent: { spiffeId: id, attestationType: attestor.type, selectors: [...selectors] },
      details: { agent_svid: 'attested' },
    }),
  )
  await deps.datastore.createOrUpdateAttestedAgent(
    {
      spiffeId: id,
      attestationType: attestor.type,
      serialNumber: svid.serialHex,
      expiresAt: svid.notAfter,
      selectors: [...selectors],
    },
    now,
  )
  deps.logger.info(
    {
      agent_id: id,
      attestation_type: attestor.type,
      serial: svid.serialHex,
      selectors: selectors.map(formatSelector),
      reattested: existing !== undefined,
    },
    'agent attested',
  )
  return { svid: toWireX509Svid(svid), bundle: toWireBundle(deps.ca.currentBundle()) }
}
