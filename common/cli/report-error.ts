/**
 * The one error rule of both CLIs: a failure prints ONE line `<command>: reason` on stderr and
 * returns its exit code — 2 for usage mistakes and invalid input (`UsageError`, any SigilError),
 * else the command's own mapping, else 1.
 */
import { isSigilError } from '../../certs/errors.js'
import { firstLine } from '../errors/error-text.js'
import { type CliIo, EXIT_FAILED, EXIT_USAGE, UsageError } from './cli-io.js'

/**
 * Reports `err` for `command` (e.g. `sigil-server entry show`) and returns the exit code.
 *
 * @example
 * catch (e) { return reportError(io, 'sigil-agent run', e) }
 */
export function reportError(
  io: CliIo,
  command: string,
  err: unknown,
  exitCodeFor?: (err: unknown) => number | undefined,
): number {
  const hint = err instanceof UsageError ? ` (see '${command} --help')` : ''
  io.stderr.write(`${command}: ${firstLine(err) || 'failed'}${hint}\n`)
  if (err instanceof UsageError || isSigilError(err)) return EXIT_USAGE
  return exitCodeFor?.(err) ?? EXIT_FAILED
}
