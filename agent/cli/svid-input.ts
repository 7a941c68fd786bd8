/**
 * Where `api validate jwt` takes the token from: `--svid-file F` or `--svid -` (stdin).
 * Trust: every local user can read a process's command line (/proc/<pid>/cmdline), so a
 * token given as `--svid TOKEN` is refused (ERR_CONFIG_INVALID, exit 2) and never echoed —
 * the same rule the agent's `run` applies to `--join-token`.
 */
import { SigilError } from '../../certs/errors.js'
import type { CliIo } from '../../common/cli/cli-io.js'
import { readInput, readStream } from '../../common/cli/read-input.js'

/** The largest token read from a file or stdin. */
export const MAX_SVID_INPUT_BYTES = 64 * 1024

/**
 * The JWT-SVID named by `--svid-file` or `--svid -`, trimmed.
 *
 * @example
 * const token = await readSvidArgument({ 'svid-file': '/run/token' }, io)
 */
export async function readSvidArgument(
  values: { svid?: string | undefined; 'svid-file'?: string | undefined },
  io: CliIo,
): Promise<string> {
  const { svid, 'svid-file': file } = values
  if (svid !== undefined && svid !== '-') {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      'svid: a token on the command line is refused, where every local user can read it (/proc/<pid>/cmdline): pass it with --svid-file <file> or --svid - (stdin)',
    )
  }
  if (svid === '-' && file !== undefined) {
    throw new SigilError('ERR_CONFIG_INVALID', 'svid: give either --svid - or --svid-file, not both')
  }
  let text: string
  if (file !== undefined) {
    text = await readInput(file, io.stdin ?? process.stdin, MAX_SVID_INPUT_BYTES, 'svid-file')
  } else if (svid === '-') {
    text = await readStream(io.stdin ?? process.stdin, MAX_SVID_INPUT_BYTES, 'svid')
  } else {
    throw new SigilError('ERR_CONFIG_INVALID', 'svid: --svid-file <file> or --svid - (stdin) is required')
  }
  const token = text.trim()
  if (token === '' || /\s/.test(token)) {
    throw new SigilError('ERR_CONFIG_INVALID', 'svid: expected one JWT-SVID and nothing else')
  }
  return token
}
