/**
 * `sigil-server policy set --file P.cedar` (`-`: stdin) or `policy set --clear`: validates the
 * policy set against the Sigil schema on the server and stores it as the next version, in force
 * at once on the server and pushed to every agent. An invalid policy exits 1 naming line and
 * column, and nothing changes: the version in force stays.
 */
import { EXIT_FAILED, EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import { AdminCallError } from '../../admin-call-error.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatPolicyVersion } from './format-policy.js'

/** The largest policy file read (the engine's own limit). */
export const MAX_POLICY_FILE_BYTES = 16 * 1024 * 1024

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server policy set',
  description:
    'Validates a Cedar policy file against the Sigil schema and puts it in force as a new version (pushed to every agent). An invalid file exits 1 with line and column; nothing changes.',
  options: (j) =>
    j.opt({ file: { hint: 'path', description: 'The Cedar policy file (- for stdin)' } }).flag({
      clear: { description: 'Remove the policy: entries alone decide again (a new, empty version)' },
    }),
  run: async (v, ctx) => {
    if ((v.file === undefined) === (v.clear !== true)) throw new UsageError('give --file or --clear')
    const text =
      v.file === undefined
        ? ''
        : await readInput(v.file, ctx.io.stdin ?? process.stdin, MAX_POLICY_FILE_BYTES, 'policy file')
    try {
      const res = await ctx.admin().call('SetPolicy', { text, clear: v.clear === true })
      printResult(ctx.io, ctx.format, res, () =>
        res.policy ? `Policy set\n\n${formatPolicyVersion(res.policy, false)}` : 'Policy set',
      )
      return EXIT_OK
    } catch (e) {
      // an invalid policy is a failed `set` (exit 1), not a usage error
      if (
        e instanceof AdminCallError &&
        e.sigilCode === 'ERR_INVALID_ARGUMENT' &&
        /^invalid policy/.test(e.message)
      ) {
        ctx.io.stderr.write(`Error: ${e.message}\n`)
        return EXIT_FAILED
      }
      throw e
    }
  },
})
