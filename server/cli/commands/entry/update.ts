/**
 * `sigil-server entry update --entry-id ID [fields]`: changes only the fields given; the
 * others keep their stored values. The entry's revision number goes up by one.
 */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  UsageError,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'
import {
  ENTRY_FLAG_OPTIONS,
  ENTRY_LIST_OPTIONS,
  ENTRY_POLICY_OPTIONS,
  ENTRY_VALUE_OPTIONS,
  entryFromFlags,
} from './entry-flags.js'

const options = () =>
  withAdminOptions(
    commandJack(
      'sigil-server entry update',
      'Changes the given fields of entry --entry-id; list flags (--selector, --dns-name, --federates-with) replace the whole list.',
    )
      .opt({ 'entry-id': { hint: 'id', description: 'The entry to change (required)' } })
      .opt(ENTRY_VALUE_OPTIONS)
      .optList(ENTRY_LIST_OPTIONS)
      .flag(ENTRY_FLAG_OPTIONS)
      .flag(ENTRY_POLICY_OPTIONS),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = required(v['entry-id'], '--entry-id')
    const { entry, mask } = entryFromFlags(v)
    if (mask.length === 0) throw new UsageError('nothing to update: give at least one field flag')
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('UpdateEntry', {
        entry: { ...entry, id },
        update_mask: mask,
        allow_script_only: v['allow-script-only'] === true,
      })
      const updated = res.entry
      printResult(ctx.io, format, res, () =>
        updated ? `Entry updated\n\n${formatEntry(updated)}` : 'Entry updated',
      )
      return EXIT_OK
    })
  })
}
