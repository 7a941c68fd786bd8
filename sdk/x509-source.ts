/**
 * A workload's X.509 identity that stays current on its own: an {@link X509Source} watches
 * FetchX509SVID (reconnecting with backoff, stopping only on `InvalidArgument` or `close()`),
 * keeps the latest SVID and bundles, and tells listeners when they change. Servers and
 * clients read it on every handshake (see `tls.ts`), so rotation needs no restart.
 *
 * Trust: as the Workload API client's; the bundles it holds are the roots this workload
 * verifies peers with.
 */
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { firstUpdate } from './first-update.js'
import type { CancelWatch, WorkloadApiClientOptions } from './workload-api-client.js'
import { WorkloadApiClient } from './workload-api-client.js'
import type { X509Context, X509Svid } from './x509-context.js'

/** Picks the SVID to use from an update's list (default: the first, the default identity). */
export type X509SvidPicker = (svids: readonly X509Svid[]) => X509Svid | undefined

/** How to build an {@link X509Source}. */
export interface X509SourceOptions extends WorkloadApiClientOptions {
  /** A client to use (not closed by the source); default a new one from the other options. */
  readonly client?: WorkloadApiClient
  readonly picker?: X509SvidPicker
  /** Aborts waiting for the first update (e.g. `AbortSignal.timeout(30_000)`). */
  readonly signal?: AbortSignal
  /** Told about every failure (the source keeps retrying unless the failure is final). */
  readonly onError?: (error: SigilError) => void
}

/**
 * The current X509-SVID and X.509 bundles of this workload.
 *
 * @example
 * const source = await X509Source.create({ signal: AbortSignal.timeout(30_000) })
 * source.getX509Svid().spiffeId.toString() // 'spiffe://example.org/web'
 * source.onUpdate(() => console.log('rotated to', source.getX509Svid().serialNumber))
 * source.close()
 */
export class X509Source {
  readonly #client: WorkloadApiClient
  readonly #ownsClient: boolean
  readonly #picker: X509SvidPicker
  readonly #listeners = new Set<(ctx: X509Context) => void>()
  #svid: X509Svid | undefined
  #context: X509Context | undefined
  #cancel: CancelWatch | undefined
  #closed = false

  private constructor(opts: X509SourceOptions) {
    this.#ownsClient = opts.client === undefined
    this.#client = opts.client ?? new WorkloadApiClient(opts)
    this.#picker = opts.picker ?? ((svids) => svids[0])
  }

  /**
   * Starts watching and resolves after the first update. Rejects (and closes the source) on a
   * final failure (`ERR_INVALID_ARGUMENT`) or when `signal` aborts, with the last failure as cause.
   */
  static create(opts: X509SourceOptions = {}): Promise<X509Source> {
    let source: X509Source
    try {
      source = new X509Source(opts)
    } catch (err) {
      return Promise.reject(err)
    }
    return firstUpdate({
      what: 'X509-SVID',
      signal: opts.signal,
      start: (ready, failed) =>
        source.#start(ready, (err, final) => {
          opts.onError?.(err)
          failed(err, final)
        }),
      stop: () => source.close(),
    }).then(() => source)
  }

  #start(onFirst: () => void, onError: (err: SigilError, final: boolean) => void): void {
    this.#cancel = this.#client.watchX509Context(
      (ctx) => {
        const svid = this.#picker(ctx.svids)
        if (svid === undefined) {
          onError(new SigilError('ERR_NOT_FOUND', 'the X509-SVID picker chose none of the SVIDs'), false)
          return
        }
        this.#svid = svid
        this.#context = ctx
        onFirst()
        for (const listener of this.#listeners) {
          try {
            listener(ctx)
          } catch (cause) {
            onError(
              new SigilError('ERR_UNAVAILABLE', 'an X509Source update listener threw', { cause }),
              false,
            )
          }
        }
      },
      (err, retrying) => onError(err, !retrying),
    )
  }

  /** The current X509-SVID. Throws `ERR_UNAVAILABLE` once closed. */
  getX509Svid(): X509Svid {
    this.#check()
    return this.#svid!
  }

  /** The latest complete X.509 context (every SVID and bundle). */
  getX509Context(): X509Context {
    this.#check()
    return this.#context!
  }

  /** Every X.509 bundle by trust-domain name. */
  /** Serials revoked by the agent's CRLs (see {@link X509Context.revokedSerials}). */
  getRevokedSerials(): ReadonlySet<string> {
    return this.#context?.revokedSerials ?? new Set()
  }

  getX509Bundles(): ReadonlyMap<string, TrustBundle> {
    return this.getX509Context().bundles
  }

  /** The X.509 bundle of one trust domain, or undefined when this workload has none for it. */
  getX509BundleForTrustDomain(trustDomain: TrustDomain | string): TrustBundle | undefined {
    const name = trustDomain instanceof TrustDomain ? trustDomain.name : TrustDomain.parse(trustDomain).name
    return this.getX509Bundles().get(name)
  }

  /** Calls `listener` after every update; returns the function that unsubscribes. */
  onUpdate(listener: (ctx: X509Context) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function')
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Stops watching (and closes the client when the source created it). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#cancel?.()
    this.#listeners.clear()
    if (this.#ownsClient) this.#client.close()
  }

  #check(): void {
    if (this.#closed) throw new SigilError('ERR_UNAVAILABLE', 'the X509Source is closed')
    if (this.#svid === undefined) throw new SigilError('ERR_UNAVAILABLE', 'the X509Source has no SVID yet')
  }
}
