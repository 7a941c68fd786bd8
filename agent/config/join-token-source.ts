/**
 * Where the agent's join token may come from, and where it may not. Trust: on Linux every local
 * user can read any process's command line (/proc/<pid>/cmdline), so a token given as a flag is
 * public and can be redeemed first by someone else. The token is therefore refused in argv and
 * read from SIGIL_JOIN_TOKEN (/proc/<pid>/environ is readable by the owner only), from a token
 * file (read once; a warning unless only its owner can read it) or from a config file only its
 * owner can read. Nothing here logs or echoes the token.
 */
import { readFileSync, statSync } from 'node:fs'
import { SigilError } from '../../certs/errors.js'
import { ARGV_REFUSED_OPTIONS } from './agent-options.js'

/** The largest token file read (the server accepts tokens up to 512 bytes). */
export const MAX_JOIN_TOKEN_FILE_BYTES = 4096

/**
 * Throws `ERR_CONFIG_INVALID` when `args` carries a secret option (`--join-token T` or
 * `--join-token=T`); the message names the alternatives and never the value.
 *
 * @example
 * refuseSecretsInArgv(['--join-token-file', '/etc/sigil/token']) // fine
 */
export function refuseSecretsInArgv(args: readonly string[]): void {
  for (const arg of args) {
    for (const name of ARGV_REFUSED_OPTIONS) {
      if (arg === `--${name}` || arg.startsWith(`--${name}=`)) {
        throw new SigilError(
          'ERR_CONFIG_INVALID',
          `--${name} is refused on the command line, where every local user can read it (/proc/<pid>/cmdline): pass the token with --join-token-file <file> (mode 0600) or the SIGIL_JOIN_TOKEN environment variable, and generate a new one (this one may have been seen)`,
        )
      }
    }
  }
}

/**
 * Reads a join token file once: the token (surrounding whitespace removed) and, when group or
 * others may read the file, a warning naming it (not the token).
 *
 * @example
 * const { token, warning } = readJoinTokenFile('/etc/sigil/join-token')
 */
export function readJoinTokenFile(path: string): { token: string; warning: string | undefined } {
  let buf: Buffer
  let mode: number
  try {
    mode = statSync(path).mode
    buf = readFileSync(path)
  } catch (cause) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `join-token-file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      { cause },
    )
  }
  if (buf.length > MAX_JOIN_TOKEN_FILE_BYTES) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `join-token-file ${path}: larger than ${MAX_JOIN_TOKEN_FILE_BYTES} bytes`,
    )
  }
  const token = buf.toString('utf8').trim()
  if (token === '' || /\s/.test(token)) {
    throw new SigilError('ERR_CONFIG_INVALID', `join-token-file ${path}: expected one token and nothing else`)
  }
  const open = mode & 0o077
  const warning =
    open === 0
      ? undefined
      : `join-token-file ${path} is readable by other users (mode ${octal(mode)}): they can redeem the token before this agent does. chmod 600 ${path}, and prefer a fresh token`
  return { token, warning }
}

/**
 * Throws `ERR_CONFIG_INVALID` when a config file holds a join token but group or others may read it.
 *
 * @example
 * checkConfigFileSecrets('/etc/sigil/agent.toml', { 'join-token': 't' })
 */
export function checkConfigFileSecrets(path: string, values: Record<string, unknown>): void {
  if (values['join-token'] === undefined) return
  const mode = statSync(path).mode
  if ((mode & 0o077) !== 0) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `config file ${path} holds join_token but other users can read it (mode ${octal(mode)}): chmod 600 ${path}, or use --join-token-file`,
    )
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`
}
