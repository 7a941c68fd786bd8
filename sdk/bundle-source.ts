/**
 * A trust domain's bundle kept current from its bundle endpoint (SPIFFE.md §4.2): poll every
 * `spiffe_refresh_hint` seconds (5 minutes without one), retry at the next interval after a
 * failure (keeping the bundle held), and replace the held bundle only with a newer one by
 * `spiffe_sequence`, so a stale or replayed document never rolls keys back. For an
 * `https_spiffe` endpoint of the same trust domain, each fetch after the first authenticates
 * the endpoint with the latest fetched bundle, so the endpoint can rotate its own roots.
 *
 * Trust: as {@link fetchSpiffeBundle}'s. A service that verifies JWT-SVIDs without an agent
 * passes `getBundleForTrustDomain` to `validateJwtSvid` as `bundleFor`.
 */
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import {
  type BundleEndpointProfile,
  type FetchSpiffeBundleOptions,
  fetchSpiffeBundle,
} from './bundle-endpoint-client.js'

/** The polling interval when a bundle has no refresh hint (seconds). */
export const DEFAULT_REFRESH_HINT_SECONDS = 300

/** How to build a {@link BundleSource}. */
export interface BundleSourceOptions extends Omit<FetchSpiffeBundleOptions, 'now'> {
  /** Poll this often (ms) whatever the hint says; for tests and special cases. */
  readonly refreshIntervalMs?: number
  /** Told about every failed refresh (the source keeps the bundle it has and tries again). */
  readonly onError?: (error: SigilError) => void
  /** The clock for verifying an https_spiffe endpoint; default `() => new Date()`. */
  readonly now?: () => Date
}

/**
 * A bundle endpoint's bundle, refreshed by its refresh hint.
 *
 * @example
 * const other = await BundleSource.create({ url: 'https://bundle.other.org/', trustDomain: 'other.org',
 *   profile: { type: 'https_web' } })
 * await validateJwtSvid(token, { audience: 'tool-api', bundleFor: (td) => other.getBundleForTrustDomain(td) })
 * other.close()
 */
export class BundleSource {
  readonly trustDomain: TrustDomain
  readonly #opts: BundleSourceOptions
  readonly #listeners = new Set<(bundle: TrustBundle) => void>()
  #bundle: TrustBundle
  #timer: NodeJS.Timeout | undefined
  #closed = false

  private constructor(opts: BundleSourceOptions, trustDomain: TrustDomain, first: TrustBundle) {
    this.#opts = opts
    this.trustDomain = trustDomain
    this.#bundle = first
  }

  /** Fetches the bundle once (rejecting when that fails) and starts refreshing it. */
  static async create(opts: BundleSourceOptions): Promise<BundleSource> {
    const td =
      opts.trustDomain instanceof TrustDomain ? opts.trustDomain : TrustDomain.parse(opts.trustDomain)
    const interval = opts.refreshIntervalMs
    if (interval !== undefined && (!Number.isFinite(interval) || interval <= 0)) {
      throw new TypeError('refreshIntervalMs must be a positive number')
    }
    const first = await fetchSpiffeBundle({
      ...opts,
      trustDomain: td,
      now: (opts.now ?? (() => new Date()))(),
    })
    const source = new BundleSource(opts, td, first)
    source.#schedule()
    return source
  }

  /** The bundle held now. */
  getBundle(): TrustBundle {
    if (this.#closed) throw new SigilError('ERR_UNAVAILABLE', 'the BundleSource is closed')
    return this.#bundle
  }

  /** The held bundle when `trustDomain` is this source's, else undefined (a `bundleFor`). */
  getBundleForTrustDomain(trustDomain: TrustDomain | string): TrustBundle | undefined {
    const name = trustDomain instanceof TrustDomain ? trustDomain.name : TrustDomain.parse(trustDomain).name
    return name === this.trustDomain.name ? this.getBundle() : undefined
  }

  /** Calls `listener` with every newer bundle; returns the function that unsubscribes. */
  onUpdate(listener: (bundle: TrustBundle) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function')
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Fetches now; resolves the bundle held afterwards (rejects when the fetch fails). */
  async refresh(): Promise<TrustBundle> {
    const fetched = await fetchSpiffeBundle({
      ...this.#opts,
      trustDomain: this.trustDomain,
      profile: this.#profile(),
      now: (this.#opts.now ?? (() => new Date()))(),
    })
    if (!this.#closed && isNewer(fetched, this.#bundle)) {
      this.#bundle = fetched
      for (const listener of this.#listeners) {
        try {
          listener(fetched)
        } catch (cause) {
          this.#opts.onError?.(
            new SigilError('ERR_UNAVAILABLE', 'a BundleSource update listener threw', { cause }),
          )
        }
      }
    }
    return this.#bundle
  }

  /** Stops refreshing. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#listeners.clear()
  }

  /** The endpoint profile, authenticating a same-trust-domain https_spiffe endpoint with the latest bundle. */
  #profile(): BundleEndpointProfile {
    const p = this.#opts.profile
    if (p.type === 'https_spiffe' && p.endpointBundle.trustDomain.equals(this.trustDomain)) {
      return { ...p, endpointBundle: this.#bundle }
    }
    return p
  }

  #schedule(): void {
    if (this.#closed) return
    const hint = this.#bundle.refreshHintSeconds ?? DEFAULT_REFRESH_HINT_SECONDS
    const delay = this.#opts.refreshIntervalMs ?? hint * 1000
    this.#timer = setTimeout(() => {
      this.refresh().then(
        () => this.#schedule(),
        (err: unknown) => {
          const error =
            err instanceof SigilError
              ? err
              : new SigilError('ERR_UNAVAILABLE', 'bundle refresh failed', { cause: err })
          this.#opts.onError?.(error)
          this.#schedule()
        },
      )
    }, delay)
    // A source alone does not keep the process alive.
    this.#timer.unref()
  }
}

/** True when `fetched` should replace `held`: a higher sequence, or the same sequence with other contents. */
function isNewer(fetched: TrustBundle, held: TrustBundle): boolean {
  if (fetched.sequenceNumber !== held.sequenceNumber) return fetched.sequenceNumber > held.sequenceNumber
  return !fetched.equals(held)
}
