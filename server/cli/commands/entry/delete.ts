/**
 * `sigil-server entry delete --entry-id ID`: deletes an entry and prints what was deleted.
 * `--file F|-` deletes every ID of SPIRE's batch-delete file `{"ids":[…]}`, each on its own
 * with per-entry results like `entry create --data` (create.ts): the others are deleted, each
 * ID that fails (unknown, not a string) is reported, exit 2 if any failed.
 */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import { GrpcStatus } from '../../../../proto/grpc-status.js'
import { AdminCallError, exitCodeForStatus } from '../../admin-call-error.js'
import { type AdminVerbContext, adminVerb, printResult } from '../../admin-verb.js'
import { formatEntry } from '../../format-records.js'
import { MAX_DATA_BYTES } from './spire-data.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server entry delete',
  description:
    'Deletes a registration entry, or with --file every entry of a SPIRE {"ids":[...]} JSON file, each on its own (exit 2 if any was refused).',
  options: (j) =>
    j.opt({
      'entry-id': { hint: 'id', description: 'The entry to delete (required without --file)' },
      file: {
        hint: 'file',
        description: 'SPIRE\'s batch-delete JSON {"ids":["…"]}, - for stdin; not with --entry-id',
      },
    }),
  run: async (v, ctx) => {
    if (v.file !== undefined) {
      if (v['entry-id'] !== undefined) throw new UsageError('give either --entry-id or --file, not both')
      return deleteFromFile(v.file, ctx)
    }
    if (!v['entry-id']) throw new UsageError('--entry-id is required')
    const res = await ctx.admin().call('DeleteEntry', { entry_id: v['entry-id'] })
    const deleted = res.entry
    printResult(ctx.io, ctx.format, res, () =>
      deleted ? `Entry deleted\n\n${formatEntry(deleted)}` : 'Entry deleted',
    )
    return EXIT_OK
  },
})

interface DeleteResult {
  id: unknown
  status: { code: number; message: string }
}

async function deleteFromFile(file: string, ctx: AdminVerbContext): Promise<number> {
  const ids = parseIds(await readInput(file, ctx.io.stdin ?? process.stdin, MAX_DATA_BYTES, 'file'))
  const results: DeleteResult[] = []
  let exit = EXIT_OK
  for (const id of ids) {
    if (typeof id !== 'string' || id === '') {
      results.push({
        id,
        status: { code: GrpcStatus.INVALID_ARGUMENT, message: 'an entry ID must be a non-empty string' },
      })
      exit = Math.max(exit, exitCodeForStatus(GrpcStatus.INVALID_ARGUMENT))
      continue
    }
    try {
      await ctx.admin().call('DeleteEntry', { entry_id: id })
      results.push({ id, status: { code: GrpcStatus.OK, message: 'OK' } })
    } catch (e) {
      if (!(e instanceof AdminCallError)) throw e
      results.push({ id, status: { code: e.status, message: e.message } })
      exit = Math.max(exit, exitCodeForStatus(e.status))
    }
  }
  printResult(ctx.io, ctx.format, { results }, () => {
    const deleted = results.filter((r) => r.status.code === GrpcStatus.OK).length
    const lines = results.map((r) =>
      r.status.code === GrpcStatus.OK
        ? `Deleted entry with ID: ${r.id}`
        : `Failed to delete entry with ID ${JSON.stringify(r.id)} (code = ${r.status.code}, message = ${r.status.message})`,
    )
    lines.push(`${deleted} of ${results.length} entries deleted, ${results.length - deleted} failed`)
    return lines.join('\n')
  })
  return exit
}

function parseIds(text: string): unknown[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `--file: not JSON: ${(e as Error).message}`)
  }
  const ids = typeof doc === 'object' && doc !== null ? (doc as { ids?: unknown }).ids : undefined
  if (!Array.isArray(ids)) throw new SigilError('ERR_INVALID_ARGUMENT', '--file: expected {"ids": [ ... ]}')
  return ids
}
