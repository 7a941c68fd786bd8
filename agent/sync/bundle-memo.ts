/**
 * Decoded bundles from the agent API, remembered between syncs. The server sends every bundle on
 * every sync; decoding one (parsing its certificates and JWKs) is most of the agent's work in a
 * sync with few entries, and a bundle rarely changes. A bundle whose trust domain, sequence number and exact bytes
 * equal the last one decoded for that trust domain is the same {@link TrustBundle} object, so
 * nothing downstream sees a change either. Decoding is a pure function of those bytes (no
 * clock), so reuse never skips a check. Trust: only bundles from an authenticated channel pass
 * through here; what is remembered is only ever what {@link bundleFromWire} accepted.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { Bundle__Output } from '../../proto/generated/sigil/common/v1/Bundle.js'
import { bundleFromWire } from './wire-conversion.js'

interface Remembered {
  readonly bytes: Buffer
  readonly sequence: number
  readonly bundle: TrustBundle
}

/**
 * The last decoded bundle per trust domain.
 *
 * @example
 * const memo = new BundleMemo()
 * const a = memo.decode(res.bundle, trustDomain)
 * memo.decode(res.bundle, trustDomain) === a // true while the bytes are the same
 */
export class BundleMemo {
  #last = new Map<string, Remembered>()
  #seen = new Map<string, Remembered>()

  /** {@link bundleFromWire}, answered from memory when the bundle is byte-for-byte the last one. */
  decode(wire: Bundle__Output | null | undefined, expected?: TrustDomain): TrustBundle {
    const key = wire?.trust_domain
    const hit = key === undefined ? undefined : this.#last.get(key)
    const remembered =
      wire && hit && hit.sequence === wire.sequence_number && hit.bytes.equals(wire.spiffe_bundle)
        ? hit
        : undefined
    if (remembered && (!expected || remembered.bundle.trustDomain.equals(expected))) {
      this.#seen.set(key as string, remembered)
      return remembered.bundle
    }
    const bundle = bundleFromWire(wire, expected)
    const w = wire as Bundle__Output
    this.#seen.set(w.trust_domain, {
      bytes: Buffer.from(w.spiffe_bundle),
      sequence: w.sequence_number,
      bundle,
    })
    return bundle
  }

  /**
   * Ends one sync's worth: forgets the trust domains not decoded since the last call, or,
   * with `keepUnseen` (a sync that left the federated bundles out as unchanged), keeps them.
   */
  endRound(keepUnseen = false): void {
    if (keepUnseen) for (const [td, r] of this.#last) if (!this.#seen.has(td)) this.#seen.set(td, r)
    this.#last = this.#seen
    this.#seen = new Map()
  }
}
