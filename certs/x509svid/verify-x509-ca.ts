/**
 * Validation of a freshly minted SPIFFE signing CA certificate before it is used (SPIRE's
 * `credvalidator.ValidateX509CA`, plus the path): the signing-CA profile over the one path
 * builder (`certs/x509path/build-verified-path.ts`). The CA must be a CA with keyCertSign and
 * exactly one URI SAN, `spiffe://<trust domain>`, and must chain, through the given
 * intermediates, to one of the trust anchors (the bundle roots it will be published under; a
 * self-signed root is its own anchor) at `now`, with the SVID profile's issuer rules. Input
 * comes from our own minting, so a failure means a bug or a bad upstream CA, never an attack.
 */
import { SigilError } from '../errors.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { buildVerifiedPath, type PathProfile } from '../x509path/build-verified-path.js'
import { type CertificateFacts, KEY_USAGE, readCertificateFacts } from './certificate-facts.js'

/** Longest path accepted, the CA and its anchor included (as for X509-SVIDs, whose path is one longer). */
const MAX_CA_PATH_LENGTH = 9

function signingCaProfile(trustDomain: TrustDomain): PathProfile {
  return {
    maxPathLength: MAX_CA_PATH_LENGTH,
    issuerKeyUsageRequired: true,
    leafRules: (ca: CertificateFacts) => {
      if (!ca.isCa) return 'the CA certificate has basicConstraints CA=false'
      if (!((ca.keyUsage ?? 0) & KEY_USAGE.keyCertSign)) return 'the CA certificate lacks keyCertSign'
      const [uri, ...more] = ca.uriSans
      let id: SpiffeId | undefined
      try {
        id = uri === undefined || more.length > 0 ? undefined : SpiffeId.parse(uri)
      } catch {
        id = undefined
      }
      if (!id?.isTrustDomainId() || !id.memberOf(trustDomain)) {
        return `the CA certificate must carry exactly one URI SAN "${trustDomain.idString()}"`
      }
      return undefined
    },
  }
}

/**
 * Checks a minted CA certificate `chainDer[0]` (then the intermediates above it, if any)
 * against `anchorsDer` for `trustDomain` at `now`; returns the verified path (DER, CA first,
 * anchor last). Throws `ERR_CERT_INVALID` saying what is wrong.
 *
 * @example
 * verifyX509Ca([caDer], [caDer], trustDomain, { now }) // a self-signed root
 * verifyX509Ca([caDer, ...upstreamIntermediates], [upstreamRoot], trustDomain, { now })
 */
export function verifyX509Ca(
  chainDer: readonly Buffer[],
  anchorsDer: readonly Buffer[],
  trustDomain: TrustDomain,
  opts: { now?: Date } = {},
): Buffer[] {
  if (!Array.isArray(chainDer) || !Array.isArray(anchorsDer)) throw new TypeError('chains must be arrays')
  const now = opts.now ?? new Date()
  const result = buildVerifiedPath(
    chainDer.map((der) => readCertificateFacts(der)),
    anchorsDer.map((der) => readCertificateFacts(der)),
    now,
    signingCaProfile(trustDomain),
  )
  if (!result.ok) throw new SigilError('ERR_CERT_INVALID', `minted CA certificate refused: ${result.reason}`)
  return result.path.map((f) => f.der)
}
