/**
 * `sigil-server agent count`: prints how many attested agents exist (banned ones included), as
 * `entry count` does for entries. Counted from ListAgents: the admin API has no count call.
 */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server agent count',
  description: 'Counts the attested agents (banned ones included).',
  run: async (_v, ctx) => {
    const count = (await ctx.admin().call('ListAgents', {})).agents.length
    printResult(ctx.io, ctx.format, { count }, () => `${count} attested ${count === 1 ? 'agent' : 'agents'}`)
    return EXIT_OK
  },
})
