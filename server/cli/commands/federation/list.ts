/** `sigil-server federation list`: every federation relationship and the state of its refreshes. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation list',
  description: 'Lists the federation relationships.',
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('ListFederationRelationships', {})
    const n = res.relationships.length
    printResult(ctx.io, ctx.format, res, () =>
      [
        `Found ${n} federation relationship${n === 1 ? '' : 's'}`,
        ...res.relationships.map(formatRelationship),
      ].join('\n\n'),
    )
    return EXIT_OK
  },
})
