/** `sigil-server entry create`: registers a new entry (see ../entry.ts). */
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
      'sigil-server entry create',
      'Registers an entry: callers under --parent-id whose selectors include every --selector get --spiffe-id. With --node, the entry is a node alias under the server ID instead.',
    )
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
    required(v['spiffe-id'], '--spiffe-id')
    if (!v.node) required(v['parent-id'], '--parent-id')
    required(v.selector, '--selector')
    if (v.node && v['parent-id'] !== undefined) {
      throw new UsageError('--node entries hang under the server ID; leave out --parent-id')
    }
    const { entry } = entryFromFlags(v)
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('CreateEntry', {
        entry,
        allow_script_only: v['allow-script-only'] === true,
      })
      const created = res.entry
      printResult(ctx.io, format, res, () =>
        created ? `Entry created\n\n${formatEntry(created)}` : 'Entry created',
      )
      return EXIT_OK
    })
  })
}
