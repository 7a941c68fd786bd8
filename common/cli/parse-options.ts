/**
 * Parses a command's arguments with its jackspeak table and reports mistakes plainly, the same
 * way for every command of both binaries: `unknown option --X` (also when a value follows it),
 * `unexpected argument "X"`, `--X needs a value`. SPIRE's camelCase flags are read as their
 * Sigil aliases or refused naming the Sigil option (common/cli/spire-flags.ts). Every problem is
 * a {@link UsageError} (exit 2).
 */
import type { ConfigSet, Jack, OptionsResults } from 'jackspeak'
import { echo } from '../../certs/lib/echo.js'
import { errorText } from '../errors/error-text.js'
import { UsageError } from './cli-io.js'
import { spireAlias } from './spire-flags.js'

interface Definition {
  readonly type: string
  readonly short?: string
}

/**
 * The parsed option values of `args`; throws a {@link UsageError} for any mistake.
 *
 * @example
 * const values = parseOptions(table, ['--audience', 'x'])
 */
export function parseOptions<C extends ConfigSet>(j: Jack<C>, args: readonly string[]): OptionsResults<C> {
  const checked = checkArgs(j, args)
  try {
    return j.parse(checked).values
  } catch (e) {
    throw new UsageError(errorText(e).split('\n')[0] ?? 'invalid arguments')
  }
}

/**
 * `args` checked against the table `j` (throws a {@link UsageError} for any mistake), with SPIRE's
 * flags spelled as their Sigil aliases — what to hand to `j.parse` (parseOptions does).
 *
 * @example
 * checkArgs(table, ['-spiffeID', 'spiffe://example.org/web']) // ['--spiffe-id', 'spiffe://example.org/web']
 */
export function checkArgs<C extends ConfigSet>(j: Jack<C>, args: readonly string[]): string[] {
  const defs = j.toJSON() as Record<string, Definition>
  const names = new Set(Object.keys(defs))
  const shorts = new Map(Object.entries(defs).flatMap(([name, d]) => (d.short ? [[d.short, name]] : [])))
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    let arg = args[i] ?? ''
    if (arg === '--') {
      out.push(...args.slice(i))
      break
    }
    arg = spireAlias(arg, names) ?? arg
    out.push(arg)
    let name: string | undefined
    if (arg.startsWith('--')) {
      name = arg.slice(2).split('=')[0] ?? ''
      const negated = name.startsWith('no-') && defs[name.slice(3)]?.type === 'boolean'
      if (!Object.hasOwn(defs, name) && !negated) throw new UsageError(`unknown option --${echo(name)}`)
      if (negated) continue
    } else if (arg.startsWith('-') && arg.length > 1) {
      const letter = arg.slice(1, 2)
      name = shorts.get(letter)
      if (name === undefined) throw new UsageError(`unknown option -${echo(letter)}`)
    } else {
      throw new UsageError(`unexpected argument "${echo(arg)}": this command takes only options`)
    }
    // A value-taking option without `=` consumes the next argument, whatever it looks like.
    if (
      defs[name]?.type !== 'boolean' &&
      !arg.includes('=') &&
      !(arg.startsWith('-') && !arg.startsWith('--') && arg.length > 2)
    ) {
      if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`)
      i++
      out.push(args[i] ?? '')
    }
  }
  return out
}

/**
 * Throws a {@link UsageError} unless each named option has a value (non-empty).
 *
 * @example
 * requireOptions(values, ['audience'])
 */
export function requireOptions(values: Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) {
    const v = values[name]
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) {
      throw new UsageError(`--${name} is required`)
    }
  }
}
