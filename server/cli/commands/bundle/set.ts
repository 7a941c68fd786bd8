/**
 * `sigil-server bundle set --id spiffe://TD [--path F] [--format pem|spiffe]`: stores a foreign
 * trust domain's bundle (SPIRE's `bundle set`; without --path the bundle is read from stdin).
 * The server refuses our own trust domain and a bundle that does not decode, holds no key, or
 * whose CAs name another trust domain.
 */
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import { adminVerb, printResult } from '../../admin-verb.js'

/** Largest bundle file read. */
const MAX_BUNDLE_FILE_BYTES = 1024 * 1024

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server bundle set',
  description: "Creates or replaces a foreign trust domain's bundle (not our own).",
  options: (j) =>
    j.opt({
      id: { hint: 'id', description: 'The trust domain ID, spiffe://other.org (required)' },
      path: { hint: 'file', description: 'The bundle file (default: stdin, also with -)' },
      format: {
        hint: 'format',
        default: 'pem',
        validOptions: ['pem', 'spiffe'] as const,
        description:
          'pem: X.509 roots as PEM; spiffe: a SPIFFE bundle (JWKS, e.g. from bundle show --format spiffe)',
      },
    }),
  run: async (v, ctx) => {
    if (!v.id) throw new UsageError('--id is required')
    const text = await readInput(v.path ?? '-', ctx.io.stdin ?? process.stdin, MAX_BUNDLE_FILE_BYTES, 'path')
    const res = await ctx.admin().call('SetFederatedBundle', {
      trust_domain: v.id,
      data: Buffer.from(text, 'utf8'),
      format: v.format,
    })
    const stored = res.bundle
    printResult(
      ctx.io,
      ctx.format,
      { trust_domain: stored?.trust_domain, sequence_number: Number(stored?.sequence_number ?? 0) },
      () => 'Bundle set',
    )
    return EXIT_OK
  },
})
