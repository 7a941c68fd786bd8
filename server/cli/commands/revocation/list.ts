/** `sigil-server revocation list`: see ../revocation.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatList, formatRevocation } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server revocation list',
  description: 'Shows every revocation the server holds (each until its credential expires), oldest first.',
  options: (j) => j,
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('ListRevocations', {})
    printResult(ctx.io, ctx.format, res, () =>
      [
        `Sequence number  : ${res.sequence}`,
        formatList(res.revocations, formatRevocation, 'revocation', 'revocations'),
      ].join('\n'),
    )
    return EXIT_OK
  },
})
