/**
 * The one reader of daemon configuration files (`--config`): JSON, or TOML when the name ends
 * in `.toml`; at most {@link MAX_CONFIG_BYTES}; the top level must be an object; snake_case
 * keys become the kebab-case option names; a nested `config` key is refused. Trust: the file is
 * operator input, read once at start-up; every failure is `ERR_CONFIG_INVALID` naming the file.
 */
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { SigilError } from '../../certs/errors.js'
import { errorText } from '../errors/error-text.js'

/** The largest configuration file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024

/**
 * Reads `path` into option values keyed by option name. Numbers become strings (the option
 * tables parse durations and sizes from text).
 *
 * @example
 * jack.setConfigValues(readConfigFile('/etc/sigil/server.toml'), path)
 */
export function readConfigFile(path: string): Record<string, unknown> {
  const fail = (why: string, cause?: unknown): never => {
    throw new SigilError('ERR_CONFIG_INVALID', `config file ${path}: ${why}`, cause ? { cause } : undefined)
  }
  let parsed: unknown
  try {
    const buf = readFileSync(path)
    if (buf.length > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`)
    const text = buf.toString('utf8')
    parsed = extname(path).toLowerCase() === '.toml' ? parseToml(text) : JSON.parse(text)
  } catch (cause) {
    fail(errorText(cause), cause)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail('the top level must be an object')
  }
  const out: Record<string, unknown> = {}
  for (const [k, val] of Object.entries(parsed as object)) {
    const key = k.replaceAll('_', '-')
    if (key === 'config') fail('"config" cannot nest')
    out[key] = typeof val === 'number' ? String(val) : val
  }
  return out
}
