/**
 * JWT-SVIDs for one process (internal to agent/cache/): one per entitled SPIFFE ID, minted by
 * the server for (process, SPIFFE ID, sorted audience) and reused from the cache until its
 * jittered half-life. When the server cannot mint, a cached token that is still valid is served;
 * otherwise the call fails `ERR_UNAVAILABLE`.
 */
import { isSigilError, SigilError } from '../../certs/errors.js'
import { codedErrorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { AuthorizedEntry, SvidIssuer } from './authorized-state.js'
import { type CachedJwtSvid, type JwtSvidCache, jwtCacheKey } from './jwt-svid-cache.js'
import type { ProcessRecord } from './process-record.js'
import { isServable, renewalTime } from './rotation-policy.js'

/** A JWT-SVID handed to a workload. */
export interface WorkloadJwtSvid {
  readonly spiffeId: string
  /** The compact JWS. A bearer credential: never log it. */
  readonly token: string
  readonly hint: string
  readonly expiresAt: Date
}

/** What fetching needs from the cache. */
export interface JwtFetchContext {
  readonly issuer: Pick<SvidIssuer, 'newJwtSvid'>
  readonly logger: Log
  readonly clock: () => Date
  readonly rotationFraction: number
  readonly random: () => number
  readonly jwt: JwtSvidCache
  /** Mints in progress by cache key, so concurrent identical requests share one. */
  readonly inflight: Map<string, Promise<CachedJwtSvid>>
}

/** @internal Throws `ERR_INVALID_ARGUMENT` unless `audience` is a non-empty list of non-empty strings. */
export function checkAudience(audience: readonly string[]): void {
  if (
    !Array.isArray(audience) ||
    audience.length === 0 ||
    audience.some((a) => typeof a !== 'string' || a === '')
  ) {
    throw new SigilError('ERR_INVALID_ARGUMENT', 'audience must be a non-empty list of non-empty strings')
  }
}

/** @internal See WorkloadIdentityCache.fetchJwtSvids. */
export async function fetchJwtSvids(
  ctx: JwtFetchContext,
  rec: ProcessRecord,
  audience: readonly string[],
  spiffeId: string | undefined,
): Promise<WorkloadJwtSvid[]> {
  const entries: AuthorizedEntry[] = []
  const seen = new Set<string>()
  for (const e of rec.matched) {
    if (spiffeId !== undefined && e.spiffeId !== spiffeId) continue
    if (seen.has(e.spiffeId)) continue
    seen.add(e.spiffeId)
    entries.push(e)
  }
  if (entries.length === 0) {
    throw new SigilError(
      'ERR_NOT_AUTHORIZED',
      spiffeId === undefined ? 'no identity issued' : `no identity issued for ${spiffeId}`,
    )
  }
  return Promise.all(entries.map((e) => jwtFor(ctx, rec, e, audience)))
}

async function jwtFor(
  ctx: JwtFetchContext,
  rec: ProcessRecord,
  entry: AuthorizedEntry,
  audience: readonly string[],
): Promise<WorkloadJwtSvid> {
  const key = jwtCacheKey(rec.key, entry.spiffeId, audience)
  const cached = ctx.jwt.get(key)
  if (cached !== undefined && ctx.clock().getTime() < cached.renewAt.getTime())
    return toWorkload(cached, entry)
  let pending = ctx.inflight.get(key)
  if (pending === undefined) {
    pending = mint(ctx, rec, entry, audience, key).finally(() => ctx.inflight.delete(key))
    ctx.inflight.set(key, pending)
  }
  try {
    return toWorkload(await pending, entry)
  } catch (err) {
    if (cached !== undefined && isServable(ctx.clock(), cached.expiresAt)) {
      ctx.logger.warn(
        { pid: rec.pid, entry_id: entry.id, spiffe_id: entry.spiffeId, err: codedErrorText(err) },
        'could not mint a JWT-SVID; serving the cached one',
      )
      return toWorkload(cached, entry)
    }
    if (isSigilError(err, 'ERR_NOT_AUTHORIZED')) throw err
    ctx.logger.warn(
      { pid: rec.pid, entry_id: entry.id, spiffe_id: entry.spiffeId, err: codedErrorText(err) },
      'could not mint a JWT-SVID',
    )
    throw new SigilError('ERR_UNAVAILABLE', `could not fetch JWT-SVID: ${codedErrorText(err)}`, {
      cause: err,
    })
  }
}

async function mint(
  ctx: JwtFetchContext,
  rec: ProcessRecord,
  entry: AuthorizedEntry,
  audience: readonly string[],
  key: string,
): Promise<CachedJwtSvid> {
  const issued = await ctx.issuer.newJwtSvid(entry.id, [...audience])
  if (issued.spiffeId !== entry.spiffeId) {
    throw new SigilError(
      'ERR_SVID_INVALID',
      `the server minted a JWT-SVID for ${issued.spiffeId}, not ${entry.spiffeId}`,
    )
  }
  const item: CachedJwtSvid = {
    processKey: rec.key,
    spiffeId: issued.spiffeId,
    token: issued.token,
    expiresAt: issued.expiresAt,
    renewAt: renewalTime(issued.issuedAt, issued.expiresAt, ctx.rotationFraction, ctx.random()),
    jti: jtiOf(issued.token),
  }
  if (!rec.dropped) ctx.jwt.set(key, item)
  ctx.logger.debug(
    { pid: rec.pid, entry_id: entry.id, spiffe_id: entry.spiffeId },
    'JWT-SVID minted for workload',
  )
  return item
}

function toWorkload(item: CachedJwtSvid, entry: AuthorizedEntry): WorkloadJwtSvid {
  return { spiffeId: item.spiffeId, token: item.token, hint: entry.hint, expiresAt: item.expiresAt }
}

/** The token's `jti` claim, or `''` (the token came from the authenticated server; no check here). */
function jtiOf(token: string): string {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))
    return typeof payload?.jti === 'string' ? payload.jti : ''
  } catch {
    return ''
  }
}
