/**
 * The agent's structured logger: JSON lines (pino) with constant field names (`spiffe_id`,
 * `entry_id`, `agent_id`, `selectors`, `pid`). Keys and tokens are never logged; the redact
 * list is a second line of defence, not the first. Trust: log lines may be read by anyone who
 * can read the agent's output, so nothing secret belongs in them.
 */
import { type DestinationStream, pino } from 'pino'

/** The logger type every agent component receives. */
export type Logger = pino.Logger

const REDACT = [
  'privateKey',
  'private_key',
  'key',
  'token',
  'joinToken',
  'join_token',
  'svid',
  '*.privateKey',
  '*.token',
]

/**
 * Creates a logger writing JSON lines to `destination` (default stdout).
 *
 * @example
 * const log = createLogger('info')
 * log.info({ spiffe_id: id.toString() }, 'agent attested')
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sigil-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  )
}
