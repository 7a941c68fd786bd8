/**
 * Verification of a peer's X509-SVID (SPIFFE X509-SVID §5, go-spiffe `x509svid.Verify`): the
 * SVID profile over the one path builder (`certs/x509path/build-verified-path.ts`). The leaf
 * and chain rules are `readSvidChain`'s; the path must end at a root of the bundle of the
 * leaf's own trust domain (never a pool merging trust domains), and every issuer must carry
 * keyCertSign (SPIFFE requires keyUsage on signing certificates). EKU is not checked (as in
 * go-spiffe). Authorization (which IDs may talk to us) is the caller's separate step.
 */
import { SigilError } from '../errors.js'
import type { SpiffeId } from '../spiffeid/spiffe-id.js'
import type { TrustDomain } from '../spiffeid/trust-domain.js'
import { buildVerifiedPath, type PathProfile } from '../x509path/build-verified-path.js'
import { readCertificateFacts } from './certificate-facts.js'
import { readSvidChain } from './parse-x509-svid.js'

/** Longest path accepted, leaf and root included. */
const MAX_PATH_LENGTH = 10

/** The X509-SVID profile of the path builder; the leaf rules ran in readSvidChain. */
const X509_SVID_PATH_PROFILE: PathProfile = {
  maxPathLength: MAX_PATH_LENGTH,
  issuerKeyUsageRequired: true,
}

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
  const authorities = authoritiesFor(spiffeId.trustDomain) ?? []
  const roots = authorities.map((der, i) => {
    try {
      return readCertificateFacts(der)
    } catch (cause) {
      throw new SigilError('ERR_BUNDLE_INVALID', `X.509 authority ${i} is not a valid certificate`, { cause })
    }
  })
  const result = buildVerifiedPath(facts, roots, now, X509_SVID_PATH_PROFILE)
  if (result.ok) return { spiffeId, verifiedChain: result.path.map((f) => f.der) }
  if (result.problem === 'leaf-not-yet-valid') {
    throw new SigilError(
      'ERR_SVID_NOT_YET_VALID',
      `X509-SVID is not valid before ${facts[0]!.notBefore.toISOString()}`,
    )
  }
  if (result.problem === 'leaf-expired') {
    throw new SigilError('ERR_SVID_EXPIRED', `X509-SVID expired at ${facts[0]!.notAfter.toISOString()}`)
  }
  const why =
    roots.length === 0 && result.problem === 'no-path'
      ? `no X.509 authorities for trust domain "${spiffeId.trustDomain.name}"`
      : result.reason
  throw new SigilError('ERR_SVID_UNTRUSTED', `X509-SVID "${spiffeId}" is not trusted: ${why}`)
}
