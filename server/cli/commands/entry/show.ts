/** `sigil-server entry show [--entry-id|--spiffe-id|--parent-id|--selector…]`: lists entries (filters AND). */
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
import { selectorFlags, spiffeIdFlag } from '../../flag-values.js'
import { formatEntry, formatList } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack(
      'sigil-server entry show',
      'Shows the entries matching every filter given; all entries without one.',
    )
      .opt({
        'entry-id': { hint: 'id', description: 'Only this entry' },
        'spiffe-id': { hint: 'id', description: 'Only entries issuing this SPIFFE ID' },
        'parent-id': { hint: 'id', description: 'Only entries with this parent' },
      })
      .optList({
        selector: { hint: 'type:key:value', description: 'Only entries having this selector (repeatable)' },
      }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const request = {
      entry_id: v['entry-id'] ?? '',
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      parent_id: v['parent-id'] === undefined ? '' : spiffeIdFlag(v['parent-id'], '--parent-id'),
      selectors: selectorFlags(v.selector ?? []),
    }
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('ListEntries', request)
      printResult(ctx.io, format, res, () => formatList(res.entries, formatEntry, 'entry', 'entries'))
      return EXIT_OK
    })
  })
}
