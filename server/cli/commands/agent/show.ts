/** `sigil-server agent show --spiffe-id ID`: one attested agent. */
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
import { formatAgent } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'
import { agentIdOptions } from './agent-id-option.js'

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = agentIdOptions('sigil-server agent show', 'Shows one attested agent.')
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('GetAgent', { spiffe_id: id })
      const agent = res.agent
      printResult(ctx.io, format, res, () => (agent ? formatAgent(agent) : ''))
      return EXIT_OK
    })
  })
}
