/** `sigil-server approval deny --id ID --reason R`: refuses a held request. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatApproval } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server approval deny',
  description: 'Denies a pending approval: the held request is refused with the reason.',
  options: (j) =>
    j.opt({
      id: { hint: 'id', description: 'The approval ID (required)' },
      reason: { hint: 'text', description: 'Why, shown to the held caller (required)' },
    }),
  required: ['id', 'reason'],
  run: async (v, ctx) => {
    const res = await ctx.admin().call('DenyApproval', { id: v.id ?? '', reason: v.reason ?? '' })
    const a = res.approval
    printResult(ctx.io, ctx.format, res, () => (a ? `Denied\n${formatApproval(a)}` : 'Denied'))
    return EXIT_OK
  },
})
