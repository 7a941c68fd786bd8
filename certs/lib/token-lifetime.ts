/**
 * The `iat`/`exp` of a token Sigil signs (JWT-SVID, WIT-SVID): `exp` = `iat` + ttl, capped by
 * `notAfterCap` (e.g. the signing key's own expiry), in whole seconds.
 */
import { SigilError } from '../errors.js'

/**
 * Throws `TypeError` for a bad ttl, `now` or cap; `ERR_INVALID_ARGUMENT` when the cap leaves the
 * token (named `what`) no lifetime.
 *
 * @example
 * const { iat, exp } = tokenLifetime({ ttlSeconds: 300, notAfterCap }, 'JWT-SVID')
 */
export function tokenLifetime(
  opts: { ttlSeconds: number; now?: Date | undefined; notAfterCap?: Date | undefined },
  what: string,
): { iat: number; exp: number } {
  const { ttlSeconds, notAfterCap } = opts
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError('ttlSeconds must be a positive whole number')
  }
  const now = opts.now ?? new Date()
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date')
  const iat = Math.floor(now.getTime() / 1000)
  let exp = iat + ttlSeconds
  if (notAfterCap !== undefined) {
    if (!(notAfterCap instanceof Date) || Number.isNaN(notAfterCap.getTime())) {
      throw new TypeError('notAfterCap must be a valid Date')
    }
    exp = Math.min(exp, Math.floor(notAfterCap.getTime() / 1000))
    if (exp <= iat) throw new SigilError('ERR_INVALID_ARGUMENT', `notAfterCap leaves the ${what} no lifetime`)
  }
  return { iat, exp }
}
