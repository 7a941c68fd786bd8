/** Durations in configuration and CLI flags: `90`, `90s`, `5m`, `1h`, `2d` → seconds. */
import { SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }

/**
 * Parses a duration into whole seconds (> 0).
 *
 * @example
 * parseDurationSeconds('1h') // 3600
 */
export function parseDurationSeconds(input: string | number, what = 'duration'): number {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/.exec(String(input))
  const seconds = m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1) : Number.NaN
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `${what}: "${echo(String(input))}" is not a duration (e.g. 30s, 5m, 1h, 2d)`,
    )
  }
  return seconds
}
