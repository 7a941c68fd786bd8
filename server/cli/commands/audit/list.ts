/** `sigil-server audit list [--since D] [--spiffe-id ID] [--task-id T] [--decision D]`: see ../audit.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { MAX_SINCE_SECONDS } from '../../../api/admin/max-since-seconds.js'
import { parseDurationSeconds } from '../../../config/duration.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { auditRecordJson, formatAuditRecord } from '../../format-audit.js'

const DECISIONS = ['allow', 'deny', 'hold', 'info']

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server audit list',
  description:
    'Shows audit records (filters AND) in the order they were written, the newest 10000 at most: one line each — sequence number, time, decision, kind, SPIFFE ID, serial or jti, task, who asked, details.',
  options: (j) =>
    j.opt({
      since: { hint: 'duration', description: 'Only records of the last DURATION, e.g. 1h or 2d' },
      'spiffe-id': { hint: 'id', description: 'Only records about this SPIFFE ID' },
      'task-id': { hint: 'id', description: 'Only records about this task' },
      decision: {
        hint: 'decision',
        description: 'Only records with this decision: allow, deny, hold or info',
      },
      'serial-or-jti': { hint: 'id', description: 'Only records about this X.509 serial (hex) or JWT jti' },
      limit: { hint: 'n', description: 'At most the newest N records (default and maximum 10000)' },
    }),
  run: async (v, ctx) => {
    if (v.decision !== undefined && !DECISIONS.includes(v.decision)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', '--decision: allow, deny, hold or info')
    }
    const limit = v.limit === undefined ? 0 : Number(v.limit)
    if (v.limit !== undefined && !(/^[0-9]+$/.test(v.limit) && limit >= 1 && limit <= 10_000)) {
      throw new SigilError('ERR_INVALID_ARGUMENT', '--limit: a whole number from 1 to 10000')
    }
    let since = 0
    if (v.since !== undefined) {
      since = parseDurationSeconds(v.since, '--since')
      if (since > MAX_SINCE_SECONDS) {
        throw new SigilError(
          'ERR_INVALID_ARGUMENT',
          `--since: at most ${MAX_SINCE_SECONDS / 86_400}d (100 years)`,
        )
      }
    }
    const request = {
      since_seconds: since,
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      task_id: v['task-id'] ?? '',
      decision: v.decision ?? '',
      serial_or_jti: v['serial-or-jti'] ?? '',
      limit,
    }
    const res = await ctx.admin().call('ListAuditRecords', request)
    printResult(
      ctx.io,
      ctx.format,
      { records: res.records.map(auditRecordJson), truncated: res.truncated },
      () =>
        [
          `Found ${res.records.length} audit record${res.records.length === 1 ? '' : 's'}${res.truncated ? ' (the newest that fit in one answer; narrow with --since, --limit or a filter for older ones)' : ''}`,
          ...res.records.map(formatAuditRecord),
        ].join('\n'),
    )
    return EXIT_OK
  },
})
