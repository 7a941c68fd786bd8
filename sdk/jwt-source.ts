/**
 * JWT-SVIDs and JWT bundles that stay current on their own: a {@link JWTSource} watches
 * FetchJWTBundles (reconnecting with backoff) so tokens can be validated locally, and fetches
 * JWT-SVIDs on demand, reusing a token until half its lifetime has passed (SPIRE's rotation
 * rule, SPIFFE.md §6) so a busy caller does not ask the agent for every request.
 *
 * Trust: the JWT bundles come from the local agent; a token validated here is checked with the
 * full JWT-SVID rules (`validateJwtSvid`), against the bundle of its own trust domain only.
 */
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import {
  MAX_JWT_LEEWAY_SECONDS,
  type ValidatedJwtSvid,
  type ValidateJwtSvidOptions,
  validateJwtSvid,
} from '../certs/jwtsvid/validate-jwt-svid.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { firstUpdate } from './first-update.js'
import type { JwtSvid } from './jwt-svid.js'
import {
  type CancelWatch,
  type JwtSvidParams,
  WorkloadApiClient,
  type WorkloadApiClientOptions,
} from './workload-api-client.js'

/** Cached tokens kept at most (the least recently fetched go first). */
const MAX_CACHED_TOKENS = 256

/** A token being fetched or fetched; reused until `refreshAt` (ms since the epoch). */
interface CachedToken {
  readonly pending: Promise<JwtSvid>
  refreshAt?: number
}

/** How to build a {@link JWTSource}. */
export interface JWTSourceOptions extends WorkloadApiClientOptions {
  /** A client to use (not closed by the source); default a new one from the other options. */
  readonly client?: WorkloadApiClient
  /** Aborts waiting for the first bundles. */
  readonly signal?: AbortSignal
  /** Told about every failure (the source keeps retrying unless the failure is final). */
  readonly onError?: (error: SigilError) => void
  /** The clock for the token cache and local validation; default `() => new Date()`. */
  readonly now?: () => Date
  /**
   * Leeway of local validation for `exp`, `nbf` and `iat` (clock skew between the issuing
   * server and this host), 0..300 s; default 30 (`DEFAULT_JWT_LEEWAY_SECONDS`). A call's own
   * `leewaySeconds` overrides it.
   */
  readonly leewaySeconds?: number
}

/**
 * JWT-SVIDs for this workload and the JWT bundles to validate others' tokens.
 *
 * @example
 * const jwt = await JWTSource.create()
 * const { token } = await jwt.fetchJwtSvid({ audience: ['tool-api'] })
 * const { spiffeId } = await jwt.validateJwtSvid(incomingToken, 'tool-api')
 * jwt.close()
 */
export class JWTSource {
  readonly #client: WorkloadApiClient
  readonly #ownsClient: boolean
  readonly #now: () => Date
  readonly #leewaySeconds: number | undefined
  readonly #listeners = new Set<(bundles: ReadonlyMap<string, TrustBundle>) => void>()
  readonly #cache = new Map<string, CachedToken>()
  #bundles: ReadonlyMap<string, TrustBundle> | undefined
  #cancel: CancelWatch | undefined
  #closed = false

  private constructor(opts: JWTSourceOptions) {
    this.#ownsClient = opts.client === undefined
    this.#client = opts.client ?? new WorkloadApiClient(opts)
    this.#now = opts.now ?? (() => new Date())
    const leeway = opts.leewaySeconds
    if (
      leeway !== undefined &&
      !(typeof leeway === 'number' && leeway >= 0 && leeway <= MAX_JWT_LEEWAY_SECONDS)
    ) {
      throw new TypeError(`leewaySeconds must be a number from 0 to ${MAX_JWT_LEEWAY_SECONDS}`)
    }
    this.#leewaySeconds = leeway
  }

  /**
   * Starts watching the JWT bundles and resolves after the first update. Rejects (and closes
   * the source) on a final failure or when `signal` aborts.
   */
  static create(opts: JWTSourceOptions = {}): Promise<JWTSource> {
    let source: JWTSource
    try {
      source = new JWTSource(opts)
    } catch (err) {
      return Promise.reject(err)
    }
    return firstUpdate({
      what: 'JWT bundles',
      signal: opts.signal,
      start: (ready, failed) => {
        source.#cancel = source.#client.watchJwtBundles(
          (bundles) => {
            source.#bundles = bundles
            ready()
            for (const listener of source.#listeners) {
              try {
                listener(bundles)
              } catch (cause) {
                opts.onError?.(
                  new SigilError('ERR_UNAVAILABLE', 'a JWTSource update listener threw', { cause }),
                )
              }
            }
          },
          (err, retrying) => {
            opts.onError?.(err)
            failed(err, !retrying)
          },
        )
      },
      stop: () => source.close(),
    }).then(() => source)
  }

  /**
   * A JWT-SVID for `audience` (and `spiffeId`, when given): a cached one while less than half
   * of its lifetime has passed, else a fresh one from the agent.
   */
  fetchJwtSvid(params: JwtSvidParams): Promise<JwtSvid> {
    if (this.#closed) return Promise.reject(new SigilError('ERR_UNAVAILABLE', 'the JWTSource is closed'))
    if (!Array.isArray(params?.audience)) throw new TypeError('audience must be a non-empty array of strings')
    const key = JSON.stringify([String(params.spiffeId ?? ''), [...params.audience].sort()])
    const cached = this.#cache.get(key)
    if (cached && (cached.refreshAt === undefined || this.#now().getTime() < cached.refreshAt)) {
      return cached.pending
    }
    const fetchedAt = this.#now()
    const entry: CachedToken = {
      pending: this.#client.fetchJwtSvid(params).then(
        (svid) => {
          const issued = (svid.issuedAt ?? fetchedAt).getTime()
          entry.refreshAt = issued + (svid.expiresAt.getTime() - issued) / 2
          return svid
        },
        (err: unknown) => {
          if (this.#cache.get(key) === entry) this.#cache.delete(key)
          throw err
        },
      ),
    }
    this.#cache.delete(key)
    this.#cache.set(key, entry)
    if (this.#cache.size > MAX_CACHED_TOKENS) this.#cache.delete(this.#cache.keys().next().value as string)
    return entry.pending
  }

  /** Every JWT bundle by trust-domain name. Throws `ERR_UNAVAILABLE` once closed. */
  getJwtBundles(): ReadonlyMap<string, TrustBundle> {
    if (this.#closed || this.#bundles === undefined) {
      throw new SigilError('ERR_UNAVAILABLE', 'the JWTSource is closed')
    }
    return this.#bundles
  }

  /** The JWT bundle of one trust domain, or undefined when this workload has none for it. */
  getJwtBundleForTrustDomain(trustDomain: TrustDomain | string): TrustBundle | undefined {
    const name = trustDomain instanceof TrustDomain ? trustDomain.name : TrustDomain.parse(trustDomain).name
    return this.getJwtBundles().get(name)
  }

  /**
   * Validates a JWT-SVID locally against the current JWT bundles (every rule of
   * `validateJwtSvid`; the token passes when any expected audience is in `aud`), with the
   * source's `leewaySeconds` unless `opts` gives one.
   *
   * @example
   * const { spiffeId, claims } = await jwt.validateJwtSvid(token, 'tool-api')
   */
  validateJwtSvid(
    token: string,
    audience: string | readonly string[],
    opts: Pick<ValidateJwtSvidOptions, 'allowedAlgorithms' | 'leewaySeconds'> = {},
  ): Promise<ValidatedJwtSvid> {
    const bundles = this.getJwtBundles()
    return validateJwtSvid(token, {
      leewaySeconds: this.#leewaySeconds,
      ...opts,
      audience,
      bundleFor: (td) => bundles.get(td.name),
      now: this.#now(),
    })
  }

  /** Calls `listener` after every bundle update; returns the function that unsubscribes. */
  onUpdate(listener: (bundles: ReadonlyMap<string, TrustBundle>) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function')
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Stops watching, forgets cached tokens (and closes the client when the source created it). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#cancel?.()
    this.#listeners.clear()
    this.#cache.clear()
    if (this.#ownsClient) this.#client.close()
  }
}
