/** Admin handler for `bundle show`: the server's own trust bundle as published. */
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { Bundle__Output as BundleMessage } from '../../../proto/generated/sigil/common/v1/Bundle.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

/** The wire form of a trust bundle: the SPIFFE bundle JSON (JWKS) as UTF-8 bytes. */
export function bundleToMessage(bundle: TrustBundle): BundleMessage {
  return {
    trust_domain: bundle.trustDomain.name,
    spiffe_bundle: Buffer.from(encodeSpiffeBundle(bundle), 'utf8'),
    sequence_number: bundle.sequenceNumber,
  }
}

/** The handler for `bundle show`. */
export function bundleHandlers(deps: AdminApiDeps): Pick<AdminAPIHandlers, 'GetBundle'> {
  return {
    GetBundle: unary('GetBundle', deps.logger, async () => ({
      bundle: bundleToMessage(deps.ca.currentBundle()),
    })),
  }
}
