/** `sigil-server agent evict --spiffe-id ID`: forgets the agent; it must attest again. */
import { agentActionVerb } from './agent-action.js'

/** Runs the verb. */
export const run = agentActionVerb({
  verb: 'evict',
  description:
    'Forgets an attested agent: it is refused until it attests again (a banned agent is unbanned this way).',
  method: 'EvictAgent',
  outcome: 'evicted',
})
