/**
 * RenewAgent: a fresh agent SVID for the authenticated agent, from a new CSR. The SPIFFE ID
 * and lifetime come from the server (the caller's ID, `agentSvidTtlSeconds`), never from the
 * CSR. The replaced serial stays acceptable until it expires or the new one is first used:
 * `updateAgentSvid` records that grace in the datastore with the renewal, given the serial the
 * caller presented (see agent-authenticator.ts and DataStore.updateAgentSvid).
 */
import { isSigilError, SigilError } from '../../../certs/errors.js'
import { parseCsr } from '../../../certs/x509svid/csr.js'
import type { RenewAgentRequest__Output } from '../../../proto/generated/sigil/agent/v1/RenewAgentRequest.js'
import type { RenewAgentResponse } from '../../../proto/generated/sigil/agent/v1/RenewAgentResponse.js'
import { issuanceEvent } from '../../audit/issuance-event.js'
import type { AgentApiDeps } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'
import { toWireX509Svid } from './agent-wire.js'
import { x509IssuanceRecord } from './issuance-record.js'

/**
 * Renews the caller's agent SVID.
 *
 * @example
 * const res = await renewAgent(deps, caller, { csr })
 */
export async function renewAgent(
  deps: AgentApiDeps,
  caller: AuthenticatedAgent,
  req: RenewAgentRequest__Output,
): Promise<RenewAgentResponse> {
  if (req.csr.length === 0) throw new SigilError('ERR_CSR_INVALID', 'csr is empty')
  const { publicKey } = await parseCsr(req.csr)
  const id = caller.agentId.toString()
  const now = deps.clock()
  const svid = deps.ca.signX509Svid({
    spiffeId: caller.agentId,
    publicKey,
    ttlSeconds: deps.agentSvidTtlSeconds,
    validate: true,
  })
  const record = x509IssuanceRecord(svid, { entryId: '', agentId: id }, now)
  await deps.datastore.recordIssuedSvids([record])
  await deps.audit?.record(issuanceEvent(record, { agent: caller.agent, details: { agent_svid: 'renewed' } }))
  try {
    await deps.datastore.updateAgentSvid(id, svid.serialHex, svid.notAfter, caller.serial)
  } catch (e) {
    if (isSigilError(e, 'ERR_NOT_FOUND')) {
      throw new SigilError('ERR_NOT_AUTHORIZED', `agent "${id}" was evicted`, { cause: e })
    }
    throw e
  }
  deps.logger.info(
    { agent_id: id, serial: svid.serialHex, expires_at: svid.notAfter.toISOString() },
    'agent SVID renewed',
  )
  return { svid: toWireX509Svid(svid) }
}
