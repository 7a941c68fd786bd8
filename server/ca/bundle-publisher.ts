/**
 * Publishes the server's own trust bundle through a narrow {@link BundleStore} (the
 * datastore, in the server). Publishing is a reconciliation: the stored bundle is read
 * back and compared with the desired authorities; only a real change is written, with
 * the sequence number one above the stored one. So restarts and repeated calls never
 * bump the sequence, and a bundle lost or altered in the store is put right.
 */

import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { Log } from '../../common/logging/logger.js'

/** A stored bundle: the SPIFFE bundle document and its sequence number. */
export interface StoredBundle {
  readonly spiffeBundleJson: string
  readonly sequenceNumber: number
}

/** The two datastore calls the CA manager needs; keyed by trust-domain name (`example.org`). */
export interface BundleStore {
  getBundle(trustDomain: string): Promise<StoredBundle | undefined>
  setBundle(trustDomain: string, bundle: StoredBundle): Promise<unknown>
}

/**
 * Writes the trust domain's bundle when its authorities change.
 *
 * @example
 * const publisher = new BundlePublisher({ trustDomain, store: datastore, logger })
 * const { bundle, changed } = await publisher.publish(desired)
 */
export class BundlePublisher {
  readonly #trustDomain: TrustDomain
  readonly #store: BundleStore
  readonly #logger: Log
  #current: TrustBundle | undefined

  constructor(opts: { trustDomain: TrustDomain; store: BundleStore; logger: Log }) {
    this.#trustDomain = opts.trustDomain
    this.#store = opts.store
    this.#logger = opts.logger
  }

  /** The bundle last read from or written to the store; undefined before the first publish. */
  get current(): TrustBundle | undefined {
    return this.#current
  }

  /**
   * Makes the stored bundle hold exactly `desired`'s authorities and refresh hint
   * (`desired`'s sequence number is ignored). Returns the bundle now in the store.
   */
  async publish(desired: TrustBundle): Promise<{ bundle: TrustBundle; changed: boolean }> {
    const td = this.#trustDomain.name
    const stored = await this.#store.getBundle(td)
    const storedBundle = stored ? this.#decode(stored) : undefined
    if (stored && storedBundle && desired.withSequence(stored.sequenceNumber).equals(storedBundle)) {
      this.#current = storedBundle
      return { bundle: storedBundle, changed: false }
    }
    const bundle = desired.withSequence((stored?.sequenceNumber ?? 0) + 1)
    await this.#store.setBundle(td, {
      spiffeBundleJson: encodeSpiffeBundle(bundle),
      sequenceNumber: bundle.sequenceNumber,
    })
    this.#current = bundle
    this.#logger.info(
      {
        trust_domain: td,
        sequence_number: bundle.sequenceNumber,
        x509_authorities: bundle.x509Authorities.length,
        jwt_authorities: bundle.jwtAuthorities.length,
      },
      'trust bundle published',
    )
    return { bundle, changed: true }
  }

  #decode(stored: StoredBundle): TrustBundle | undefined {
    try {
      return decodeSpiffeBundle(this.#trustDomain, stored.spiffeBundleJson).withSequence(
        stored.sequenceNumber,
      )
    } catch (err) {
      this.#logger.warn(
        { trust_domain: this.#trustDomain.name, err: (err as Error).message },
        'stored trust bundle is unreadable; replacing it',
      )
      return undefined
    }
  }
}
