/** `sigil-server federation delete --trust-domain TD`: see ../federation.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { trustDomainOf, trustDomainOptions } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation delete',
  description:
    'Deletes a federation relationship: its bundle is no longer fetched (the last fetched bundle stays until bundle delete).',
  options: (j) => trustDomainOptions(j),
  run: async (v, ctx) => {
    const trustDomain = trustDomainOf(v)
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
