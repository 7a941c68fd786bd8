/** `sigil-server federation show --trust-domain TD`: see ../federation.ts. */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation show',
  description: 'Shows one federation relationship.',
  options: (j) =>
    j.opt({
      'trust-domain': {
        hint: 'name',
        description: 'The foreign trust domain (other.org or spiffe://other.org) (required)',
      },
      id: {
        hint: 'id',
        description: "SPIRE's -id: the trust domain's ID, spiffe://other.org (same as --trust-domain)",
      },
    }),
  run: async (v, ctx) => {
    const trustDomain = v['trust-domain'] ?? v.id
    if (!trustDomain) throw new UsageError('--trust-domain is required')
    const res = await ctx.admin().call('GetFederationRelationship', { trust_domain: trustDomain })
    printResult(ctx.io, ctx.format, res, () => (res.relationship ? formatRelationship(res.relationship) : ''))
    return EXIT_OK
  },
})
