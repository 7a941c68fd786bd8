/** Admin handlers for attested agents: list, show, evict, ban. */
import { SigilError } from '../../../certs/errors.js'
import type { Agent__Output as AgentMessage } from '../../../proto/generated/sigil/admin/v1/Agent.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AttestedAgent } from '../../datastore/records.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { requireWorkloadId } from './admin-input.js'
import { unary } from './unary.js'

type AgentHandlers = Pick<AdminAPIHandlers, 'ListAgents' | 'GetAgent' | 'EvictAgent' | 'BanAgent'>

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The wire form of an attested agent. */
export function agentToMessage(a: AttestedAgent): AgentMessage {
  return {
    spiffe_id: a.spiffeId,
    attestation_type: a.attestationType,
    serial: a.serialNumber,
    expires_at: seconds(a.expiresAt),
    banned: a.banned,
    last_seen: seconds(a.lastSeen),
    selectors: a.selectors.map((s) => ({ type: s.type, value: s.value })),
  }
}

/** The handlers for the `agent` commands. */
export function agentHandlers(deps: AdminApiDeps): AgentHandlers {
  const { datastore, logger, trustDomain } = deps
  const agentId = (value: string): string => requireWorkloadId(value, trustDomain, 'spiffe_id').toString()
  return {
    ListAgents: unary('ListAgents', logger, async () => ({
      agents: (await datastore.listAttestedAgents()).map(agentToMessage),
    })),

    GetAgent: unary('GetAgent', logger, async (req) => {
      const id = agentId(req.spiffe_id)
      const agent = await datastore.getAttestedAgent(id)
      if (!agent) throw new SigilError('ERR_NOT_FOUND', `no attested agent with SPIFFE ID ${id}`)
      return { agent: agentToMessage(agent) }
    }),

    EvictAgent: unary('EvictAgent', logger, async (req) => {
      const id = agentId(req.spiffe_id)
      await datastore.deleteAttestedAgent(id)
      logger.info({ agent_id: id }, 'agent evicted')
      return {}
    }),

    BanAgent: unary('BanAgent', logger, async (req) => {
      const id = agentId(req.spiffe_id)
      await datastore.banAttestedAgent(id)
      logger.warn({ agent_id: id }, 'agent banned')
      return {}
    }),
  }
}
