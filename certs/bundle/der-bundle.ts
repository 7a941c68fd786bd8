/**
 * The Workload API's bundle form: each CA certificate's DER, joined end to end with no
 * separator (SPIFFE.md §5.3, pitfall §7.1). Parsers walk the ASN.1 lengths.
 */
import { SigilError } from '../errors.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { splitConcatenatedDer } from '../x509svid/parse-x509-svid.js'
import { TrustBundle } from './trust-bundle.js'

/**
 * Reads the Workload API form (concatenated DER CA certificates) into a bundle holding
 * only X.509 authorities. Empty input gives a bundle with no authorities.
 *
 * @example
 * const b = decodeDerBundle(TrustDomain.parse('example.org'), resp.bundle)
 */
export function decodeDerBundle(trustDomain: TrustDomain, der: Uint8Array): TrustBundle {
  if (!(der instanceof Uint8Array)) throw new TypeError('concatenated DER must be a Uint8Array')
  let x509Authorities: Buffer[]
  try {
    x509Authorities = splitConcatenatedDer(Buffer.from(der.buffer, der.byteOffset, der.byteLength))
  } catch (cause) {
    throw new SigilError('ERR_BUNDLE_INVALID', `invalid DER bundle: ${(cause as Error).message}`, { cause })
  }
  return TrustBundle.create({ trustDomain, x509Authorities })
}
