/** `sigil-server token generate`: see ../token.ts. */
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { spiffeIdFlag, ttlFlag } from '../../flag-values.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack(
      'sigil-server token generate',
      'Creates a one-time join token; the agent that redeems it is known by --spiffe-id. Prints the token alone.',
    ).opt({
      'spiffe-id': { hint: 'id', description: 'SPIFFE ID the agent will have (required)' },
      ttl: { hint: 'duration', description: 'Token lifetime, e.g. 10m or 1h (default: the server setting)' },
    }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const spiffeId = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    return withAdmin(ctx, v, async (admin, format) => {
      const res = await admin.call('CreateJoinToken', { spiffe_id: spiffeId, ttl })
      printResult(
        ctx.io,
        format,
        { token: res.token, spiffe_id: spiffeId, expires_at: res.expires_at },
        () => res.token,
      )
      return EXIT_OK
    })
  })
}
