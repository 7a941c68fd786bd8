/** `sigil-server agent show --spiffe-id ID`: one attested agent. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { formatAgent } from '../../format-records.js'
import { agentIdOption } from './agent-id-option.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server agent show',
  description: 'Shows one attested agent.',
  options: agentIdOption,
  required: ['spiffe-id'],
  run: async (v, ctx) => {
    const id = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
    const res = await ctx.admin().call('GetAgent', { spiffe_id: id })
    const agent = res.agent
    printResult(ctx.io, ctx.format, res, () => (agent ? formatAgent(agent) : ''))
    return EXIT_OK
  },
})
