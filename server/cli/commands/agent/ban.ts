/** `sigil-server agent ban --spiffe-id ID`: refuses the agent from now on, re-attestation included. */
import type { VerbContext } from '../../admin-verb.js'
import { runAgentAction } from './agent-action.js'

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return runAgentAction(args, ctx, {
    verb: 'ban',
    description: 'Bans an attested agent: every call and re-attestation is refused until it is evicted.',
    method: 'BanAgent',
    outcome: 'banned',
  })
}
