/**
 * WIT-SVIDs and WIT bundles that stay current on their own: a {@link WITSource} watches
 * FetchWITSVID (the agent pushes a new WIT-SVID and key at each rotation) and FetchWITBundles
 * (reconnecting with backoff), so a client can always sign a fresh Workload Proof Token and a
 * service can always check a WIT against the current WIT keys.
 *
 * Trust: WIT-SVIDs, keys and bundles come from the local agent, which attested this process.
 */
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import type { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { firstUpdate } from './first-update.js'
import type { WitSvid } from './wit-svid.js'
import { type CancelWatch, WorkloadApiClient, type WorkloadApiClientOptions } from './workload-api-client.js'

/** How to build a {@link WITSource}. */
export interface WITSourceOptions extends WorkloadApiClientOptions {
  /** A client to use (not closed by the source); default a new one from the other options. */
  readonly client?: WorkloadApiClient
  /** Aborts waiting for the first update. */
  readonly signal?: AbortSignal
  /** Told about every failure (the source keeps retrying unless the failure is final). */
  readonly onError?: (error: SigilError) => void
  /** Only the WIT bundles (a service that verifies but has no WIT-SVID of its own). */
  readonly bundlesOnly?: boolean
}

/**
 * This workload's WIT-SVIDs and the WIT bundles.
 *
 * @example
 * const wits = await WITSource.create()
 * const headers = workloadRequestHeaders(wits.getWitSvid(), { audience: 'https://orders.example.org/v1' })
 */
export class WITSource {
  readonly #client: WorkloadApiClient
  readonly #ownsClient: boolean
  #svids: readonly WitSvid[] = []
  #bundles: ReadonlyMap<string, TrustBundle> = new Map()
  readonly #cancels: CancelWatch[] = []
  #closed = false

  private constructor(opts: WITSourceOptions) {
    this.#ownsClient = opts.client === undefined
    this.#client = opts.client ?? new WorkloadApiClient(opts)
  }

  /** Starts the watches and resolves once the WIT bundles (and, unless `bundlesOnly`, the WIT-SVIDs) arrived. */
  static async create(opts: WITSourceOptions = {}): Promise<WITSource> {
    const source = new WITSource(opts)
    try {
      const bundles = firstUpdate({
        what: 'WIT bundles',
        signal: opts.signal,
        stop: () => source.close(),
        start: (ready, failed) => {
          source.#cancels.push(
            source.#client.watchWitBundles(
              (b) => {
                source.#bundles = b
                ready()
              },
              (err, retrying) => {
                opts.onError?.(err)
                failed(err, !retrying)
              },
            ),
          )
        },
      })
      const svids =
        opts.bundlesOnly === true
          ? Promise.resolve()
          : firstUpdate({
              what: 'WIT-SVIDs',
              signal: opts.signal,
              stop: () => source.close(),
              start: (ready, failed) => {
                source.#cancels.push(
                  source.#client.watchWitSvids(
                    (s) => {
                      source.#svids = s
                      if (s.length > 0) ready()
                    },
                    (err, retrying) => {
                      opts.onError?.(err)
                      failed(err, !retrying)
                    },
                  ),
                )
              },
            })
      await Promise.all([bundles, svids])
      return source
    } catch (err) {
      source.close()
      throw err
    }
  }

  /** The WIT-SVID for `spiffeId`, or the first one. Throws `ERR_NOT_FOUND` when there is none. */
  getWitSvid(spiffeId?: string): WitSvid {
    const svid =
      spiffeId === undefined ? this.#svids[0] : this.#svids.find((s) => s.spiffeId.toString() === spiffeId)
    if (svid === undefined)
      throw new SigilError('ERR_NOT_FOUND', `no WIT-SVID${spiffeId ? ` for ${spiffeId}` : ''}`)
    return svid
  }

  /** Every WIT-SVID of this workload now. */
  get witSvids(): readonly WitSvid[] {
    return this.#svids
  }

  /** The WIT bundle of `trustDomain` (its WIT keys), if the agent gave one. */
  bundleFor(trustDomain: TrustDomain): TrustBundle | undefined {
    return this.#bundles.get(trustDomain.name)
  }

  /** Stops the watches (and closes the client the source made). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const cancel of this.#cancels) cancel()
    if (this.#ownsClient) this.#client.close()
  }
}
