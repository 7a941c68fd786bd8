/** `sigil-server agent ban --spiffe-id ID`: refuses the agent from now on, re-attestation included. */
import {
  guard,
  parseOptions,
  printHelp,
  printResult,
  required,
  type VerbContext,
  withAdmin,
} from '../../admin-verb.js'
import { spiffeIdFlag } from '../../flag-values.js'
import { EXIT_OK } from '../../run-cli.js'
import { agentIdOptions } from './agent-id-option.js'

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = agentIdOptions(
      'sigil-server agent ban',
      'Bans an attested agent: every call and re-attestation is refused until it is evicted.',
    )
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    return withAdmin(ctx, v, async (admin, format) => {
      await admin.call('BanAgent', { spiffe_id: id })
      printResult(ctx.io, format, { spiffe_id: id, banned: true }, () => `Agent banned: ${id}`)
      return EXIT_OK
    })
  })
}
