/** `sigil-server agent list`: every attested agent, banned ones included, or those passing the filters. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatAgent, formatList } from '../../format-records.js'
import { AGENT_FILTER_LIST_OPTIONS, AGENT_FILTER_OPTIONS, agentFilter } from './agent-filters.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server agent list',
  description: 'Lists the attested agents (filters AND).',
  options: (j) => j.opt(AGENT_FILTER_OPTIONS).optList(AGENT_FILTER_LIST_OPTIONS),
  run: async (v, ctx) => {
    const keep = agentFilter(v)
    const res = await ctx.admin().call('ListAgents', {})
    const agents = res.agents.filter(keep)
    printResult(ctx.io, ctx.format, { agents }, () =>
      formatList(agents, formatAgent, 'attested agent', 'attested agents'),
    )
    return EXIT_OK
  },
})
