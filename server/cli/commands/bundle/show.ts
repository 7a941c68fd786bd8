/** `sigil-server bundle show`: see ../bundle.ts. */
import { certificatesToPem } from '../../../../certs/x509svid/pem.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { bundleDocument, decodeBundleMessage } from '../../bundle-message.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server bundle show',
  description: "Prints the server's trust bundle.",
  options: (j) =>
    j.opt({
      format: {
        hint: 'format',
        default: 'pem',
        validOptions: ['pem', 'spiffe'] as const,
        description: 'pem: the X.509 roots as PEM; spiffe: the SPIFFE bundle (JWKS with X.509 and JWT keys)',
      },
    }),
  run: async (v, ctx) => {
    const { bundle: msg } = await ctx.admin().call('GetBundle', {})
    const bundle = decodeBundleMessage(msg)
    const head = { trust_domain: bundle.trustDomain.name, sequence_number: bundle.sequenceNumber }
    if (v.format === 'spiffe') {
      const doc = bundleDocument(msg as NonNullable<typeof msg>)
      printResult(ctx.io, ctx.format, { ...head, bundle: doc }, () => JSON.stringify(doc, null, 2))
    } else {
      const pem = certificatesToPem([...bundle.x509Authorities])
      printResult(ctx.io, ctx.format, { ...head, pem }, () => pem)
    }
    return EXIT_OK
  },
})
