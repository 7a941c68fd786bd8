/**
 * The one way Sigil turns a caught value into text for a log field or a CLI line: an Error's
 * message, anything else stringified. Trust: the text may reach logs and terminals, so callers
 * still must not throw errors that carry secrets.
 */
import { isSigilError } from '../../certs/errors.js'

/**
 * The message of an Error, else `String(value)`.
 *
 * @example
 * log.warn({ err: errorText(e) }, 'sync failed')
 */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * The first line of {@link errorText}, trimmed (for one-line CLI reports).
 *
 * @example
 * io.stderr.write(`sigil-server run: ${firstLine(e)}\n`)
 */
export function firstLine(err: unknown): string {
  return errorText(err).split('\n')[0]?.trim() ?? ''
}

/**
 * {@link errorText} prefixed with the stable code of a SigilError (`ERR_UNAVAILABLE: …`), for
 * log lines where the code matters more than the wording.
 *
 * @example
 * log.warn({ err: codedErrorText(e) }, 'issuance failed')
 */
export function codedErrorText(err: unknown): string {
  return isSigilError(err) ? `${err.code}: ${err.message}` : errorText(err)
}
