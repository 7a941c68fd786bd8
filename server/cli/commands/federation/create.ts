/** `sigil-server federation create`: see ../federation.ts and relationship-flags.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { formatRelationship, relationshipOptions, relationshipRequest } from './relationship-flags.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server federation create',
  description:
    'Creates a federation relationship with a foreign trust domain and fetches its bundle at once (then by its refresh hint).',
  options: (j) => relationshipOptions(j),
  run: async (v, ctx) => {
    const res = await ctx.admin().call('CreateFederationRelationship', await relationshipRequest(v, ctx))
    const r = res.relationship
    printResult(ctx.io, ctx.format, res, () =>
      r
        ? `Federation relationship created (first fetch: ${res.refresh_outcome || 'not made'})\n\n${formatRelationship(r)}`
        : '',
    )
    return EXIT_OK
  },
})
