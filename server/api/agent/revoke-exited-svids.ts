/**
 * RevokeExitedSvids: an agent reports the X509-SVID serials its exited workload processes held
 * (entry option `--revoke-on-exit`). The agent is trusted only for what it was issued: a serial
 * is revoked only when the issuance record says this server signed it at this agent's request
 * for an entry that has `revokeOnExit` now. Everything else (another agent's serial, an entry
 * without the option, a serial nobody issued, garbage) is refused and logged, never revoked,
 * so a compromised agent cannot take down another agent's workloads.
 */
import { SigilError } from '../../../certs/errors.js'
import type { RevokeExitedSvidsRequest__Output } from '../../../proto/generated/sigil/agent/v1/RevokeExitedSvidsRequest.js'
import type { RevokeExitedSvidsResponse } from '../../../proto/generated/sigil/agent/v1/RevokeExitedSvidsResponse.js'
import type { RevokeRequest } from '../../revocation/revocation-list.js'
import { normalizeSerial } from '../../revocation/revocation-list.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'

/** Most serials accepted in one call (the agent sends more in several calls). */
export const MAX_EXITED_SERIALS = 1000
const METHOD = 'RevokeExitedSvids'
export const EXITED_REASON = 'process exited (revoke-on-exit)'

/**
 * Revokes the reported serials this agent may revoke; refuses the rest.
 *
 * @example
 * const { revoked, refused } = await revokeExitedSvids(deps, caller, { serials: ['0a1b2c'] })
 */
export async function revokeExitedSvids(
  deps: AgentApiContext,
  caller: AuthenticatedAgent,
  req: RevokeExitedSvidsRequest__Output,
): Promise<RevokeExitedSvidsResponse> {
  if (req.serials.length > MAX_EXITED_SERIALS) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `at most ${MAX_EXITED_SERIALS} serials per call`)
  }
  const agentId = caller.agentId.toString()
  const requests = new Map<string, RevokeRequest>()
  const refused: string[] = []
  const reasons = new Map<string, number>()
  const refuse = (serial: string, why: string) => {
    refused.push(serial.slice(0, 64))
    reasons.set(why, (reasons.get(why) ?? 0) + 1)
  }
  const revokeOnExit = new Map<string, boolean>()
  for (const raw of req.serials) {
    let serial: string
    try {
      serial = normalizeSerial(raw)
    } catch {
      refuse(raw, 'malformed serial')
      continue
    }
    if (requests.has(serial)) continue
    const [record] = await deps.datastore.listIssuedSvids({ kind: 'x509', serialOrJti: serial, limit: 1 })
    if (record === undefined) {
      refuse(raw, 'not issued by this server')
      continue
    }
    if (record.agentId !== agentId || record.entryId === '') {
      refuse(raw, 'issued to another agent')
      continue
    }
    let flag = revokeOnExit.get(record.entryId)
    if (flag === undefined) {
      flag = (await deps.datastore.getEntry(record.entryId))?.revokeOnExit === true
      revokeOnExit.set(record.entryId, flag)
    }
    if (!flag) {
      refuse(raw, 'entry does not revoke on exit')
      continue
    }
    requests.set(serial, {
      kind: 'x509_serial',
      value: serial,
      reason: EXITED_REASON,
      expiresAt: record.notAfter,
    })
  }
  if (requests.size > 0) await deps.revocations.revoke([...requests.values()])
  if (refused.length > 0) {
    deps.logger.warn(
      { method: METHOD, agent_id: agentId, refused: refused.length, reasons: Object.fromEntries(reasons) },
      'exited-process serials refused',
    )
  }
  if (requests.size > 0) {
    deps.logger.info(
      { method: METHOD, agent_id: agentId, revoked: requests.size },
      'X509-SVIDs of exited processes revoked',
    )
  }
  return { revoked: [...requests.keys()], refused }
}
