/** `sigil-server agent list`: every attested agent, banned ones included. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatAgent, formatList } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server agent list',
  description: 'Lists the attested agents.',
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('ListAgents', {})
    printResult(ctx.io, ctx.format, res, () =>
      formatList(res.agents, formatAgent, 'attested agent', 'attested agents'),
    )
    return EXIT_OK
  },
})
