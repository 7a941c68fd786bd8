/**
 * The one RFC 5280 certificate path builder. Every X.509 trust decision of Sigil goes through
 * it, each with a thin profile on top: X509-SVIDs (`verifyX509Svid`), x509pop node
 * certificates (`verifyX509popChain`) and freshly minted CA certificates (`verifyX509Ca`).
 *
 * From the leaf, a depth-first search through the presented certificates finds a path to one
 * of the trust anchors (which need not be self-signed; an anchor is trusted as configured, but
 * its own validity, CA bit, keyCertSign, pathLen and critical extensions are still checked).
 * On every link: issuer/subject names byte for byte and AKI/SKI agreement (name chaining), an
 * allowlisted signature algorithm, a supported issuer key type, the signature (OpenSSL),
 * basicConstraints CA=true, keyUsage keyCertSign, pathLenConstraint (self-issued certificates
 * do not count, §4.2.1.9), no unprocessed critical extension, validity at `now`. The leaf: the
 * profile's rules, validity at `now`, no unprocessed critical extension. Not done: name
 * constraints and policies (refused as unknown critical extensions), revocation.
 */
import { keyTypeOf } from '../keys/keys.js'
import { type CertificateFacts, KEY_USAGE } from '../x509svid/certificate-facts.js'

/** What a profile adds to the path rules. */
export interface PathProfile {
  /**
   * Longest path, leaf and trust anchor included; a presented chain longer than this is
   * refused before any search.
   */
  readonly maxPathLength: number
  /**
   * True: every issuer must carry keyUsage with keyCertSign (SPIFFE X509-SVID §4.3). False:
   * RFC 5280 alone, keyCertSign is required only when keyUsage is present.
   */
  readonly issuerKeyUsageRequired: boolean
  /** The profile's checks on the leaf; returns why it is refused, or undefined. */
  readonly leafRules?: (leaf: CertificateFacts) => string | undefined
}

/** Why no path was returned: the leaf broke a rule, was not valid at `now`, or did not chain. */
export type PathProblem = 'leaf' | 'leaf-not-yet-valid' | 'leaf-expired' | 'no-path'

/** The outcome of {@link buildVerifiedPath}. */
export type PathResult =
  | {
      readonly ok: true
      /** Leaf first, ending with the trust anchor. */
      readonly path: readonly CertificateFacts[]
    }
  | { readonly ok: false; readonly problem: PathProblem; readonly reason: string }

/**
 * Builds and verifies a path from `chain[0]` (the leaf; the rest are untrusted intermediates in
 * any order) to one of `anchors` at `now`. Never throws for untrusted input: the profile turns
 * a failure into its own error code.
 *
 * @example
 * const r = buildVerifiedPath(chainFacts, anchorFacts, now, { maxPathLength: 10, issuerKeyUsageRequired: true })
 * if (!r.ok) throw new SigilError('ERR_SVID_UNTRUSTED', r.reason)
 */
export function buildVerifiedPath(
  chain: readonly CertificateFacts[],
  anchors: readonly CertificateFacts[],
  now: Date,
  profile: PathProfile,
): PathResult {
  const leaf = chain[0]
  if (!leaf) return { ok: false, problem: 'leaf', reason: 'no certificate was presented' }
  if (chain.length > profile.maxPathLength) {
    const reason = `chain of ${chain.length} certificates is longer than the ${profile.maxPathLength} allowed`
    return { ok: false, problem: 'no-path', reason }
  }
  const broken = profile.leafRules?.(leaf)
  if (broken !== undefined) return { ok: false, problem: 'leaf', reason: broken }
  if (now < leaf.notBefore) {
    const reason = `the leaf is not valid before ${leaf.notBefore.toISOString()}`
    return { ok: false, problem: 'leaf-not-yet-valid', reason }
  }
  if (now > leaf.notAfter) {
    return {
      ok: false,
      problem: 'leaf-expired',
      reason: `the leaf expired at ${leaf.notAfter.toISOString()}`,
    }
  }
  if (leaf.unhandledCriticalExtensions.length) {
    const oids = leaf.unhandledCriticalExtensions.join(', ')
    return { ok: false, problem: 'leaf', reason: `the leaf has unprocessed critical extension(s) ${oids}` }
  }
  if (anchors.length === 0) return { ok: false, problem: 'no-path', reason: 'there is no trust anchor' }
  const search = { intermediates: chain.slice(1), anchors, now, profile, reasons: [] as string[] }
  const path = searchPath([leaf], search)
  if (path) return { ok: true, path }
  const reason = search.reasons.length
    ? search.reasons.slice(0, 3).join('; ')
    : 'no issuer found among the presented certificates and the trust anchors'
  return { ok: false, problem: 'no-path', reason }
}

interface Search {
  readonly intermediates: readonly CertificateFacts[]
  readonly anchors: readonly CertificateFacts[]
  readonly now: Date
  readonly profile: PathProfile
  /** Why candidate issuers were refused, for the error message. */
  readonly reasons: string[]
}

/** Depth-first search for a path from the last element of `path` to an anchor. */
function searchPath(path: CertificateFacts[], s: Search): CertificateFacts[] | undefined {
  const child = path[path.length - 1]!
  // A chain that (needlessly) carries an anchor ends at that anchor; it was checked as an issuer.
  if (path.length > 1 && s.anchors.some((a) => a.der.equals(child.der))) return path
  for (const anchor of s.anchors) {
    if (issues(anchor, path, s, 'trust anchor')) return [...path, anchor]
  }
  if (path.length + 1 >= s.profile.maxPathLength) {
    s.reasons.push(`path longer than ${s.profile.maxPathLength} certificates`)
    return undefined
  }
  for (const candidate of s.intermediates) {
    if (path.includes(candidate) || !issues(candidate, path, s, 'intermediate')) continue
    const found = searchPath([...path, candidate], s)
    if (found) return found
  }
  return undefined
}

/** True when `parent` validly issued the last certificate of `path`; otherwise records why not. */
function issues(
  parent: CertificateFacts,
  path: readonly CertificateFacts[],
  s: Search,
  role: 'trust anchor' | 'intermediate',
): boolean {
  const child = path[path.length - 1]!
  if (!child.issuerRaw.equals(parent.subjectRaw)) return false
  if (child.authorityKeyId && parent.subjectKeyId && !child.authorityKeyId.equals(parent.subjectKeyId)) {
    return false
  }
  const reject = (why: string): false => {
    s.reasons.push(`${role} ${parent.serialHex}: ${why}`)
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
  const keyUsageRequired = s.profile.issuerKeyUsageRequired || parent.keyUsage !== undefined
  if (keyUsageRequired && !((parent.keyUsage ?? 0) & KEY_USAGE.keyCertSign)) {
    return reject('keyUsage lacks keyCertSign')
  }
  // CA certificates between this issuer and the leaf (RFC 5280 §4.2.1.9: self-issued ones do not count).
  const below = path.slice(1).filter((f) => !f.subjectRaw.equals(f.issuerRaw)).length
  if (parent.pathLength !== undefined && below > parent.pathLength) {
    return reject(`pathLenConstraint ${parent.pathLength} exceeded (${below} CA certificate(s) below)`)
  }
  if (parent.unhandledCriticalExtensions.length) {
    return reject(`unprocessed critical extension(s) ${parent.unhandledCriticalExtensions.join(', ')}`)
  }
  if (s.now < parent.notBefore) return reject(`not valid before ${parent.notBefore.toISOString()}`)
  if (s.now > parent.notAfter) return reject(`expired at ${parent.notAfter.toISOString()}`)
  return true
}
