/**
 * Sigil's SDK for workloads: a client of the SPIFFE Workload API (SPIFFE.md §5) served by the
 * local agent. Plaintext gRPC on the agent's socket, found through `SPIFFE_ENDPOINT_SOCKET`
 * unless given explicitly, with the `workload.spiffe.io: true` security header on every call.
 *
 * Trust: the agent identifies the calling process by the kernel, so the client presents no
 * credential; what the agent sends (SVIDs, keys, bundles) is trusted as coming from the node's
 * agent but is still checked for form before use. `validateJwtSvid` asks the agent to
 * validate; local validation against bundles lives in {@link JWTSource}.
 */
import { type CallOptions, credentials, status as GrpcStatus, Metadata } from '@grpc/grpc-js'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import type { JWTBundlesResponse__Output as JwtBundlesMsg } from '../proto/generated/JWTBundlesResponse.js'
import type { WITBundlesResponse__Output as WitBundlesMsg } from '../proto/generated/WITBundlesResponse.js'
import type { WITSVIDResponse__Output as WitSvidMsg } from '../proto/generated/WITSVIDResponse.js'
import type { X509BundlesResponse__Output as X509BundlesMsg } from '../proto/generated/X509BundlesResponse.js'
import type { X509SVIDResponse__Output as X509SvidMsg } from '../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi, type SpiffeWorkloadAPIClient } from '../proto/loader.js'
import type { BackoffOptions } from './backoff.js'
import { claimsFromStruct } from './claims-from-struct.js'
import { type EndpointAddress, grpcTarget, resolveEndpointAddress } from './endpoint-address.js'
import { firstMessage } from './first-message.js'
import { type JwtSvid, jwtSvidFromMessage } from './jwt-svid.js'
import { type WatchableCall, type WatchErrorListener, watchStream } from './watch-stream.js'
import { type WitSvid, witSvidsFromResponse } from './wit-svid.js'
import { workloadApiError } from './workload-api-error.js'
import { decodeJwtBundleMap, decodeWitBundleMap, decodeX509BundleMap } from './workload-bundles.js'
import { type X509Context, x509ContextFromResponse } from './x509-context.js'

/** How to reach the Workload API. */
export interface WorkloadApiClientOptions {
  /** An absolute socket path, or an address URI (`unix:///…`, `tcp://IP:port`). Default: the environment's `SPIFFE_ENDPOINT_SOCKET`. */
  readonly socketPath?: string
  /** The environment to read `SPIFFE_ENDPOINT_SOCKET` from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Deadline of unary calls and of a fetch's first message, in ms; default 30000. */
  readonly timeoutMs?: number
  /** Reconnect delays of watches. */
  readonly backoff?: BackoffOptions
}

/** What {@link WorkloadApiClient.fetchJwtSvid} asks for. */
export interface JwtSvidParams {
  /** Non-empty; every value goes into `aud`. */
  readonly audience: readonly string[]
  /** Restrict to this identity (default: every identity of the caller; fetchJwtSvid takes the first). */
  readonly spiffeId?: SpiffeId | string
}

/** A token the agent validated. */
export interface ValidatedByAgent {
  readonly spiffeId: SpiffeId
  readonly claims: Record<string, unknown>
}

/** Cancels a watch. */
export type CancelWatch = () => void

/**
 * A Workload API client.
 *
 * @example
 * const client = new WorkloadApiClient() // SPIFFE_ENDPOINT_SOCKET=unix:///tmp/sigil-agent/public/api.sock
 * const { svids, bundles } = await client.fetchX509Context()
 * const { token } = await client.fetchJwtSvid({ audience: ['tool-api'] })
 * client.close()
 */
export class WorkloadApiClient {
  readonly address: EndpointAddress
  readonly #client: SpiffeWorkloadAPIClient
  readonly #timeoutMs: number
  readonly #backoff: BackoffOptions | undefined
  readonly #watches = new Set<CancelWatch>()
  #closed = false

  constructor(opts: WorkloadApiClientOptions = {}) {
    this.address = resolveEndpointAddress(opts.socketPath, opts.env ?? process.env)
    const timeoutMs = opts.timeoutMs ?? 30_000
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new TypeError('timeoutMs must be a positive number')
    this.#timeoutMs = timeoutMs
    this.#backoff = opts.backoff
    const api = loadWorkloadApi()
    this.#client = new api.Client(grpcTarget(this.address), credentials.createInsecure())
  }

  /**
   * The current X.509 context (the first message of FetchX509SVID). Rejects with
   * `ERR_NOT_AUTHORIZED` when the agent has no identity for this process.
   */
  fetchX509Context(): Promise<X509Context> {
    return this.#first<X509SvidMsg, X509Context>(
      'FetchX509SVID',
      (md, o) => this.#client.FetchX509SVID({}, md, o),
      x509ContextFromResponse,
    )
  }

  /**
   * Watches the X.509 context: `onUpdate` gets every complete snapshot; the stream reconnects
   * with backoff after failures (each reported to `onError`), and stops on `InvalidArgument`.
   *
   * @example
   * const cancel = client.watchX509Context((ctx) => use(ctx.svids[0]), (err, retrying) => log(err))
   */
  watchX509Context(
    onUpdate: (ctx: X509Context) => void,
    onError: WatchErrorListener = () => {},
  ): CancelWatch {
    return this.#watch<X509SvidMsg>(
      'FetchX509SVID',
      (md) => this.#client.FetchX509SVID({}, md),
      (m) => {
        onUpdate(x509ContextFromResponse(m))
      },
      onError,
    )
  }

  /** Every X.509 bundle the caller may use (the first message of FetchX509Bundles), by trust-domain name. */
  fetchX509Bundles(): Promise<Map<string, TrustBundle>> {
    return this.#first<X509BundlesMsg, Map<string, TrustBundle>>(
      'FetchX509Bundles',
      (md, o) => this.#client.FetchX509Bundles({}, md, o),
      (m) => decodeX509BundleMap(m.bundles),
    )
  }

  /** Watches the X.509 bundles (see {@link watchX509Context} for the retry rules). */
  watchX509Bundles(
    onUpdate: (bundles: Map<string, TrustBundle>) => void,
    onError?: WatchErrorListener,
  ): CancelWatch {
    return this.#watch<X509BundlesMsg>(
      'FetchX509Bundles',
      (md) => this.#client.FetchX509Bundles({}, md),
      (m) => {
        onUpdate(decodeX509BundleMap(m.bundles))
      },
      onError,
    )
  }

  /** Every JWT bundle the caller may use (the first message of FetchJWTBundles), by trust-domain name. */
  fetchJwtBundles(): Promise<Map<string, TrustBundle>> {
    return this.#first<JwtBundlesMsg, Map<string, TrustBundle>>(
      'FetchJWTBundles',
      (md, o) => this.#client.FetchJWTBundles({}, md, o),
      (m) => decodeJwtBundleMap(m.bundles),
    )
  }

  /** Watches the JWT bundles (see {@link watchX509Context} for the retry rules). */
  watchJwtBundles(
    onUpdate: (bundles: Map<string, TrustBundle>) => void,
    onError?: WatchErrorListener,
  ): CancelWatch {
    return this.#watch<JwtBundlesMsg>(
      'FetchJWTBundles',
      (md) => this.#client.FetchJWTBundles({}, md),
      (m) => {
        onUpdate(decodeJwtBundleMap(m.bundles))
      },
      onError,
    )
  }

  /**
   * The caller's WIT-SVIDs with their keys (the first message of FetchWITSVID); only the one for
   * `spiffeId` when given. Rejects `ERR_UNAVAILABLE`-style `SigilError`s like the other fetches
   * (an agent without the WIT-SVID profile answers UNIMPLEMENTED).
   *
   * @example
   * const [wit] = await client.fetchWitSvids()
   */
  fetchWitSvids(spiffeId?: string): Promise<WitSvid[]> {
    return this.#first<WitSvidMsg, WitSvid[]>(
      'FetchWITSVID',
      (md, o) => this.#client.FetchWITSVID({ spiffe_id: spiffeId ?? '' }, md, o),
      witSvidsFromResponse,
    )
  }

  /** Watches the caller's WIT-SVIDs (new ones arrive at each rotation; see {@link watchX509Context} for the retry rules). */
  watchWitSvids(onUpdate: (svids: WitSvid[]) => void, onError?: WatchErrorListener): CancelWatch {
    return this.#watch<WitSvidMsg>(
      'FetchWITSVID',
      (md) => this.#client.FetchWITSVID({}, md),
      (m) => {
        onUpdate(witSvidsFromResponse(m))
      },
      onError,
    )
  }

  /** Every WIT bundle the caller may use (the first message of FetchWITBundles), by trust-domain name. */
  fetchWitBundles(): Promise<Map<string, TrustBundle>> {
    return this.#first<WitBundlesMsg, Map<string, TrustBundle>>(
      'FetchWITBundles',
      (md, o) => this.#client.FetchWITBundles({}, md, o),
      (m) => decodeWitBundleMap(m.bundles),
    )
  }

  /** Watches the WIT bundles (see {@link watchX509Context} for the retry rules). */
  watchWitBundles(
    onUpdate: (bundles: Map<string, TrustBundle>) => void,
    onError?: WatchErrorListener,
  ): CancelWatch {
    return this.#watch<WitBundlesMsg>(
      'FetchWITBundles',
      (md) => this.#client.FetchWITBundles({}, md),
      (m) => {
        onUpdate(decodeWitBundleMap(m.bundles))
      },
      onError,
    )
  }

  /**
   * One JWT-SVID for `audience`: the one for `spiffeId` when given, else the caller's first.
   *
   * @example
   * const { token } = await client.fetchJwtSvid({ audience: ['spiffe://example.org/db'] })
   */
  async fetchJwtSvid(params: JwtSvidParams): Promise<JwtSvid> {
    const [first] = await this.fetchJwtSvids(params)
    if (first === undefined)
      throw new SigilError('ERR_NOT_AUTHORIZED', 'the Workload API returned no JWT-SVID')
    return first
  }

  /** Every JWT-SVID the caller is entitled to for `audience` (or the one for `spiffeId`). */
  fetchJwtSvids(params: JwtSvidParams): Promise<JwtSvid[]> {
    const audience = checkAudience(params?.audience)
    const spiffeId = params.spiffeId === undefined ? '' : SpiffeId.parse(String(params.spiffeId)).toString()
    return new Promise((resolve, reject) => {
      this.#client.FetchJWTSVID(
        { audience: [...audience], spiffe_id: spiffeId },
        this.#md(),
        this.#deadline(),
        (err, res) => {
          if (err || !res) return reject(workloadApiError('FetchJWTSVID', err ?? new Error('empty answer')))
          try {
            resolve(res.svids.map((s) => jwtSvidFromMessage(s, audience)))
          } catch (e) {
            reject(e)
          }
        },
      )
    })
  }

  /**
   * Asks the agent to validate a JWT-SVID for one audience. Rejects with `ERR_JWT_INVALID`
   * (with the agent's reason) when the token is refused.
   *
   * @example
   * const { spiffeId, claims } = await client.validateJwtSvid(token, 'tool-api')
   */
  validateJwtSvid(token: string, audience: string): Promise<ValidatedByAgent> {
    if (typeof token !== 'string' || token === '') throw new TypeError('token must be a non-empty string')
    if (typeof audience !== 'string' || audience === '')
      throw new TypeError('audience must be a non-empty string')
    return new Promise((resolve, reject) => {
      this.#client.ValidateJWTSVID({ audience, svid: token }, this.#md(), this.#deadline(), (err, res) => {
        if (err || !res) {
          const override = { status: GrpcStatus.INVALID_ARGUMENT, code: 'ERR_JWT_INVALID' as const }
          return reject(workloadApiError('ValidateJWTSVID', err ?? new Error('empty answer'), override))
        }
        try {
          resolve({ spiffeId: SpiffeId.parse(res.spiffe_id), claims: claimsFromStruct(res.claims) })
        } catch (e) {
          reject(e)
        }
      })
    })
  }

  /** Cancels every watch and closes the connection. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const cancel of this.#watches) cancel()
    this.#watches.clear()
    this.#client.close()
  }

  #md(): Metadata {
    if (this.#closed) throw new SigilError('ERR_UNAVAILABLE', 'the Workload API client is closed')
    const md = new Metadata()
    md.set('workload.spiffe.io', 'true')
    return md
  }

  #deadline(): CallOptions {
    return { deadline: new Date(Date.now() + this.#timeoutMs) }
  }

  #first<M, R>(
    method: string,
    open: (md: Metadata, options: CallOptions) => WatchableCall<M>,
    convert: (msg: M) => R,
  ): Promise<R> {
    try {
      return firstMessage(method, open(this.#md(), this.#deadline()), convert)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  #watch<M>(
    method: string,
    open: (md: Metadata) => WatchableCall<M>,
    onMessage: (msg: M) => void,
    onError: WatchErrorListener = () => {},
  ): CancelWatch {
    this.#md() // throws when closed
    let stop: () => void = () => {}
    const cancel = (): void => {
      this.#watches.delete(cancel)
      stop()
    }
    this.#watches.add(cancel)
    stop = watchStream<M>({
      method,
      open: () => open(this.#md()),
      onMessage,
      onError: (err, retrying) => {
        if (!retrying) this.#watches.delete(cancel)
        onError(err, retrying)
      },
      ...(this.#backoff ? { backoff: this.#backoff } : {}),
    })
    return cancel
  }
}

function checkAudience(audience: unknown): readonly string[] {
  if (
    !Array.isArray(audience) ||
    audience.length === 0 ||
    !audience.every((a) => typeof a === 'string' && a !== '')
  ) {
    throw new TypeError('audience must be a non-empty array of non-empty strings')
  }
  return audience as string[]
}
