/**
 * The authorization step of the agent API: which registration entries the calling agent
 * may serve. The rule itself lives in the datastore (`listAuthorizedEntries`: entries
 * parented by the agent or by a node alias whose selectors the agent has, transitively);
 * here it is fetched once per call and every refusal is logged with the agent and entry.
 */
import { SigilError } from '../../../certs/errors.js'
import type { RegistrationEntry } from '../../datastore/datastore.js'
import type { AgentApiDeps } from './agent-api-deps.js'
import type { AuthenticatedAgent } from './agent-authenticator.js'

/**
 * The caller's authorized entries by entry ID (one datastore query).
 *
 * @example
 * const entries = await authorizedEntries(deps, caller)
 * const entry = requireAuthorizedEntry(deps, entries, caller, entryId, 'NewJwtSvid')
 */
export async function authorizedEntries(
  deps: Pick<AgentApiDeps, 'datastore'>,
  caller: AuthenticatedAgent,
): Promise<Map<string, RegistrationEntry>> {
  const entries = await deps.datastore.listAuthorizedEntries(
    caller.agentId.toString(),
    caller.agent.selectors,
  )
  return new Map(entries.map((e) => [e.id, e]))
}

/**
 * The entry `entryId` if the caller may serve it; otherwise logs the attempt and throws
 * `ERR_NOT_AUTHORIZED` (PERMISSION_DENIED). Unknown and unauthorized entries look the same.
 */
export function requireAuthorizedEntry(
  deps: Pick<AgentApiDeps, 'logger'>,
  entries: ReadonlyMap<string, RegistrationEntry>,
  caller: AuthenticatedAgent,
  entryId: string,
  method: string,
): RegistrationEntry {
  const entry = entries.get(entryId)
  if (entry) return entry
  deps.logger.warn(
    { method, agent_id: caller.agentId.toString(), entry_id: entryId.slice(0, 128) },
    'agent asked for an entry it is not authorized for',
  )
  throw new SigilError(
    'ERR_NOT_AUTHORIZED',
    `entry "${entryId.slice(0, 128)}" does not exist or is not authorized for this agent`,
  )
}
