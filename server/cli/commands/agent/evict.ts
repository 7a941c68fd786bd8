/** `sigil-server agent evict --spiffe-id ID`: forgets the agent; it must attest again. */
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
      'sigil-server agent evict',
      'Forgets an attested agent: it is refused until it attests again (a banned agent is unbanned this way).',
    )
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    const id = spiffeIdFlag(required(v['spiffe-id'], '--spiffe-id'), '--spiffe-id')
    return withAdmin(ctx, v, async (admin, format) => {
      await admin.call('EvictAgent', { spiffe_id: id })
      printResult(ctx.io, format, { spiffe_id: id, evicted: true }, () => `Agent evicted: ${id}`)
      return EXIT_OK
    })
  })
}
