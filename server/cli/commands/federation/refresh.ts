/** `sigil-server federation refresh --trust-domain TD`: see ../federation.ts. */
import { EXIT_FAILED, EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation refresh',
  description:
    "Fetches the trust domain's bundle now; exit 1 when the fetch fails (the last good bundle stays).",
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
    const res = await ctx.admin().call('RefreshFederatedBundle', { trust_domain: trustDomain })
    const r = res.relationship
    printResult(ctx.io, ctx.format, res, () =>
      [
        res.outcome === 'failed' ? `Refresh failed: ${res.error}` : `Bundle ${res.outcome}`,
        ...(r ? ['', formatRelationship(r)] : []),
      ].join('\n'),
    )
    return res.outcome === 'failed' ? EXIT_FAILED : EXIT_OK
  },
})
