/**
 * The server's structured logger: JSON lines (pino) with constant field names
 * (`spiffe_id`, `entry_id`, `agent_id`, `selectors`, `pid`). Keys and tokens are
 * never logged; the redact list is a second line of defence, not the first.
 */
import { type DestinationStream, pino } from 'pino'

export type Logger = pino.Logger

const REDACT = [
  'privateKey',
  'private_key',
  'key',
  'token',
  'joinToken',
  'join_token',
  '*.privateKey',
  '*.token',
]

/**
 * Creates a logger writing JSON lines to `destination` (default stdout).
 *
 * @example
 * const log = createLogger('info')
 * log.info({ spiffe_id: id.toString() }, 'x509-svid signed')
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sigil-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  )
}
