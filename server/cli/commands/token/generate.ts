/** `sigil-server token generate`: see ../token.ts. */
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag, ttlFlag } from '../../flag-values.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server token generate',
  description:
    'Creates a one-time join token; the agent that redeems it is known by --spiffe-id. Prints the token alone.',
  options: (j) =>
    j.opt({
      'spiffe-id': { hint: 'id', description: 'SPIFFE ID the agent will have (required)' },
      ttl: { hint: 'duration', description: 'Token lifetime, e.g. 10m or 1h (default: the server setting)' },
    }),
  required: ['spiffe-id'],
  run: async (v, ctx) => {
    const spiffeId = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    const res = await ctx.admin().call('CreateJoinToken', { spiffe_id: spiffeId, ttl })
    printResult(
      ctx.io,
      ctx.format,
      { token: res.token, spiffe_id: spiffeId, expires_at: res.expires_at },
      () => res.token,
    )
    return EXIT_OK
  },
})
