/**
 * Verification of a peer's X509-SVID (SPIFFE X509-SVID §5, go-spiffe `x509svid.Verify`):
 * the leaf rules, then RFC 5280-style path building from the leaf through the chain's
 * other certificates to a root of the bundle of the leaf's own trust domain (never a
 * pool merging trust domains). Checked on every link: issuer/subject names byte for
 * byte, AKI/SKI agreement, allowlisted signature algorithms and key types, the
 * signature, CA=true + keyCertSign, pathLenConstraint, no unprocessed critical
 * extension, validity at `now`. EKU is not checked (as in go-spiffe). Authorization
 * (which IDs may talk to us) is the caller's separate step.
 */
import { SigilError } from '../errors.js'
import { keyTypeOf } from '../keys/keys.js'
import type { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { type CertificateFacts, KEY_USAGE, readCertificateFacts } from './certificate-facts.js'
import { readSvidChain } from './parse-x509-svid.js'

/** Longest path accepted, leaf and root included. */
const MAX_PATH_LENGTH = 10

/** The X.509 authorities (root certificates, DER) of a trust domain, or undefined when unknown. */
export type X509AuthoritiesFor = (trustDomain: TrustDomain) => readonly Buffer[] | undefined

/** A verified X509-SVID. */
export interface VerifiedX509Svid {
  readonly spiffeId: SpiffeId
  /** Leaf first, ending with the bundle root that anchors it. */
  readonly verifiedChain: Buffer[]
}

/**
 * Verifies an X509-SVID chain (leaf first) against the bundle of the leaf's trust domain.
 * Throws `ERR_CERT_INVALID` / `ERR_SVID_INVALID` (malformed, SVID rules), `ERR_SVID_EXPIRED` /
 * `ERR_SVID_NOT_YET_VALID` (the leaf at `now`), `ERR_SVID_UNTRUSTED` (no bundle, no valid path)
 * and `ERR_BUNDLE_INVALID` (an authority that is not a certificate).
 *
 * @example
 * const { spiffeId } = verifyX509Svid(peerChain, (td) => bundles.get(td.name), { now: clock.now() })
 */
export function verifyX509Svid(
  chainDer: readonly Buffer[],
  authoritiesFor: X509AuthoritiesFor,
  opts: { now?: Date } = {},
): VerifiedX509Svid {
  if (typeof authoritiesFor !== 'function') throw new TypeError('authoritiesFor must be a function')
  const now = opts.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
  const { spiffeId, facts } = readSvidChain(chainDer)
  const leaf = facts[0]!
  if (now < leaf.notBefore) {
    throw new SigilError(
      'ERR_SVID_NOT_YET_VALID',
      `X509-SVID is not valid before ${leaf.notBefore.toISOString()}`,
    )
  }
  if (now > leaf.notAfter) {
    throw new SigilError('ERR_SVID_EXPIRED', `X509-SVID expired at ${leaf.notAfter.toISOString()}`)
  }
  const untrusted = (why: string): never => {
    throw new SigilError('ERR_SVID_UNTRUSTED', `X509-SVID "${spiffeId}" is not trusted: ${why}`)
  }
  if (leaf.unhandledCriticalExtensions.length) {
    untrusted(`leaf has unprocessed critical extension(s) ${leaf.unhandledCriticalExtensions.join(', ')}`)
  }
  const authorities = authoritiesFor(spiffeId.trustDomain)
  if (!authorities || authorities.length === 0) {
    untrusted(`no X.509 authorities for trust domain "${spiffeId.trustDomain.name}"`)
  }
  const roots = (authorities ?? []).map((der, i) => {
    try {
      return readCertificateFacts(der)
    } catch (cause) {
      throw new SigilError('ERR_BUNDLE_INVALID', `X.509 authority ${i} is not a valid certificate`, { cause })
    }
  })
  const reasons: string[] = []
  const path = buildPath([leaf], facts.slice(1), roots, now, reasons)
  if (!path)
    return untrusted(reasons.length ? reasons.slice(0, 3).join('; ') : 'no issuer found in chain or bundle')
  return { spiffeId, verifiedChain: path.map((f) => f.der) }
}

/** Depth-first search for a path from the last element of `path` to a root. */
function buildPath(
  path: CertificateFacts[],
  intermediates: readonly CertificateFacts[],
  roots: readonly CertificateFacts[],
  now: Date,
  reasons: string[],
): CertificateFacts[] | undefined {
  const child = path[path.length - 1]!
  // A chain that (needlessly) carries a bundle root ends at that root.
  if (path.length > 1 && roots.some((r) => r.der.equals(child.der))) return path
  for (const root of roots) {
    if (issues(root, path, now, reasons, 'root')) return [...path, root]
  }
  if (path.length + 1 >= MAX_PATH_LENGTH) {
    reasons.push(`path longer than ${MAX_PATH_LENGTH} certificates`)
    return undefined
  }
  for (const candidate of intermediates) {
    if (path.includes(candidate)) continue
    if (!issues(candidate, path, now, reasons, 'intermediate')) continue
    const found = buildPath([...path, candidate], intermediates, roots, now, reasons)
    if (found) return found
  }
  return undefined
}

/** True when `parent` validly issued the last certificate of `path`; otherwise records why not. */
function issues(
  parent: CertificateFacts,
  path: readonly CertificateFacts[],
  now: Date,
  reasons: string[],
  role: 'root' | 'intermediate',
): boolean {
  const child = path[path.length - 1]!
  if (!child.issuerRaw.equals(parent.subjectRaw)) return false
  if (child.authorityKeyId && parent.subjectKeyId && !child.authorityKeyId.equals(parent.subjectKeyId)) {
    return false
  }
  const name = `${role} ${parent.serialHex}`
  const reject = (why: string): false => {
    reasons.push(`${name}: ${why}`)
    return false
  }
  if (!child.signatureAlgorithm) return reject('signature algorithm of the certificate below is not allowed')
  try {
    keyTypeOf(parent.cert.publicKey)
  } catch {
    return reject('unsupported public key type')
  }
  let signed = false
  try {
    signed = child.cert.verify(parent.cert.publicKey)
  } catch {
    signed = false
  }
  if (!signed) return reject('signature of the certificate below does not verify')
  if (!parent.isCa) return reject('not a CA (basicConstraints CA=false or absent)')
  if (!((parent.keyUsage ?? 0) & KEY_USAGE.keyCertSign)) return reject('keyUsage lacks keyCertSign')
  // Certificates between this issuer and the leaf (RFC 5280 §4.2.1.9: self-issued ones do not count).
  const below = path.slice(1).filter((f) => !f.subjectRaw.equals(f.issuerRaw)).length
  if (parent.pathLength !== undefined && below > parent.pathLength) {
    return reject(`pathLenConstraint ${parent.pathLength} exceeded (${below} CA certificate(s) below)`)
  }
  if (parent.unhandledCriticalExtensions.length) {
    return reject(`unprocessed critical extension(s) ${parent.unhandledCriticalExtensions.join(', ')}`)
  }
  if (now < parent.notBefore) return reject(`not valid before ${parent.notBefore.toISOString()}`)
  if (now > parent.notAfter) return reject(`expired at ${parent.notAfter.toISOString()}`)
  return true
}
