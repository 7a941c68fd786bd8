/**
 * `sigil-server entry create`: registers a new entry (see ../entry.ts), or with `--data FILE|-`
 * every entry of a SPIRE `{"entries":[…]}` file (spire-data.ts).
 *
 * A `--data` batch has per-entry results, as SPIRE's BatchCreateEntry does: with one bad entry
 * among 1,000 the other 999 are created and the bad one is reported (its index, status and
 * message), and the exit code is that of the worst failure (2 for invalid input). Why not all or
 * nothing: each entry is created by its own CreateEntry call, which is one datastore transaction
 * with the server's full validation (the same path as a single `entry create`), so an entry is
 * either stored whole or not at all; a file that failed partly is fixed and the failed entries
 * re-run alone, which is what a SPIRE operator's scripts already do with SPIRE's results.
 */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import type {
  RegistrationEntry,
  RegistrationEntry__Output,
} from '../../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import { GrpcStatus } from '../../../../proto/grpc-status.js'
import { AdminCallError, exitCodeForStatus } from '../../admin-call-error.js'
import { type AdminVerbContext, adminVerb, printResult } from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'
import {
  ENTRY_FLAG_OPTIONS,
  ENTRY_LIST_OPTIONS,
  ENTRY_POLICY_OPTIONS,
  ENTRY_VALUE_OPTIONS,
  type EntryFlagValues,
  entryFromFlags,
} from './entry-flags.js'
import { MAX_DATA_BYTES, parseSpireEntries } from './spire-data.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry create',
  description:
    'Registers an entry: callers under --parent-id whose selectors include every --selector get --spiffe-id. With --node, the entry is a node alias under the server ID instead. With --data, registers every entry of a SPIRE {"entries":[...]} JSON file, each on its own (the good ones are created, each bad one is reported; exit 2 if any was refused).',
  options: (j) =>
    j
      .opt({
        ...ENTRY_VALUE_OPTIONS,
        'spiffe-id': {
          ...ENTRY_VALUE_OPTIONS['spiffe-id'],
          description: 'SPIFFE ID the entry issues (required without --data)',
        },
        'parent-id': {
          ...ENTRY_VALUE_OPTIONS['parent-id'],
          description: `${ENTRY_VALUE_OPTIONS['parent-id'].description} (required without --node or --data)`,
        },
        'entry-id': {
          hint: 'id',
          description:
            "The new entry's ID (1-255 of A-Z a-z 0-9 . _ : -; default: a server-assigned UUID); taken: refused",
        },
        data: {
          hint: 'file',
          description:
            'SPIRE\'s entries JSON ({"entries":[{"spiffe_id":{"trust_domain","path"},"parent_id":…,"selectors":[{"type","value"}],…}]}), - for stdin; not with the entry flags',
        },
      })
      .optList({
        ...ENTRY_LIST_OPTIONS,
        selector: {
          ...ENTRY_LIST_OPTIONS.selector,
          description: 'Selector the caller must have, repeatable (required without --data)',
        },
      })
      .flag(ENTRY_FLAG_OPTIONS)
      .flag(ENTRY_POLICY_OPTIONS),
  run: async (v, ctx) => {
    if (v.data !== undefined) return createFromData(v, v.data, v['allow-script-only'] === true, ctx)
    if (!v['spiffe-id']) throw new UsageError('--spiffe-id is required')
    if (!v.selector?.length) throw new UsageError('--selector is required')
    if (!v.node && !v['parent-id']) throw new UsageError('--parent-id is required')
    if (v.node && v['parent-id'] !== undefined) {
      throw new UsageError('--node entries hang under the server ID; leave out --parent-id')
    }
    const { entry } = entryFromFlags(v)
    if (v['entry-id'] !== undefined) entry.id = entryIdFlag(v['entry-id'])
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

/** One entry's outcome, in the shape of SPIRE's BatchCreateEntryResponse.Result. */
interface BatchResult {
  index: number
  status: { code: number; message: string }
  /** The stored entry when created; the entry as sent when refused by the server. */
  entry?: RegistrationEntry | RegistrationEntry__Output
}

/** `--entry-id`: checked here as the server checks it. */
function entryIdFlag(value: string): string {
  if (!/^[A-Za-z0-9._:-]{1,255}$/.test(value)) {
    throw new UsageError('--entry-id: 1 to 255 characters of A-Z a-z 0-9 . _ : -')
  }
  return value
}

async function createFromData(
  v: EntryFlagValues & { readonly 'entry-id'?: string | undefined },
  data: string,
  allowScriptOnly: boolean,
  ctx: AdminVerbContext,
): Promise<number> {
  if (entryFromFlags(v).mask.length > 0 || v['entry-id'] !== undefined)
    throw new UsageError('--data takes the entries from the file; leave out the entry flags')
  const parsed = parseSpireEntries(
    await readInput(data, ctx.io.stdin ?? process.stdin, MAX_DATA_BYTES, 'data'),
  )
  const results: BatchResult[] = []
  let exit = EXIT_OK
  for (const [index, item] of parsed.entries()) {
    if ('error' in item) {
      results.push({ index, status: { code: GrpcStatus.INVALID_ARGUMENT, message: item.error } })
      exit = Math.max(exit, exitCodeForStatus(GrpcStatus.INVALID_ARGUMENT))
      continue
    }
    try {
      const res = await ctx
        .admin()
        .call('CreateEntry', { entry: item.entry, allow_script_only: allowScriptOnly })
      results.push({
        index,
        status: { code: GrpcStatus.OK, message: 'OK' },
        ...(res.entry ? { entry: res.entry } : {}),
      })
    } catch (e) {
      if (!(e instanceof AdminCallError)) throw e
      results.push({ index, status: { code: e.status, message: e.message }, entry: item.entry })
      exit = Math.max(exit, exitCodeForStatus(e.status))
    }
  }
  printResult(ctx.io, ctx.format, { results }, () => prettyResults(results))
  return exit
}

function prettyResults(results: readonly BatchResult[]): string {
  const created = results.filter((r) => r.status.code === GrpcStatus.OK).length
  const parts = results.map((r) =>
    r.status.code === GrpcStatus.OK
      ? `Entry ${r.index} created\n\n${r.entry ? formatEntry(r.entry as RegistrationEntry__Output) : ''}`
      : `Entry ${r.index} FAILED (code = ${r.status.code}, message = ${r.status.message})${r.entry?.spiffe_id ? `: ${r.entry.spiffe_id}` : ''}\n`,
  )
  parts.push(`${created} of ${results.length} entries created, ${results.length - created} failed`)
  return parts.join('\n')
}
