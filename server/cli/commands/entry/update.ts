/**
 * `sigil-server entry update --entry-id ID [fields]`: changes only the fields given; the
 * others keep their stored values. The entry's revision number goes up by one.
 */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'
import {
  ENTRY_FLAG_OPTIONS,
  ENTRY_LIST_OPTIONS,
  ENTRY_POLICY_OPTIONS,
  ENTRY_VALUE_OPTIONS,
  entryFromFlags,
} from './entry-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry update',
  description:
    'Changes the given fields of entry --entry-id; list flags (--selector, --dns-name, --federates-with) replace the whole list.',
  options: (j) =>
    j
      .opt({ 'entry-id': { hint: 'id', description: 'The entry to change (required)' } })
      .opt(ENTRY_VALUE_OPTIONS)
      .optList(ENTRY_LIST_OPTIONS)
      .flag(ENTRY_FLAG_OPTIONS)
      .flag(ENTRY_POLICY_OPTIONS),
  required: ['entry-id'],
  run: async (v, ctx) => {
    const { entry, mask } = entryFromFlags(v)
    if (mask.length === 0) throw new UsageError('nothing to update: give at least one field flag')
    const res = await ctx.admin().call('UpdateEntry', {
      entry: { ...entry, id: v['entry-id'] ?? '' },
      update_mask: mask,
      allow_script_only: v['allow-script-only'] === true,
    })
    const updated = res.entry
    printResult(ctx.io, ctx.format, res, () =>
      updated ? `Entry updated\n\n${formatEntry(updated)}` : 'Entry updated',
    )
    return EXIT_OK
  },
})
