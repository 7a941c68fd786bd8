/** `sigil-server bundle show`: see ../bundle.ts. */
import { certificatesToPem } from '../../../../certs/x509svid/pem.js'
import {
  commandJack,
  guard,
  parseOptions,
  printHelp,
  printResult,
  type VerbContext,
  withAdmin,
  withAdminOptions,
} from '../../admin-verb.js'
import { bundleDocument, decodeBundleMessage } from '../../bundle-message.js'
import { EXIT_OK } from '../../run-cli.js'

const options = () =>
  withAdminOptions(
    commandJack('sigil-server bundle show', "Prints the server's trust bundle.").opt({
      format: {
        hint: 'format',
        default: 'pem',
        validOptions: ['pem', 'spiffe'] as const,
        description: 'pem: the X.509 roots as PEM; spiffe: the SPIFFE bundle (JWKS with X.509 and JWT keys)',
      },
    }),
  )

/** Runs the verb. */
export function run(args: string[], ctx: VerbContext): Promise<number> {
  return guard(ctx, async () => {
    const j = options()
    const v = parseOptions(j, args)
    if (v.help) return printHelp(ctx.io, j)
    return withAdmin(ctx, v, async (admin, format) => {
      const { bundle: msg } = await admin.call('GetBundle', {})
      const bundle = decodeBundleMessage(msg)
      const head = { trust_domain: bundle.trustDomain.name, sequence_number: bundle.sequenceNumber }
      if (v.format === 'spiffe') {
        const doc = bundleDocument(msg as NonNullable<typeof msg>)
        printResult(ctx.io, format, { ...head, bundle: doc }, () => JSON.stringify(doc, null, 2))
      } else {
        const pem = certificatesToPem([...bundle.x509Authorities])
        printResult(ctx.io, format, { ...head, pem }, () => pem)
      }
      return EXIT_OK
    })
  })
}
