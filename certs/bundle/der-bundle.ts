/**
 * The Workload API's bundle form: each CA certificate's DER, joined end to end with no
 * separator (SPIFFE.md §5.3, pitfall §7.1). Parsers walk the ASN.1 lengths.
 */
import { SigilError } from '../errors.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { derSequenceLength } from './der-length.js'
import { TrustBundle } from './trust-bundle.js'

/**
 * Splits concatenated DER certificates into one buffer each (copies).
 * Throws `ERR_BUNDLE_INVALID` when the bytes are not a sequence of whole DER elements.
 *
 * @example
 * splitConcatenatedDer(Buffer.concat([rootDer, otherRootDer])).length // 2
 */
export function splitConcatenatedDer(der: Uint8Array): Buffer[] {
  if (!(der instanceof Uint8Array)) throw new TypeError('concatenated DER must be a Uint8Array')
  const out: Buffer[] = []
  let offset = 0
  while (offset < der.length) {
    const len = derSequenceLength(der, offset)
    if (typeof len === 'string') throw new SigilError('ERR_BUNDLE_INVALID', `invalid DER bundle: ${len}`)
    out.push(Buffer.from(der.subarray(offset, offset + len)))
    offset += len
  }
  return out
}

/**
 * Reads the Workload API form (concatenated DER CA certificates) into a bundle holding
 * only X.509 authorities. Empty input gives a bundle with no authorities.
 *
 * @example
 * const b = decodeDerBundle(TrustDomain.parse('example.org'), resp.bundle)
 */
export function decodeDerBundle(trustDomain: TrustDomain, der: Uint8Array): TrustBundle {
  return TrustBundle.create({ trustDomain, x509Authorities: splitConcatenatedDer(der) })
}
