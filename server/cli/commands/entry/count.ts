/** `sigil-server entry count`: prints how many registration entries exist. */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(commandJack('sigil-server entry count', 'Counts the registration entries.'))

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    return withAdmin(ctx, v, async (admin, format) => {
      const { count } = await admin.call('CountEntries', {})
      printResult(
        ctx.io,
        format,
        { count },
        () => `${count} registration ${count === 1 ? 'entry' : 'entries'}`,
      )
      return EXIT_OK
    })
  })
}
