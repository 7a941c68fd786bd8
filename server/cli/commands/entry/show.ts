/**
 * `sigil-server entry show [--entry-id|--spiffe-id|--parent-id|--selector…]`: lists entries
 * (filters AND; exit 0 with "Found 0 entries" when filters match nothing, as SPIRE does). An
 * `--entry-id` that names no entry is an error like `entry update`/`delete`: exit 2.
 */
import { SigilError } from '../../../../certs/errors.js'
import { echo } from '../../../../certs/lib/echo.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { selectorFlags, spiffeIdFlag } from '../../flag-values.js'
import { formatEntry, formatList } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry show',
  description: 'Shows the entries matching every filter given; all entries without one.',
  options: (j) =>
    j
      .opt({
        'entry-id': { hint: 'id', description: 'Only this entry (exit 2 if it does not exist)' },
        'spiffe-id': { hint: 'id', description: 'Only entries issuing this SPIFFE ID' },
        'parent-id': { hint: 'id', description: 'Only entries with this parent' },
      })
      .optList({
        selector: { hint: 'type:key:value', description: 'Only entries having this selector (repeatable)' },
      }),
  run: async (v, ctx) => {
    const request = {
      entry_id: v['entry-id'] ?? '',
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      parent_id: v['parent-id'] === undefined ? '' : spiffeIdFlag(v['parent-id'], '--parent-id'),
      selectors: selectorFlags(v.selector ?? []),
    }
    const res = await ctx.admin().call('ListEntries', request)
    if (request.entry_id && res.entries.length === 0) {
      const filtered = request.spiffe_id || request.parent_id || request.selectors.length > 0
      if (!filtered) throw new SigilError('ERR_NOT_FOUND', `entry ${echo(request.entry_id)} not found`)
    }
    printResult(ctx.io, ctx.format, res, () => formatList(res.entries, formatEntry, 'entry', 'entries'))
    return EXIT_OK
  },
})
