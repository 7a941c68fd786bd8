/**
 * Path validation for x509pop agent certificates: the x509pop profile over the one path
 * builder (`certs/x509path/build-verified-path.ts`). The agent's chain (leaf first, then
 * intermediates) must lead to one of the operator-configured x509pop CA certificates (trust
 * anchors, which need not be self-signed). These are ordinary X.509 certificates, not SVIDs:
 * an issuer without keyUsage is accepted (RFC 5280), the leaf must not be a CA, must allow
 * digitalSignature when it has keyUsage, must allow clientAuth when it has extKeyUsage, and
 * must have a key type we can check a proof with.
 */
import { SigilError } from '../errors.js'
import { keyTypeOf } from '../keys/keys.js'
import { buildVerifiedPath, type PathProfile } from '../x509path/build-verified-path.js'
import { type CertificateFacts, KEY_USAGE, readCertificateFacts } from '../x509svid/certificate-facts.js'

/** Longest path accepted, leaf and anchor included. */
export const MAX_X509POP_PATH = 8

const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const EKU_ANY = '2.5.29.37.0'

const X509POP_PATH_PROFILE: PathProfile = {
  maxPathLength: MAX_X509POP_PATH,
  issuerKeyUsageRequired: false,
  leafRules: (leaf) => {
    if (leaf.isCa) return 'the leaf is a CA certificate'
    if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE.digitalSignature)) {
      return 'the leaf keyUsage lacks digitalSignature'
    }
    if (leaf.extKeyUsages && !leaf.extKeyUsages.some((o) => o === EKU_CLIENT_AUTH || o === EKU_ANY)) {
      return 'the leaf extKeyUsage lacks clientAuth'
    }
    try {
      keyTypeOf(leaf.cert.publicKey)
    } catch {
      return 'the leaf key type is not supported (use EC P-256, EC P-384 or RSA-2048)'
    }
    return undefined
  },
}

/** A validated x509pop chain. */
export interface VerifiedX509popChain {
  readonly leaf: CertificateFacts
  /** The CA certificates from the leaf's issuer up to and including the anchor. */
  readonly issuers: readonly CertificateFacts[]
}

/**
 * Parses the configured x509pop CA certificates (DER). Throws `ERR_CONFIG_INVALID` naming the
 * bad one; an empty list is a caller bug (x509pop is then off, so there is no attestor).
 */
export function parseX509popAnchors(ders: readonly Buffer[]): CertificateFacts[] {
  if (!Array.isArray(ders) || ders.length === 0) throw new TypeError('x509pop CA list must be non-empty')
  return ders.map((der, i) => {
    try {
      const f = readCertificateFacts(der)
      if (!f.isCa)
        throw new SigilError('ERR_CERT_INVALID', 'not a CA certificate (basicConstraints CA=false)')
      return f
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause)
      throw new SigilError('ERR_CONFIG_INVALID', `x509pop CA certificate ${i + 1}: ${why}`, { cause })
    }
  })
}

/**
 * Verifies `chain` (leaf first) to one of `anchors` at `now`. Throws `ERR_CERT_INVALID` for
 * bytes that are not certificates and `ERR_ATTESTATION_FAILED` (saying why) otherwise.
 *
 * @example
 * const { leaf } = verifyX509popChain(splitConcatenatedDer(payload), anchors, clock())
 */
export function verifyX509popChain(
  chain: readonly Buffer[],
  anchors: readonly CertificateFacts[],
  now: Date,
): VerifiedX509popChain {
  const facts = chain.map((der) => readCertificateFacts(der))
  const result = buildVerifiedPath(facts, anchors, now, X509POP_PATH_PROFILE)
  if (!result.ok)
    throw new SigilError('ERR_ATTESTATION_FAILED', `x509pop certificate refused: ${result.reason}`)
  const [leaf, ...issuers] = result.path
  return { leaf: leaf!, issuers }
}
