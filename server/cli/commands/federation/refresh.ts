/** `sigil-server federation refresh --trust-domain TD`: see ../federation.ts. */
import { EXIT_FAILED, EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship, trustDomainOf, trustDomainOptions } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation refresh',
  description:
    "Fetches the trust domain's bundle now; exit 1 when the fetch fails (the last good bundle stays).",
  options: (j) => trustDomainOptions(j),
  run: async (v, ctx) => {
    const trustDomain = trustDomainOf(v)
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
