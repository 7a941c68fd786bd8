/** `sigil-server jwt mint`: see ../jwt.ts. */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag, ttlFlag } from '../../flag-values.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server jwt mint',
  description: 'Mints a JWT-SVID for --spiffe-id and prints the token alone.',
  options: (j) =>
    j
      .opt({
        'spiffe-id': { hint: 'id', description: 'The sub claim (required)' },
        ttl: { hint: 'duration', description: 'Lifetime, e.g. 5m (default: the server setting)' },
      })
      .optList({ audience: { hint: 'aud', description: 'An aud value, repeatable (required)' } }),
  required: ['spiffe-id', 'audience'],
  run: async (v, ctx) => {
    const spiffeId = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
    const audience = v.audience ?? []
    if (audience.some((a) => a === '')) throw new UsageError('--audience must not be empty')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    const res = await ctx.admin().call('MintJwtSvid', { spiffe_id: spiffeId, audience, ttl })
    printResult(
      ctx.io,
      ctx.format,
      {
        token: res.token,
        spiffe_id: spiffeId,
        audience,
        issued_at: res.issued_at,
        expires_at: res.expires_at,
      },
      () => res.token,
    )
    return EXIT_OK
  },
})
