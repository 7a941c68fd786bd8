/** `sigil-server approval approve --id ID [--for D]`: releases a held request. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { ttlFlag } from '../../flag-values.js'
import { formatApproval } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server approval approve',
  description:
    'Approves a pending approval: the held request is allowed. With --for, identical requests ' +
    '(same principal, action, resource and task) are allowed without a new hold for that long.',
  options: (j) =>
    j.opt({
      id: { hint: 'id', description: 'The approval ID (required)' },
      for: {
        hint: 'duration',
        description: 'Cover identical requests this long (90s, 10m, 1h); default: only the held one',
      },
    }),
  required: ['id'],
  run: async (v, ctx) => {
    const forSeconds = v.for === undefined ? 0 : ttlFlag(v.for, '--for', { allowZero: true })
    const res = await ctx.admin().call('ApproveApproval', { id: v.id ?? '', for_seconds: forSeconds })
    const a = res.approval
    printResult(ctx.io, ctx.format, res, () => (a ? `Approved\n${formatApproval(a)}` : 'Approved'))
    return EXIT_OK
  },
})
