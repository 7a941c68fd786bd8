/**
 * The logger the cache writes to (pino-compatible, structured fields `pid`, `spiffe_id`,
 * `entry_id`), and how errors are described in its logs. Keys and tokens are never logged.
 */
import { isSigilError } from '../../certs/errors.js'

/** Structured logger: `(fields, message)`. */
export interface CacheLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

/**
 * A short description of an error for logs.
 *
 * @example
 * logger.warn({ err: errorText(e) }, 'issuance failed')
 */
export function errorText(err: unknown): string {
  if (isSigilError(err)) return `${err.code}: ${err.message}`
  return err instanceof Error ? err.message : String(err)
}
