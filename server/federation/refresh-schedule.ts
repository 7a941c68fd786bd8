/**
 * When to fetch a foreign bundle next (SPIFFE Federation: poll every `spiffe_refresh_hint`
 * seconds, 5 minutes without one; after a failure, retry at the next interval rather than at
 * once). The hint comes from the other side, so it is clamped: a hint of 1 s must not turn the
 * server into a poller, and a hint of a year must not freeze a rotated bundle out.
 */

/** The bounds of the refresh interval (ms). */
export interface RefreshIntervalLimits {
  readonly minIntervalMs: number
  readonly maxIntervalMs: number
}

/** The interval when the bundle carries no hint (the spec's 5 minutes). */
export const DEFAULT_REFRESH_MS = 5 * 60_000

/** Default bounds: at least 30 s, at most 1 h between fetches. */
export const DEFAULT_REFRESH_LIMITS: RefreshIntervalLimits = {
  minIntervalMs: 30_000,
  maxIntervalMs: 3_600_000,
}

/**
 * The pause before the next fetch, given the refresh hint (seconds) of the bundle held.
 *
 * @example
 * refreshIntervalMs(300, DEFAULT_REFRESH_LIMITS) // 300000
 * refreshIntervalMs(1, DEFAULT_REFRESH_LIMITS)   // 30000
 */
export function refreshIntervalMs(hintSeconds: number | undefined, limits: RefreshIntervalLimits): number {
  const wanted = hintSeconds === undefined || hintSeconds <= 0 ? DEFAULT_REFRESH_MS : hintSeconds * 1000
  return Math.min(limits.maxIntervalMs, Math.max(limits.minIntervalMs, wanted))
}

/**
 * Whether a relationship is due at `now`.
 *
 * @example
 * if (isRefreshDue(r.nextRefreshAt, clock())) await refresher.refresh(r.trustDomain)
 */
export function isRefreshDue(nextRefreshAt: Date, now: Date): boolean {
  return nextRefreshAt.getTime() <= now.getTime()
}
