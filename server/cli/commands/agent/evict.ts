/** `sigil-server agent evict --spiffe-id ID`: forgets the agent; it must attest again. */
import type { VerbContext } from '../../admin-verb.js'
import { runAgentAction } from './agent-action.js'

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return runAgentAction(args, ctx, {
    verb: 'evict',
    description:
      'Forgets an attested agent: it is refused until it attests again (a banned agent is unbanned this way).',
    method: 'EvictAgent',
    outcome: 'evicted',
  })
}
