/**
 * The one retry-delay formula of the daemons: exponential from `initialMs`, capped at `maxMs`,
 * with ±20 % jitter so that many agents restarted together do not retry in step. (The SDK keeps
 * its own `sdk/backoff.ts`: `sdk/` may not import `common/`.)
 */

/** Jitter applied to every delay: the delay is multiplied by a factor in [1 − J, 1 + J). */
export const BACKOFF_JITTER = 0.2

/**
 * The pause after `failures` consecutive failures (1 = the first): `initialMs × 2^(failures−1)`,
 * at most `maxMs`, times a jitter factor from `random` in [0, 1).
 *
 * @example
 * retryDelayMs(3, 500, 5_000, Math.random()) // about 2 s
 */
export function retryDelayMs(failures: number, initialMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(30, failures - 1)))
  return Math.round(base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random))
}
