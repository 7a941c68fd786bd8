/** `sigil-server audit verify [--anchor SEQ:HASH]`: see ../audit.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_FAILED, EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

const ANCHOR = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server audit verify [--anchor SEQ:HASH]',
  description:
    "Walks the audit trail from its first record, checking the numbering, every link to the record before and every record's own hash. Intact: exit 0, the count and the head (SEQ:HASH — keep it elsewhere and pass it as --anchor later, which also catches a cut of the newest records or a rewrite of the whole chain after a point). Broken: exit 1, naming the first broken link.",
  options: (j) =>
    j.opt({
      anchor: {
        hint: 'seq:hash',
        description: 'A head printed by an earlier verify: that record must still carry that hash',
      },
    }),
  run: async (v, ctx) => {
    let anchor = { anchor_seq: 0, anchor_hash: '' }
    if (v.anchor !== undefined) {
      const m = ANCHOR.exec(v.anchor)
      if (!m)
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          '--anchor: SEQ:HASH, e.g. 42:9f86d0…(64 lowercase hex digits)',
        )
      anchor = { anchor_seq: Number(m[1]), anchor_hash: m[2]! }
    }
    const res = await ctx.admin().call('VerifyAuditTrail', anchor)
    const head = res.head_seq > 0 ? `${res.head_seq}:${res.head_hash}` : 'none (empty trail)'
    printResult(ctx.io, ctx.format, res, () =>
      res.ok
        ? `audit trail intact: ${res.count} record${res.count === 1 ? '' : 's'} verified\nhead: ${head}`
        : [
            `audit trail BROKEN at record ${res.problems[0]?.seq}: ${res.problems[0]?.message}`,
            ...res.problems.slice(1).map((p) => `also at record ${p.seq}: ${p.message}`),
            `${res.count} records read; last: ${head}`,
          ].join('\n'),
    )
    return res.ok ? EXIT_OK : EXIT_FAILED
  },
})
