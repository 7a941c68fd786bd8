/**
 * Whether a document fetched from (or handed in for) a foreign trust domain may become that
 * domain's stored bundle. A SPIFFE bundle does not name its trust domain, so the pairing is
 * ours to keep: a bundle whose X.509 authorities carry a SPIFFE ID of another trust domain is
 * refused, and so is a bundle with no usable key (it would distrust every SVID of the domain;
 * the last good bundle is worth more than an empty one). Whether it is newer is the
 * datastore's decision (`storeFederatedBundle`, by `spiffe_sequence`).
 */
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'

/**
 * Decodes and checks a SPIFFE bundle document for `trustDomain`. Throws `ERR_BUNDLE_INVALID`.
 *
 * @example
 * const bundle = acceptFederatedBundle(TrustDomain.parse('other.org'), body)
 */
export function acceptFederatedBundle(trustDomain: TrustDomain, document: Uint8Array | string): TrustBundle {
  return checkFederatedBundle(decodeSpiffeBundle(trustDomain, document))
}

/**
 * The checks of {@link acceptFederatedBundle} on an already decoded bundle (e.g. from PEM).
 * Throws `ERR_BUNDLE_INVALID`.
 */
export function checkFederatedBundle(bundle: TrustBundle): TrustBundle {
  const td = bundle.trustDomain
  if (bundle.x509Authorities.length === 0 && bundle.jwtAuthorities.length === 0) {
    throw new SigilError('ERR_BUNDLE_INVALID', `the bundle for ${td.name} holds no usable key`)
  }
  for (const [i, der] of bundle.x509Authorities.entries()) {
    for (const uri of readCertificateFacts(der).uriSans) {
      if (!uri.startsWith('spiffe://')) continue
      const named = uri.slice('spiffe://'.length).split('/')[0] ?? ''
      if (named !== td.name) {
        throw new SigilError(
          'ERR_BUNDLE_INVALID',
          `X.509 authority ${i} belongs to trust domain "${echo(named)}", not ${td.name}: a bundle for another trust domain`,
        )
      }
    }
  }
  return bundle
}
