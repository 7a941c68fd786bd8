/**
 * The structured logger both daemons use: JSON lines (pino) with constant field names
 * (`spiffe_id`, `entry_id`, `agent_id`, `selectors`, `pid`) and ONE redaction list. Keys and
 * tokens are never logged; the redaction list is a second line of defence, not the first.
 * Trust: log lines may be read by anyone who can read the daemon's output.
 */
import { type DestinationStream, pino } from 'pino'

/** The full logger a composition root creates. */
export type Logger = pino.Logger

/**
 * The narrow logger every component takes (one interface instead of one per module); a pino
 * logger satisfies it and test doubles implement only this.
 */
export interface Log {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/** Field names whose values are replaced by `[redacted]` wherever they appear (top level or one deep). */
export const REDACTED_FIELDS = [
  'privateKey',
  'private_key',
  'key',
  'token',
  'joinToken',
  'join_token',
  'svid',
] as const

const REDACT_PATHS = [...REDACTED_FIELDS, ...REDACTED_FIELDS.map((f) => `*.${f}`)]

/**
 * Creates a logger for `service` writing JSON lines to `destination` (default stdout).
 *
 * @example
 * const log = createLogger('sigil-agent', 'info')
 * log.info({ spiffe_id: id.toString() }, 'agent attested')
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  )
}
