/** `sigil-server policy history`: every stored policy version, newest first. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatList } from '../../format-records.js'
import { formatPolicyVersion } from './format-policy.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server policy history',
  description: 'Lists every policy version, newest first: when, by whom, SHA-256 and policy ids.',
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('ListPolicies', {})
    printResult(ctx.io, ctx.format, res, () =>
      formatList(res.policies, (p) => formatPolicyVersion(p, false), 'policy version', 'policy versions'),
    )
    return EXIT_OK
  },
})
