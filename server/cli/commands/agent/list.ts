/** `sigil-server agent list`: every attested agent, banned ones included. */
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
import { formatAgent, formatList } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () => withAdminOptions(commandJack('sigil-server agent list', 'Lists the attested agents.'))

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('ListAgents', {})
      printResult(ctx.io, format, res, () =>
        formatList(res.agents, formatAgent, 'attested agent', 'attested agents'),
      )
      return EXIT_OK
    })
  })
}
