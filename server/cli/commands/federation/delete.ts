/** `sigil-server federation delete --trust-domain TD`: see ../federation.ts. */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation delete',
  description:
    'Deletes a federation relationship: its bundle is no longer fetched (the last fetched bundle stays until bundle delete).',
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
    await ctx.admin().call('DeleteFederationRelationship', { trust_domain: trustDomain })
    printResult(
      ctx.io,
      ctx.format,
      { trust_domain: trustDomain, deleted: true },
      () => 'Federation relationship deleted',
    )
    return EXIT_OK
  },
})
