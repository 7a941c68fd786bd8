/** `sigil-server svid list`: see ../svid.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { MAX_SINCE_SECONDS } from '../../../api/admin/svids.js'
import { parseDurationSeconds } from '../../../config/duration.js'
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
import { spiffeIdFlag } from '../../flag-values.js'
import { formatList, formatSvidRecord } from '../../format-records.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack(
      'sigil-server svid list',
      'Shows the SVIDs the server issued (filters AND), newest first, at most 10000.',
    ).opt({
      'spiffe-id': { hint: 'id', description: 'Only SVIDs for this SPIFFE ID' },
      'agent-id': { hint: 'id', description: 'Only SVIDs minted at the request of this agent' },
      since: { hint: 'duration', description: 'Only SVIDs issued in the last DURATION, e.g. 1h or 2d' },
    }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const request = {
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      agent_id: v['agent-id'] === undefined ? '' : spiffeIdFlag(v['agent-id'], '--agent-id'),
      since_seconds: v.since === undefined ? 0 : sinceFlag(v.since),
    }
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('ListSvids', request)
      printResult(ctx.io, format, res, () => formatList(res.svids, formatSvidRecord, 'SVID', 'SVIDs'))
      return EXIT_OK
    })
  })
}

/** `--since` in seconds: a duration of at most 100 years. */
function sinceFlag(value: string): number {
  const seconds = parseDurationSeconds(value, '--since')
  if (seconds > MAX_SINCE_SECONDS) {
    throw new SigilError(
      'ERR_INVALID_ARGUMENT',
      `--since: at most ${MAX_SINCE_SECONDS / 86_400}d (100 years)`,
    )
  }
  return seconds
}
