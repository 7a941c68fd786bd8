/** The shared body of `agent evict` and `agent ban`: one agent ID in, one admin call, one result line. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { agentIdOption } from './agent-id-option.js'

/** What distinguishes one agent action from another. */
export interface AgentAction {
  readonly verb: 'evict' | 'ban'
  readonly description: string
  readonly method: 'EvictAgent' | 'BanAgent'
  /** The JSON field set to true in the result, and the word of the pretty line. */
  readonly outcome: 'evicted' | 'banned'
}

/**
 * An agent action verb's `run`.
 *
 * @example
 * export const run = agentActionVerb({ verb: 'ban', description: '…', method: 'BanAgent', outcome: 'banned' })
 */
export function agentActionVerb(action: AgentAction) {
  return adminVerb({
    usage: `sigil-server agent ${action.verb}`,
    description: action.description,
    options: agentIdOption,
    required: ['spiffe-id'],
    run: async (v, ctx) => {
      const id = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
      await ctx.admin().call(action.method, { spiffe_id: id })
      printResult(
        ctx.io,
        ctx.format,
        { spiffe_id: id, [action.outcome]: true },
        () => `Agent ${action.outcome}: ${id}`,
      )
      return EXIT_OK
    },
  })
}
