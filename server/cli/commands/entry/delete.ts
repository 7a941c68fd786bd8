/** `sigil-server entry delete --entry-id ID`: deletes an entry and prints what was deleted. */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack('sigil-server entry delete', 'Deletes a registration entry.').opt({
      'entry-id': { hint: 'id', description: 'The entry to delete (required)' },
    }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = required(v['entry-id'], '--entry-id')
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('DeleteEntry', { entry_id: id })
      const deleted = res.entry
      printResult(ctx.io, format, res, () =>
        deleted ? `Entry deleted\n\n${formatEntry(deleted)}` : 'Entry deleted',
      )
      return EXIT_OK
    })
  })
}
