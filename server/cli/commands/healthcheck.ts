/**
 * `sigil-server healthcheck`: asks the server whether it is serving (CA able to sign,
 * datastore answering and consistent). Exit 0 when healthy, 1 otherwise — unreachable
 * included — with the failing checks on one stderr line.
 */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../admin-verb.js'
import { type CliIo, EXIT_FAILED, EXIT_OK } from '../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack('sigil-server healthcheck', 'Checks that the server is healthy: exit 0 if so, 1 otherwise.'),
  )

/** Runs `sigil-server healthcheck`. */
export function run(args: string[], io: CliIo): Promise<number> {
  const ctx: VerbContext = { io, name: 'healthcheck' }
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(io, j)
    return withAdmin(ctx, v, async (admin, format) => {
      const { serving, problems } = await admin.call('Health', {})
      if (format === 'json') io.stdout.write(`${JSON.stringify({ serving, problems }, null, 2)}\n`)
      else if (serving) io.stdout.write('Server is healthy.\n')
      if (!serving)
        io.stderr.write(
          `sigil-server healthcheck: server is unhealthy: ${problems.join('; ').replace(/\s*\n\s*/g, ' ') || 'not serving'}\n`,
        )
      return serving ? EXIT_OK : EXIT_FAILED
    })
  })
}
