/**
 * Memo of JWT-SVIDs Authorize has verified: a tool's caller sends the same JWT-SVID on every
 * request until it rotates, so the signature is checked once per token, not once per request.
 * A hit is reused only under the very same bundle object (a bundle change — a new or removed
 * authority — misses), for the same expected audiences, and only while `exp`/`nbf`/`iat` still
 * pass at `now` (checked on every hit); revocation is checked by the caller on every request.
 */
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import type { ValidatedJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'

/** Tokens kept at most (the oldest is dropped past it). */
export const MAX_CACHED_JWT_SVIDS = 4096

interface Entry {
  readonly audiences: string
  readonly bundle: TrustBundle
  readonly result: ValidatedJwtSvid
}

/** The memo; one per Authorize server. */
export class VerifiedJwtCache {
  readonly #entries = new Map<string, Entry>()

  /** A verified token still valid at `now` (± `leewaySeconds`), else undefined. */
  get(
    token: string,
    audiences: readonly string[],
    bundle: TrustBundle | undefined,
    now: Date,
    leewaySeconds: number,
  ): ValidatedJwtSvid | undefined {
    const e = this.#entries.get(token)
    if (e === undefined) return undefined
    if (
      e.bundle !== bundle ||
      e.audiences !== audiences.join('\n') ||
      !timely(e.result, now, leewaySeconds)
    ) {
      this.#entries.delete(token)
      return undefined
    }
    return e.result
  }

  /** Remembers a token that verified under `bundle`. */
  set(token: string, audiences: readonly string[], bundle: TrustBundle, result: ValidatedJwtSvid): void {
    if (this.#entries.size >= MAX_CACHED_JWT_SVIDS) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    this.#entries.set(token, { audiences: audiences.join('\n'), bundle, result })
  }
}

function timely(v: ValidatedJwtSvid, now: Date, leeway: number): boolean {
  const t = Math.floor(now.getTime() / 1000)
  const { exp, nbf, iat } = v.claims
  if (typeof exp !== 'number' || t > exp + leeway) return false
  if (typeof nbf === 'number' && t + leeway < nbf) return false
  if (typeof iat === 'number' && iat > t + leeway) return false
  return true
}
