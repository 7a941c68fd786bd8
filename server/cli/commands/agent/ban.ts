/** `sigil-server agent ban --spiffe-id ID`: refuses the agent from now on, re-attestation included. */
import { agentActionVerb } from './agent-action.js'

/** Runs the verb. */
export const run = agentActionVerb({
  verb: 'ban',
  description: 'Bans an attested agent: every call and re-attestation is refused until it is evicted.',
  method: 'BanAgent',
  outcome: 'banned',
})
