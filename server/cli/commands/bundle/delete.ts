/**
 * `sigil-server bundle delete --id spiffe://TD`: deletes a foreign trust domain's bundle in
 * SPIRE's `restrict` mode, the only one: refused while entries federate with the domain or a
 * federation relationship keeps fetching it (`federation delete` first).
 */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server bundle delete',
  description: "Deletes a foreign trust domain's bundle (refused while entries federate with it).",
  options: (j) =>
    j.opt({
      id: { hint: 'id', description: 'The trust domain ID, spiffe://other.org (required)' },
      mode: {
        hint: 'mode',
        default: 'restrict',
        description:
          "SPIRE's deletion mode; only restrict (refuse while entries federate with the domain): change those entries' --federates-with first",
      },
    }),
  run: async (v, ctx) => {
    if (!v.id) throw new UsageError('--id is required')
    if (v.mode !== 'restrict') {
      throw new UsageError(
        `--mode ${v.mode}: Sigil deletes bundles only in restrict mode; remove the domain from the entries' --federates-with (entry update) first`,
      )
    }
    await ctx.admin().call('DeleteFederatedBundle', { trust_domain: v.id })
    printResult(ctx.io, ctx.format, { trust_domain: v.id, deleted: true }, () => 'Bundle deleted')
    return EXIT_OK
  },
})
