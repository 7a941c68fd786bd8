/**
 * Publishes the server's own trust bundle through a narrow {@link BundleStore} (the
 * datastore, in the server). Publishing is a reconciliation: inside one serialized
 * read-modify-write (`updateBundle`: a write transaction on SQLite, an advisory lock on
 * PostgreSQL, so two servers never lose each other's authorities) the stored bundle is read,
 * this server's part of it is made to match the desired authorities (`shared-bundle.ts`:
 * other servers' authorities stay), and only a real change is written, with the sequence
 * number one above the stored one. So restarts and repeated calls never bump the sequence,
 * and a bundle lost or altered in the store is put right. `reload()` picks up a change made
 * by another server.
 */

import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { Log } from '../../common/logging/logger.js'
import { mergeSharedBundle, OwnedAuthorities } from './shared-bundle.js'

/** A stored bundle: the SPIFFE bundle document and its sequence number. */
export interface StoredBundle {
  readonly spiffeBundleJson: string
  readonly sequenceNumber: number
}

/** The two datastore calls the CA manager needs; keyed by trust-domain name (`example.org`). */
export interface BundleStore {
  getBundle(trustDomain: string): Promise<StoredBundle | undefined>
  /** Serialized read-modify-write (see `DataStore.updateBundle`); `merge` returns undefined to write nothing. */
  updateBundle(
    trustDomain: string,
    merge: (stored: StoredBundle | undefined) => StoredBundle | undefined,
  ): Promise<unknown>
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
  readonly #clock: () => Date
  readonly #owned = new OwnedAuthorities()
  #replaceForeign: boolean
  #current: TrustBundle | undefined

  constructor(opts: {
    trustDomain: TrustDomain
    store: BundleStore
    logger: Log
    clock?: () => Date
    /** The first publish drops other servers' authorities (`--allow-new-ca`: replace the CA on purpose). */
    replaceForeign?: boolean
  }) {
    this.#trustDomain = opts.trustDomain
    this.#store = opts.store
    this.#logger = opts.logger
    this.#clock = opts.clock ?? (() => new Date())
    this.#replaceForeign = opts.replaceForeign ?? false
  }

  /** The bundle last read from or written to the store; undefined before the first publish. */
  get current(): TrustBundle | undefined {
    return this.#current
  }

  /**
   * Makes this server's part of the stored bundle hold exactly `desired`'s authorities (other
   * servers' stay) with `desired`'s refresh hint (its sequence number is ignored). Returns the
   * bundle now in the store.
   */
  async publish(desired: TrustBundle): Promise<{ bundle: TrustBundle; changed: boolean }> {
    const td = this.#trustDomain.name
    this.#owned.add(desired)
    let outcome: { bundle: TrustBundle; changed: boolean } | undefined
    await this.#store.updateBundle(td, (stored) => {
      const storedBundle = stored ? this.#decode(stored) : undefined
      const merged = mergeSharedBundle({
        stored: storedBundle,
        desired,
        owned: this.#owned,
        now: this.#clock(),
        replaceForeign: this.#replaceForeign,
      })
      if (stored && storedBundle && merged.withSequence(stored.sequenceNumber).equals(storedBundle)) {
        outcome = { bundle: storedBundle, changed: false }
        return undefined
      }
      const bundle = merged.withSequence((stored?.sequenceNumber ?? 0) + 1)
      outcome = { bundle, changed: true }
      return { spiffeBundleJson: encodeSpiffeBundle(bundle), sequenceNumber: bundle.sequenceNumber }
    })
    if (!outcome) throw new Error('internal: updateBundle did not call merge')
    this.#replaceForeign = false
    this.#current = outcome.bundle
    if (outcome.changed) {
      const bundle = outcome.bundle
      this.#logger.info(
        {
          trust_domain: td,
          sequence_number: bundle.sequenceNumber,
          x509_authorities: bundle.x509Authorities.length,
          jwt_authorities: bundle.jwtAuthorities.length,
        },
        'trust bundle published',
      )
    }
    return outcome
  }

  /**
   * Reads the stored bundle again (another server on the datastore may have changed it);
   * resolves true when it differs from {@link current}. An unreadable or missing bundle
   * leaves `current` as it is (the next rotation step republishes).
   */
  async reload(): Promise<boolean> {
    const stored = await this.#store.getBundle(this.#trustDomain.name)
    const bundle = stored ? this.#decode(stored) : undefined
    if (!bundle || (this.#current && bundle.equals(this.#current))) return false
    this.#current = bundle
    return true
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
