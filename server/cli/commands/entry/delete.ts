/** `sigil-server entry delete --entry-id ID`: deletes an entry and prints what was deleted. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry delete',
  description: 'Deletes a registration entry.',
  options: (j) => j.opt({ 'entry-id': { hint: 'id', description: 'The entry to delete (required)' } }),
  required: ['entry-id'],
  run: async (v, ctx) => {
    const res = await ctx.admin().call('DeleteEntry', { entry_id: v['entry-id'] ?? '' })
    const deleted = res.entry
    printResult(ctx.io, ctx.format, res, () =>
      deleted ? `Entry deleted\n\n${formatEntry(deleted)}` : 'Entry deleted',
    )
    return EXIT_OK
  },
})
