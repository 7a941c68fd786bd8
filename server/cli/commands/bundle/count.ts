/** `sigil-server bundle count`: how many federated bundles the server holds (not counting our own). */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server bundle count',
  description: 'Counts the federated bundles.',
  run: async (_v, ctx) => {
    const { count } = await ctx.admin().call('CountFederatedBundles', {})
    printResult(ctx.io, ctx.format, { count }, () => `${count} federated bundle${count === 1 ? '' : 's'}`)
    return EXIT_OK
  },
})
