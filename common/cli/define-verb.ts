/**
 * `defineVerb({ usage, options, run })`: the prologue every CLI verb of both binaries shares,
 * written once — build the option table (adding `--help`), parse with plain messages, print
 * `--help`, check the required options (each must say "(required)" in its description, so
 * `--help` shows it), run, and report any failure on one line with the right exit code.
 */
import { type ConfigSet, type Jack, jack, type OptionsResults } from 'jackspeak'
import { type CliIo, EXIT_OK } from './cli-io.js'
import { parseOptions, requireOptions } from './parse-options.js'
import { reportError } from './report-error.js'

const HELP = { help: { short: 'h', description: 'Print this help' } } as const
type WithHelp<C extends ConfigSet> = OptionsResults<C> & { help?: boolean | undefined }

/** What a verb declares. */
export interface VerbSpec<C extends ConfigSet> {
  /** The synopsis, starting with the full command words: `sigil-server entry show [options]`. */
  readonly usage: string
  /** One sentence for `--help`. */
  readonly description: string
  /** Adds the verb's options to the table. */
  readonly options: (j: Jack) => Jack<C>
  /** Options that must be given (exit 2 otherwise). */
  readonly required?: readonly string[]
  /** Exit code for a failure the verb knows (default 1; usage and SigilErrors are 2). */
  readonly exitCodeFor?: (err: unknown) => number | undefined
  /** The verb's body, with the parsed values. */
  readonly run: (values: OptionsResults<C>, io: CliIo) => Promise<number>
}

/** The command words of a synopsis (up to the first option or placeholder). */
export function commandName(usage: string): string {
  const words: string[] = []
  for (const w of usage.split(/\s+/)) {
    if (!w || /^[-[<]/.test(w) || /^[A-Z]/.test(w)) break
    words.push(w)
  }
  return words.join(' ')
}

/**
 * A verb's `run(args, io)` from its declaration.
 *
 * @example
 * export const run = defineVerb({
 *   usage: 'sigil-agent api fetch jwt --audience A [options]',
 *   description: 'Fetches JWT-SVIDs.',
 *   options: (j) => j.optList({ audience: { description: 'Audience (required)' } }),
 *   required: ['audience'],
 *   run: async (values, io) => EXIT_OK,
 * })
 */
export function defineVerb<C extends ConfigSet>(
  spec: VerbSpec<C>,
): (args: string[], io: CliIo) => Promise<number> {
  const name = commandName(spec.usage)
  return async (args, io) => {
    try {
      const j = spec.options(
        jack({ allowPositionals: false, usage: spec.usage }).description(spec.description),
      )
      const table = j.flag(HELP)
      const defs = table.toJSON() as Record<string, { description?: string }>
      for (const r of spec.required ?? []) {
        if (!defs[r]?.description?.includes('(required)')) {
          throw new TypeError(`${name}: required option --${r} must say "(required)" in its description`)
        }
      }
      const values = parseOptions(table, args) as WithHelp<C>
      if (values.help) {
        io.stdout.write(`${table.usage()}\n`)
        return EXIT_OK
      }
      requireOptions(values as Record<string, unknown>, spec.required ?? [])
      return await spec.run(values, io)
    } catch (e) {
      return reportError(io, name, e, spec.exitCodeFor)
    }
  }
}
