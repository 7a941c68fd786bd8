/** `sigil-server svid revoke`: see ../svid.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { MAX_REVOCATION_REASON_LENGTH, normalizeSerial } from '../../../revocation/revocation-list.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { formatList, formatRevocation } from '../../format-records.js'

const TARGETS = ['serial', 'jti', 'spiffe-id', 'task-id'] as const

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server svid revoke (--serial S | --jti J | --spiffe-id ID | --task-id T) [--reason R]',
  description:
    'Revokes credentials until they expire: one X.509 serial, one JWT jti, every live SVID of a SPIFFE ID, or everything issued for a task. Agents enforce it within a second; CRLs and the revocation feed change at once.',
  options: (j) =>
    j.opt({
      serial: { hint: 'hex', description: 'An X509-SVID serial number (hex; 0A:1B:… accepted)' },
      jti: { hint: 'id', description: 'A JWT-SVID jti claim' },
      'spiffe-id': { hint: 'id', description: 'Every live SVID issued to this SPIFFE ID' },
      'task-id': { hint: 'id', description: 'Everything issued for this task (needs the task service)' },
      reason: { hint: 'text', description: 'Why (kept with the revocation)' },
    }),
  run: async (v, ctx) => {
    const given = TARGETS.filter((k) => v[k] !== undefined)
    if (given.length !== 1) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        'give exactly one of --serial, --jti, --spiffe-id, --task-id',
      )
    }
    const target = given[0] as (typeof TARGETS)[number]
    if (v[target] === '') throw new SigilError('ERR_INVALID_ARGUMENT', `--${target} must not be empty`)
    const reason = v.reason ?? ''
    if (reason.length > MAX_REVOCATION_REASON_LENGTH) {
      throw new SigilError(
        'ERR_INVALID_ARGUMENT',
        `--reason: at most ${MAX_REVOCATION_REASON_LENGTH} characters`,
      )
    }
    const request = {
      serial: v.serial === undefined ? '' : normalizeSerial(v.serial),
      jti: v.jti ?? '',
      spiffe_id: v['spiffe-id'] === undefined ? '' : spiffeIdFlag(v['spiffe-id'], '--spiffe-id'),
      task_id: v['task-id'] ?? '',
      reason,
    }
    const res = await ctx.admin().call('RevokeSvid', request)
    printResult(ctx.io, ctx.format, res, () =>
      formatList(res.revocations, formatRevocation, 'revoked credential', 'revoked credentials'),
    )
    return EXIT_OK
  },
})
