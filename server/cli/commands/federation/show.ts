/** `sigil-server federation show --trust-domain TD`: see ../federation.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship, trustDomainOf, trustDomainOptions } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation show',
  description: 'Shows one federation relationship.',
  options: (j) => trustDomainOptions(j),
  run: async (v, ctx) => {
    const trustDomain = trustDomainOf(v)
    const res = await ctx.admin().call('GetFederationRelationship', { trust_domain: trustDomain })
    printResult(ctx.io, ctx.format, res, () => (res.relationship ? formatRelationship(res.relationship) : ''))
    return EXIT_OK
  },
})
