/**
 * Path validation for x509pop agent certificates: the agent's chain (leaf first, then
 * intermediates) must lead to one of the operator-configured x509pop CA certificates (trust
 * anchors, which need not be self-signed). These are ordinary X.509 certificates, not SVIDs,
 * so `verifyX509Svid` does not apply; the checks mirror it (RFC 5280 subset): issuer/subject
 * names byte for byte, AKI/SKI agreement, allowlisted signature algorithms, the signature,
 * CA=true and keyCertSign on every issuer, pathLenConstraint, no unprocessed critical
 * extension, validity of every certificate (anchor included) at `now`. The leaf must not be a
 * CA, must allow digitalSignature when it has keyUsage, and must allow clientAuth when it has
 * extKeyUsage. Signatures are checked with Node's X509Certificate (OpenSSL).
 */
import { SigilError } from '../../certs/errors.js'
import { keyTypeOf } from '../../certs/keys/keys.js'
import {
  type CertificateFacts,
  KEY_USAGE,
  readCertificateFacts,
} from '../../certs/x509svid/certificate-facts.js'

/** Longest chain accepted, anchor included. */
export const MAX_X509POP_PATH = 8

const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const EKU_ANY = '2.5.29.37.0'

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
  const fail = (why: string): never => {
    throw new SigilError('ERR_ATTESTATION_FAILED', `x509pop certificate refused: ${why}`)
  }
  if (chain.length === 0) fail('no certificate was presented')
  if (chain.length >= MAX_X509POP_PATH) fail(`chain longer than ${MAX_X509POP_PATH - 1} certificates`)
  const facts = chain.map((der) => readCertificateFacts(der))
  const leaf = facts[0]!
  if (leaf.isCa) fail('the leaf is a CA certificate')
  if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE.digitalSignature)) {
    fail('the leaf keyUsage lacks digitalSignature')
  }
  if (leaf.extKeyUsages && !leaf.extKeyUsages.some((o) => o === EKU_CLIENT_AUTH || o === EKU_ANY)) {
    fail('the leaf extKeyUsage lacks clientAuth')
  }
  if (leaf.unhandledCriticalExtensions.length) {
    fail(`the leaf has unprocessed critical extension(s) ${leaf.unhandledCriticalExtensions.join(', ')}`)
  }
  try {
    keyTypeOf(leaf.cert.publicKey)
  } catch {
    fail('the leaf key type is not supported (use EC P-256, EC P-384 or RSA-2048)')
  }
  if (now < leaf.notBefore) fail(`the leaf is not valid before ${leaf.notBefore.toISOString()}`)
  if (now > leaf.notAfter) fail(`the leaf expired at ${leaf.notAfter.toISOString()}`)
  const reasons: string[] = []
  const path = buildPath([leaf], facts.slice(1), anchors, now, reasons)
  if (!path)
    return fail(reasons.length ? reasons.slice(0, 3).join('; ') : 'it does not chain to an x509pop CA')
  return { leaf, issuers: path.slice(1) }
}

function buildPath(
  path: CertificateFacts[],
  intermediates: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  now: Date,
  reasons: string[],
): CertificateFacts[] | undefined {
  const child = path[path.length - 1]!
  for (const anchor of anchors) {
    if (path.length > 1 && anchor.der.equals(child.der))
      return validAt(anchor, now, reasons) ? path : undefined
  }
  for (const anchor of anchors) {
    if (issues(anchor, path, now, reasons)) return [...path, anchor]
  }
  if (path.length + 1 >= MAX_X509POP_PATH) return undefined
  for (const candidate of intermediates) {
    if (path.includes(candidate) || !issues(candidate, path, now, reasons)) continue
    const found = buildPath([...path, candidate], intermediates, anchors, now, reasons)
    if (found) return found
  }
  return undefined
}

function validAt(cert: CertificateFacts, now: Date, reasons: string[]): boolean {
  if (now < cert.notBefore || now > cert.notAfter) {
    reasons.push(`CA ${cert.serialHex} is not valid at ${now.toISOString()}`)
    return false
  }
  return true
}

/** True when `parent` validly issued the last certificate of `path`; otherwise records why not. */
function issues(parent: CertificateFacts, path: readonly CertificateFacts[], now: Date, reasons: string[]) {
  const child = path[path.length - 1]!
  if (!child.issuerRaw.equals(parent.subjectRaw)) return false
  if (child.authorityKeyId && parent.subjectKeyId && !child.authorityKeyId.equals(parent.subjectKeyId)) {
    return false
  }
  const reject = (why: string): false => {
    reasons.push(`CA ${parent.serialHex}: ${why}`)
    return false
  }
  if (!child.signatureAlgorithm) return reject('signature algorithm of the certificate below is not allowed')
  let signed = false
  try {
    keyTypeOf(parent.cert.publicKey)
    signed = child.cert.verify(parent.cert.publicKey)
  } catch {
    signed = false
  }
  if (!signed) return reject('signature of the certificate below does not verify')
  if (!parent.isCa) return reject('not a CA (basicConstraints CA=false or absent)')
  if (parent.keyUsage !== undefined && !(parent.keyUsage & KEY_USAGE.keyCertSign)) {
    return reject('keyUsage lacks keyCertSign')
  }
  const below = path.slice(1).filter((f) => !f.subjectRaw.equals(f.issuerRaw)).length
  if (parent.pathLength !== undefined && below > parent.pathLength) {
    return reject(`pathLenConstraint ${parent.pathLength} exceeded`)
  }
  if (parent.unhandledCriticalExtensions.length) {
    return reject(`unprocessed critical extension(s) ${parent.unhandledCriticalExtensions.join(', ')}`)
  }
  return validAt(parent, now, reasons)
}
