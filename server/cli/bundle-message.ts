/** Reading the wire `Bundle` the admin API returns: its X.509 roots and its JWKS document. */
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { Bundle__Output as BundleMessage } from '../../proto/generated/sigil/common/v1/Bundle.js'

/**
 * The trust bundle in an admin answer, decoded and checked (throws `ERR_BUNDLE_INVALID`).
 *
 * @example
 * certificatesToPem([...decodeBundleMessage(res.bundle).x509Authorities])
 */
export function decodeBundleMessage(msg: BundleMessage | null | undefined): TrustBundle {
  if (!msg) throw new SigilError('ERR_BUNDLE_NOT_FOUND', 'the server sent no bundle')
  return decodeSpiffeBundle(TrustDomain.parse(msg.trust_domain), msg.spiffe_bundle)
}

/** The JWKS document of a wire bundle, parsed (for JSON output). */
export function bundleDocument(msg: BundleMessage): unknown {
  return JSON.parse(msg.spiffe_bundle.toString('utf8'))
}
