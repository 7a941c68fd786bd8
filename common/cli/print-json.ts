/**
 * The one JSON output style of both CLIs (`--output json`): one JSON document on stdout,
 * indented by 2 spaces, ending in a newline. (`api watch` prints one such document per update.)
 */
import type { CliIo } from './cli-io.js'

/**
 * Writes `value` as one pretty JSON document.
 *
 * @example
 * printJson(io, { count: 3 })
 */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
