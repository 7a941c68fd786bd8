/** `sigil-server svid list`: see ../svid.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { MAX_SINCE_SECONDS } from '../../../api/admin/max-since-seconds.js'
import { parseDurationSeconds } from '../../../config/duration.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { formatList, formatSvidRecord } from '../../format-records.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server svid list',
  description: 'Shows the SVIDs the server issued (filters AND), newest first, at most 10000.',
  options: (j) =>
    j.opt({
      'spiffe-id': { hint: 'id', description: 'Only SVIDs for this SPIFFE ID' },
      'agent-id': { hint: 'id', description: 'Only SVIDs minted at the request of this agent' },
      since: { hint: 'duration', description: 'Only SVIDs issued in the last DURATION, e.g. 1h or 2d' },
    }),
  run: async (v, ctx) => {
    const request = {
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      agent_id: v['agent-id'] === undefined ? '' : spiffeIdFlag(v['agent-id'], '--agent-id'),
      since_seconds: v.since === undefined ? 0 : sinceFlag(v.since),
    }
    const res = await ctx.admin().call('ListSvids', request)
    printResult(ctx.io, ctx.format, res, () => formatList(res.svids, formatSvidRecord, 'SVID', 'SVIDs'))
    return EXIT_OK
  },
})

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
