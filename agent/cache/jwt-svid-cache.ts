/**
 * The agent's JWT-SVID cache: tokens minted per (process, SPIFFE ID, sorted audience), kept
 * until their jittered half-life (then re-minted, or still served while unexpired if the server
 * is unreachable), in an LRU of bounded size. Tokens are bearer credentials: they never leave
 * this map except to the process they were minted for.
 */
import { createHash } from 'node:crypto'

/** Default maximum number of cached tokens (SPIRE's `jwt_svid_cache_max_size`). */
export const DEFAULT_JWT_CACHE_SIZE = 1000

/** One cached token. */
export interface CachedJwtSvid {
  readonly processKey: string
  readonly spiffeId: string
  readonly token: string
  readonly expiresAt: Date
  /** After this, a new token is minted (the cached one is still a fallback until `expiresAt`). */
  readonly renewAt: Date
  /** The token's `jti` (`''` when it has none), to drop it once revoked. */
  readonly jti: string
}

/**
 * The cache key: SHA-256 over the process, the SPIFFE ID and the sorted audiences.
 *
 * @example
 * jwtCacheKey('42:1234', 'spiffe://example.org/web', ['b', 'a']) === jwtCacheKey('42:1234', 'spiffe://example.org/web', ['a', 'b'])
 */
export function jwtCacheKey(processKey: string, spiffeId: string, audience: readonly string[]): string {
  const h = createHash('sha256')
  for (const part of [processKey, spiffeId, ...[...audience].sort()]) {
    h.update(`${Buffer.byteLength(part)}:`)
    h.update(part)
  }
  return h.digest('hex')
}

/**
 * A bounded LRU of JWT-SVIDs.
 *
 * @example
 * const cache = new JwtSvidCache(1000)
 * cache.set(key, token)
 * cache.get(key)?.token
 */
export class JwtSvidCache {
  readonly #max: number
  readonly #items = new Map<string, CachedJwtSvid>()

  constructor(max: number = DEFAULT_JWT_CACHE_SIZE) {
    if (!(Number.isSafeInteger(max) && max > 0))
      throw new TypeError('JWT cache size must be a positive integer')
    this.#max = max
  }

  /** Number of cached tokens. */
  get size(): number {
    return this.#items.size
  }

  /** The token under `key`, marking it recently used. */
  get(key: string): CachedJwtSvid | undefined {
    const item = this.#items.get(key)
    if (item !== undefined) {
      this.#items.delete(key)
      this.#items.set(key, item)
    }
    return item
  }

  /** Stores a token, evicting the least recently used one beyond the bound. */
  set(key: string, item: CachedJwtSvid): void {
    this.#items.delete(key)
    this.#items.set(key, item)
    while (this.#items.size > this.#max) {
      const oldest = this.#items.keys().next().value
      if (oldest === undefined) break
      this.#items.delete(oldest)
    }
  }

  /** Drops every token of one process. */
  deleteProcess(processKey: string): void {
    for (const [key, item] of this.#items) if (item.processKey === processKey) this.#items.delete(key)
  }

  /** Drops tokens whose `jti` is revoked; resolves how many. */
  deleteRevoked(isRevoked: (jti: string) => boolean): number {
    return this.deleteWhere((item) => item.jti !== '' && isRevoked(item.jti))
  }

  /** Drops the tokens `pick` selects (e.g. signed by a tainted key); resolves how many. */
  deleteWhere(pick: (item: CachedJwtSvid) => boolean): number {
    let n = 0
    for (const [key, item] of this.#items) {
      if (pick(item)) {
        this.#items.delete(key)
        n++
      }
    }
    return n
  }

  /** Drops tokens expired at `now`. */
  prune(now: Date): void {
    for (const [key, item] of this.#items) {
      if (item.expiresAt.getTime() <= now.getTime()) this.#items.delete(key)
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#items.clear()
  }
}
