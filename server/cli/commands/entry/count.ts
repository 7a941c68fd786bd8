/** `sigil-server entry count`: prints how many registration entries exist. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry count',
  description: 'Counts the registration entries.',
  run: async (_v, ctx) => {
    const { count } = await ctx.admin().call('CountEntries', {})
    printResult(
      ctx.io,
      ctx.format,
      { count },
      () => `${count} registration ${count === 1 ? 'entry' : 'entries'}`,
    )
    return EXIT_OK
  },
})
