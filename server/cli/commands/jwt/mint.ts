/** `sigil-server jwt mint`: see ../jwt.ts. */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  UsageError,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { spiffeIdFlag, ttlFlag } from '../../flag-values.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack('sigil-server jwt mint', 'Mints a JWT-SVID for --spiffe-id and prints the token alone.')
      .opt({
        'spiffe-id': { hint: 'id', description: 'The sub claim (required)' },
        ttl: { hint: 'duration', description: 'Lifetime, e.g. 5m (default: the server setting)' },
      })
      .optList({ audience: { hint: 'aud', description: 'An aud value (required, repeatable)' } }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const spiffeId = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    const audience = required(v.audience, '--audience')
    if (audience.some((a) => a === '')) throw new UsageError('--audience must not be empty')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('MintJwtSvid', { spiffe_id: spiffeId, audience, ttl })
      printResult(
        ctx.io,
        format,
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
    })
  })
}
