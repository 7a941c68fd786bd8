/**
 * What FetchX509SVID gives a workload (SPIFFE.md §5.3): its X509-SVIDs, each with its private
 * key, and the X.509 bundles it may verify peers with (its own trust domain's plus federated
 * ones). Each SVID is checked the way go-spiffe's `ParseRaw` does (SVID rules on the chain,
 * `spiffe_id` equal to the leaf's URI SAN, the key matching the leaf) before it is used; the
 * agent on the local socket is the trusted source, so no chain is verified here.
 */
import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto'
import { decodeDerBundle } from '../certs/bundle/der-bundle.js'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { importPrivateKey } from '../certs/keys/keys.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { revokedSerials } from '../certs/x509svid/crl.js'
import { parseX509Svid, splitConcatenatedDer } from '../certs/x509svid/parse-x509-svid.js'
import { decodeX509BundleMap } from './workload-bundles.js'

/** One X509-SVID held by this workload. */
export interface X509Svid {
  readonly spiffeId: SpiffeId
  /** Leaf first, then intermediates (DER). */
  readonly chainDer: readonly Buffer[]
  readonly privateKey: KeyObject
  /** The operator's label for this identity ('' when none). */
  readonly hint: string
  readonly leaf: X509Certificate
  /** The leaf's serial number, lowercase hex. */
  readonly serialNumber: string
  readonly expiresAt: Date
}

/** A complete X.509 snapshot from the Workload API; each one replaces the previous. */
export interface X509Context {
  /** At least one; the first is the default identity. */
  readonly svids: readonly X509Svid[]
  /** X.509 bundles by trust-domain name: the SVIDs' own trust domain plus federated ones. */
  readonly bundles: ReadonlyMap<string, TrustBundle>
  /**
   * Serials (lowercase hex) revoked by the CRLs the agent sent (`crl` field) that verify
   * against these bundles or the SVIDs' intermediates; peers presenting one are refused.
   */
  readonly revokedSerials: ReadonlySet<string>
}

/** The fields of one `X509SVID` message this module reads. */
export interface X509SvidMessage {
  spiffe_id: string
  x509_svid: Buffer
  x509_svid_key: Buffer
  bundle: Buffer
  hint: string
}

/**
 * Checks and decodes one X509SVIDResponse. Throws `ERR_SVID_INVALID` (no SVIDs, ID mismatch,
 * key mismatch, SVID rules), `ERR_CERT_INVALID`, `ERR_KEY_INVALID` or `ERR_BUNDLE_INVALID`.
 *
 * @example
 * const ctx = x509ContextFromResponse(msg)
 * ctx.svids[0]?.spiffeId.toString() // 'spiffe://example.org/web'
 */
export function x509ContextFromResponse(msg: {
  svids: readonly X509SvidMessage[]
  federated_bundles: Readonly<Record<string, Buffer>>
  crl?: readonly Buffer[]
}): X509Context {
  if (!msg.svids || msg.svids.length === 0) {
    throw new SigilError('ERR_SVID_INVALID', 'the Workload API sent an X.509 update without SVIDs')
  }
  const svids = msg.svids.map((m, i) => x509SvidFromMessage(m, i))
  // Our own trust domain's bundle comes with each SVID and wins over a federated entry of
  // the same name; SVIDs of one trust domain carry the same bundle, so the first one is used.
  const own = new Map<string, TrustBundle>()
  for (const [i, m] of msg.svids.entries()) {
    const td = svids[i]!.spiffeId.trustDomain
    if (!own.has(td.name)) own.set(td.name, decodeDerBundle(td, m.bundle ?? Buffer.alloc(0)))
  }
  const bundles = new Map([...decodeX509BundleMap(msg.federated_bundles ?? {}), ...own])
  const crls = msg.crl ?? []
  const revoked =
    crls.length === 0
      ? new Set<string>()
      : revokedSerials(
          crls,
          [
            ...[...bundles.values()].flatMap((b) => b.x509Authorities),
            ...svids.flatMap((s) => s.chainDer.slice(1)),
          ],
          new Date(),
        )
  return Object.freeze({ svids: Object.freeze(svids), bundles, revokedSerials: revoked })
}

function x509SvidFromMessage(m: X509SvidMessage, i: number): X509Svid {
  const invalid = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_SVID_INVALID', `X509-SVID ${i} from the Workload API: ${why}`, { cause })
  }
  const chainDer = splitConcatenatedDer(m.x509_svid ?? Buffer.alloc(0))
  const { spiffeId, leaf } = parseX509Svid(chainDer)
  if (m.spiffe_id !== spiffeId.toString()) {
    invalid(`spiffe_id "${String(m.spiffe_id).slice(0, 200)}" is not the leaf's URI SAN "${spiffeId}"`)
  }
  if (!m.x509_svid_key || m.x509_svid_key.length === 0) invalid('no private key')
  const privateKey = importPrivateKey(m.x509_svid_key)
  if (!createPublicKey(privateKey).equals(leaf.publicKey)) invalid('the private key does not match the leaf')
  return Object.freeze({
    spiffeId,
    chainDer: Object.freeze(chainDer),
    privateKey,
    hint: m.hint ?? '',
    leaf,
    serialNumber: leaf.serialNumber.toLowerCase(),
    expiresAt: new Date(leaf.validTo),
  })
}
