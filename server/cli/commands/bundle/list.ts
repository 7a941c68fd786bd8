/**
 * `sigil-server bundle list [--id spiffe://TD] [--format pem|spiffe]`: the federated bundles
 * (SPIRE's `bundle list`): each trust domain ID followed by its X.509 roots as PEM (default)
 * or its SPIFFE bundle (JWKS).
 */
import { certificatesToPem } from '../../../../certs/x509svid/pem.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { bundleDocument, decodeBundleMessage } from '../../bundle-message.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server bundle list',
  description: 'Prints the bundles of the foreign trust domains (never our own: see bundle show).',
  options: (j) =>
    j.opt({
      id: { hint: 'id', description: 'Only this trust domain (spiffe://other.org)' },
      format: {
        hint: 'format',
        default: 'pem',
        validOptions: ['pem', 'spiffe'] as const,
        description: 'pem: the X.509 roots as PEM; spiffe: the SPIFFE bundle (JWKS)',
      },
    }),
  run: async (v, ctx) => {
    const res = await ctx.admin().call('ListFederatedBundles', { trust_domain: v.id ?? '' })
    const items = res.bundles.map((msg) => {
      const bundle = decodeBundleMessage(msg)
      return {
        trust_domain: msg.trust_domain,
        sequence_number: Number(msg.sequence_number),
        ...(v.format === 'spiffe'
          ? { bundle: bundleDocument(msg) }
          : { pem: certificatesToPem([...bundle.x509Authorities]) }),
      }
    })
    printResult(ctx.io, ctx.format, { bundles: items }, () =>
      items
        .map((b) =>
          [
            `spiffe://${b.trust_domain}`,
            'bundle' in b ? JSON.stringify(b.bundle, null, 2) : (b.pem ?? '').trimEnd(),
          ].join('\n'),
        )
        .join('\n\n'),
    )
    return EXIT_OK
  },
})
