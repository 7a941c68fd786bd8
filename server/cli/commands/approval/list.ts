/** `sigil-server approval list [--status pending|approved|denied|expired]`: see ../approval.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatApproval, formatList } from '../../format-records.js'

const STATUSES = ['pending', 'approved', 'denied', 'expired']

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server approval list',
  description: 'Lists approvals, newest first, at most 10000.',
  options: (j) =>
    j.opt({
      status: {
        hint: 'status',
        description: 'Only approvals in this status: pending, approved, denied or expired',
      },
    }),
  run: async (v, ctx) => {
    const status = v.status ?? ''
    if (status !== '' && !STATUSES.includes(status)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', `--status: ${STATUSES.join(', ')}`)
    }
    const res = await ctx.admin().call('ListApprovals', { status, limit: 0 })
    printResult(ctx.io, ctx.format, res, () =>
      formatList(res.approvals, formatApproval, 'approval', 'approvals'),
    )
    return EXIT_OK
  },
})
