/** `sigil-server federation update`: see ../federation.ts and relationship-flags.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship, relationshipOptions, relationshipRequest } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation update',
  description:
    'Replaces the bundle endpoint of a federation relationship (and the stored bundle, with --trust-domain-bundle) and fetches at once.',
  options: (j) => relationshipOptions(j),
  run: async (v, ctx) => {
    const res = await ctx.admin().call('UpdateFederationRelationship', await relationshipRequest(v, ctx))
    const r = res.relationship
    printResult(ctx.io, ctx.format, res, () =>
      r
        ? `Federation relationship updated (first fetch: ${res.refresh_outcome || 'not made'})\n\n${formatRelationship(r)}`
        : '',
    )
    return EXIT_OK
  },
})
