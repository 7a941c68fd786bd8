/**
 * X509-SVID parsing: the rules a holder checks on an SVID chain (SPIFFE X509-SVID §4-5,
 * go-spiffe `ParseRaw`, java-spiffe `X509Svid.parseRaw`), and the splitting of the
 * Workload API's concatenated-DER form. Input is untrusted; parsing says nothing about
 * trust: use verifyX509Svid for that.
 */
import type { X509Certificate } from 'node:crypto'
import { SigilError } from '../errors.js'
import { TAG } from '../lib/der.js'
import { rawOf, readElement } from '../lib/der-reader.js'
import { SpiffeId } from '../spiffeid/spiffe-id.js'
import { type CertificateFacts, KEY_USAGE, readCertificateFacts } from './certificate-facts.js'
import type { CertificateFactsMemo } from './certificate-facts-memo.js'

/** A parsed (not verified) X509-SVID. */
export interface ParsedX509Svid {
  readonly spiffeId: SpiffeId
  readonly leaf: X509Certificate
  /** Every certificate of the chain, leaf first. */
  readonly chain: readonly X509Certificate[]
}

/**
 * Parses an SVID chain (leaf first) and applies the leaf and chain rules. Throws
 * `ERR_CERT_INVALID` for bytes that are not a certificate and `ERR_SVID_INVALID` for a
 * certificate that breaks an SVID rule.
 *
 * @example
 * const { spiffeId } = parseX509Svid(splitConcatenatedDer(response.x509_svid))
 */
export function parseX509Svid(chainDer: readonly Buffer[]): ParsedX509Svid {
  const { spiffeId, facts } = readSvidChain(chainDer)
  return { spiffeId, leaf: facts[0]!.cert, chain: facts.map((f) => f.cert) }
}

/**
 * {@link parseX509Svid}'s work, returning the facts of every certificate for further checks.
 * With `caFacts`, the certificates after the leaf are read through that memo (a caller reading
 * many chains that end in the same CA parses it once); the same rules apply to them.
 */
export function readSvidChain(
  chainDer: readonly Buffer[],
  opts: { readonly caFacts?: CertificateFactsMemo } = {},
): {
  spiffeId: SpiffeId
  facts: readonly CertificateFacts[]
} {
  if (!Array.isArray(chainDer)) throw new TypeError('chain must be an array of DER Buffers')
  if (chainDer.length === 0) throw new SigilError('ERR_SVID_INVALID', 'X509-SVID chain is empty')
  const memo = opts.caFacts
  const facts = chainDer.map((der, i) =>
    i > 0 && memo !== undefined ? memo.read(der) : readCertificateFacts(der),
  )
  const leaf = facts[0]!
  const invalid = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_SVID_INVALID', `invalid X509-SVID: ${why}`, { cause })
  }
  if (leaf.uriSans.length !== 1) invalid(`leaf must have exactly one URI SAN, found ${leaf.uriSans.length}`)
  let spiffeId: SpiffeId
  try {
    spiffeId = SpiffeId.parse(leaf.uriSans[0]!)
  } catch (cause) {
    return invalid("leaf's URI SAN is not a valid SPIFFE ID", cause)
  }
  if (spiffeId.isTrustDomainId()) invalid("leaf's SPIFFE ID has no path")
  if (leaf.isCa) invalid('leaf has basicConstraints CA=true')
  if (leaf.keyUsage === undefined) invalid('leaf has no keyUsage extension')
  const usage = leaf.keyUsage ?? 0
  if (!(usage & KEY_USAGE.digitalSignature)) invalid('leaf keyUsage lacks digitalSignature')
  if (usage & KEY_USAGE.keyCertSign) invalid('leaf keyUsage has keyCertSign')
  if (usage & KEY_USAGE.cRLSign) invalid('leaf keyUsage has cRLSign')
  for (const [i, f] of facts.entries()) {
    if (i === 0) continue
    if (!f.isCa) invalid(`certificate ${i} of the chain is not a CA (CA=false)`)
    if (!((f.keyUsage ?? 0) & KEY_USAGE.keyCertSign))
      invalid(`certificate ${i} of the chain lacks keyCertSign`)
  }
  return { spiffeId, facts }
}

/**
 * Splits concatenated DER certificates (the Workload API form) by walking the outer
 * SEQUENCE lengths. Empty input gives `[]`; truncation or stray bytes throw `ERR_CERT_INVALID`.
 *
 * @example
 * const chain = splitConcatenatedDer(Buffer.concat([leafDer, caDer])) // [leafDer, caDer]
 */
export function splitConcatenatedDer(buf: Buffer): Buffer[] {
  if (!Buffer.isBuffer(buf)) throw new TypeError('input must be a Buffer')
  const out: Buffer[] = []
  for (let at = 0; at < buf.length; ) {
    const el = readElement(buf, at, buf.length, 'ERR_CERT_INVALID')
    if (el.tag !== TAG.SEQUENCE) {
      throw new SigilError('ERR_CERT_INVALID', `expected a certificate (SEQUENCE) at offset ${at}`)
    }
    out.push(rawOf(buf, el))
    at = el.end
  }
  return out
}
