/** The shared body of `agent evict` and `agent ban`: one agent ID in, one admin call, one result line. */
import {
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  type VerbContext,
  withAdmin,
} from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { EXIT_OK } from '../../run-cli.js'
import { agentIdOptions } from './agent-id-option.js'

/** What distinguishes one agent action from another. */
export interface AgentAction {
  readonly verb: 'evict' | 'ban'
  readonly description: string
  readonly method: 'EvictAgent' | 'BanAgent'
  /** The JSON field set to true in the result, and the word of the pretty line. */
  readonly outcome: 'evicted' | 'banned'
}

/**
 * Runs an agent action verb.
 *
 * @example
 * runAgentAction(args, ctx, { verb: 'ban', description: '…', method: 'BanAgent', outcome: 'banned' })
 */
export function runAgentAction(args: string[], ctx: VerbContext, action: AgentAction): Promise<number> {
  return guard(ctx, async () => {
    const j = agentIdOptions(`sigil-server agent ${action.verb}`, action.description)
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    return withAdmin(ctx, v, async (admin, format) => {
      await admin.call(action.method, { spiffe_id: id })
      printResult(
        ctx.io,
        format,
        { spiffe_id: id, [action.outcome]: true },
        () => `Agent ${action.outcome}: ${id}`,
      )
      return EXIT_OK
    })
  })
}
