/** `sigil-server policy show [--version N]`: the policy text in force (or of one version). */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatPolicyVersion } from './format-policy.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server policy show',
  description: 'Prints the policy in force (its version, SHA-256, policy ids and text), or of --version N.',
  options: (j) =>
    j.opt({ version: { hint: 'n', description: 'A stored version (default: the one in force)' } }),
  run: async (v, ctx) => {
    let version = 0
    if (v.version !== undefined) {
      version = Number(v.version)
      if (!/^[1-9][0-9]{0,15}$/.test(v.version) || !Number.isSafeInteger(version))
        throw new UsageError('--version: a whole number >= 1')
    }
    const res = await ctx.admin().call('GetPolicy', { version })
    printResult(ctx.io, ctx.format, res, () => (res.policy ? formatPolicyVersion(res.policy, true) : ''))
    return EXIT_OK
  },
})
