/** `sigil-server entry create`: registers a new entry (see ../entry.ts). */
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
  usage: 'sigil-server entry create',
  description:
    'Registers an entry: callers under --parent-id whose selectors include every --selector get --spiffe-id. With --node, the entry is a node alias under the server ID instead.',
  options: (j) =>
    j
      .opt({
        ...ENTRY_VALUE_OPTIONS,
        'spiffe-id': {
          ...ENTRY_VALUE_OPTIONS['spiffe-id'],
          description: 'SPIFFE ID the entry issues (required)',
        },
        'parent-id': {
          ...ENTRY_VALUE_OPTIONS['parent-id'],
          description: `${ENTRY_VALUE_OPTIONS['parent-id'].description} (required without --node)`,
        },
      })
      .optList({
        ...ENTRY_LIST_OPTIONS,
        selector: {
          ...ENTRY_LIST_OPTIONS.selector,
          description: 'Selector the caller must have, repeatable (required)',
        },
      })
      .flag(ENTRY_FLAG_OPTIONS)
      .flag(ENTRY_POLICY_OPTIONS),
  required: ['spiffe-id', 'selector'],
  run: async (v, ctx) => {
    if (!v.node && !v['parent-id']) throw new UsageError('--parent-id is required')
    if (v.node && v['parent-id'] !== undefined) {
      throw new UsageError('--node entries hang under the server ID; leave out --parent-id')
    }
    const { entry } = entryFromFlags(v)
    const res = await ctx
      .admin()
      .call('CreateEntry', { entry, allow_script_only: v['allow-script-only'] === true })
    const created = res.entry
    printResult(ctx.io, ctx.format, res, () =>
      created ? `Entry created\n\n${formatEntry(created)}` : 'Entry created',
    )
    return EXIT_OK
  },
})
