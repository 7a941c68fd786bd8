/**
 * A bounded memory of the WPT `jti`s a verifier has accepted, each kept until its token's
 * `exp` (plus leeway) has passed, so a proof is accepted once. When full of live entries it
 * refuses new ones (`ERR_RESOURCE_EXHAUSTED`) rather than forget one that could then be replayed.
 * Only fully verified WPTs reach it, so filling it takes valid WITs and their keys.
 */
import { SigilError } from '../errors.js'

/** Default capacity of a {@link JtiReplayCache}. */
export const DEFAULT_REPLAY_CACHE_ENTRIES = 100_000

/**
 * @example
 * const cache = new JtiReplayCache()
 * cache.remember(jti, expiresAtSeconds, nowSeconds) // false the second time
 */
export class JtiReplayCache {
  readonly maxEntries: number
  /** jti → unix seconds after which it may be forgotten; insertion order ≈ expiry order. */
  readonly #seen = new Map<string, number>()

  constructor(opts: { maxEntries?: number } = {}) {
    const max = opts.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES
    if (!Number.isSafeInteger(max) || max <= 0)
      throw new TypeError('maxEntries must be a positive whole number')
    this.maxEntries = max
  }

  /** Entries held now. */
  get size(): number {
    return this.#seen.size
  }

  /**
   * Records `jti` until `forgetAfter` (unix seconds). False when it was already recorded and
   * has not been forgotten; throws `ERR_RESOURCE_EXHAUSTED` when full of unexpired entries.
   */
  remember(jti: string, forgetAfter: number, now: number): boolean {
    const until = this.#seen.get(jti)
    if (until !== undefined && until >= now) return false
    if (this.#seen.size >= this.maxEntries) this.#prune(now)
    if (this.#seen.size >= this.maxEntries) {
      throw new SigilError('ERR_RESOURCE_EXHAUSTED', 'the WPT replay cache is full')
    }
    this.#seen.delete(jti)
    this.#seen.set(jti, forgetAfter)
    return true
  }

  #prune(now: number): void {
    for (const [jti, until] of this.#seen) if (until < now) this.#seen.delete(jti)
  }
}
