/** `sigil-server svid explain (--serial S | --jti J)`: see ../svid.ts. */
import { SigilError } from '../../../../certs/errors.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { normalizeSerial } from '../../../revocation/revocation-list.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatExplanation } from '../../format-audit.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server svid explain (--serial S | --jti J)',
  description:
    'Explains one issued SVID from the issuance record, the audit trail and the registry: the entry and its owner, the agent that asked and its attestation evidence, the selectors that matched, the policies that permitted it, its task and delegation chain, approvals, revocation, and every audit record about it.',
  options: (j) =>
    j.opt({
      serial: { hint: 'hex', description: 'An X509-SVID serial number (hex; 0A:1B:… accepted)' },
      jti: { hint: 'id', description: 'A JWT-SVID jti claim' },
    }),
  run: async (v, ctx) => {
    if ((v.serial === undefined) === (v.jti === undefined) || v.serial === '' || v.jti === '') {
      throw new SigilError('ERR_INVALID_ARGUMENT', 'give exactly one of --serial, --jti')
    }
    const request = { serial: v.serial === undefined ? '' : normalizeSerial(v.serial), jti: v.jti ?? '' }
    const res = await ctx.admin().call('ExplainSvid', request)
    const explanation = JSON.parse(res.explanation) as Record<string, unknown>
    printResult(ctx.io, ctx.format, explanation, () => formatExplanation(explanation))
    return EXIT_OK
  },
})
