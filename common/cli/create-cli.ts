/**
 * `createCli({ name, commands, version })`: the subcommand dispatcher of both binaries and of
 * their command groups (`sigil-agent api`, `sigil-server entry`). Commands may be one or two
 * words (`fetch x509`); each module is imported only when chosen. `--help` lists the commands
 * (also for a group prefix: `api fetch --help`), `--version` prints the package version, and a
 * command that throws is reported on one line (exit 2 for usage, 1 otherwise).
 */
import { type CliCommand, type CliIo, EXIT_OK, EXIT_USAGE } from './cli-io.js'
import { packageVersion } from './package-version.js'
import { reportError } from './report-error.js'

/** One entry of a command table. */
export interface CommandEntry {
  readonly summary: string
  readonly load: () => Promise<CliCommand>
}

/** A dispatcher's declaration. */
export interface CliSpec {
  /** The words before the command: `sigil-agent`, `sigil-agent api`. */
  readonly name: string
  readonly commands: Readonly<Record<string, CommandEntry>>
  /** Accept `--version`/`-v` (the top level of a binary). */
  readonly version?: boolean
  /** `verbs` for a noun's verbs (`sigil-server entry create`): a missing or unknown verb is one stderr line. */
  readonly kind?: 'commands' | 'verbs'
}

const HELP_WORDS = new Set(['--help', '-h', 'help'])

/**
 * A `run(argv, io)` dispatching to the command named by the first one or two words.
 *
 * @example
 * export const runCli = createCli({ name: 'sigil-agent', version: true, commands: { run: { summary: 'Run the agent', load: () => import('./commands/run.js') } } })
 */
export function createCli(spec: CliSpec): (argv: string[], io: CliIo) => Promise<number> {
  const usage = (prefix?: string): string => {
    const entries = Object.entries(spec.commands).filter(([n]) => !prefix || n.startsWith(`${prefix} `))
    const width = Math.max(...entries.map(([n]) => n.length))
    const lines = entries.map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`)
    const head = prefix ? `${spec.name} ${prefix}` : spec.name
    const version = spec.version ? `\n  --version  Print the version\n` : ''
    return `usage: ${head} <command> [options]\n\ncommands:\n${lines.join('\n')}\n${version}\nRun '${spec.name} <command> --help' for a command's options.\n`
  }
  const names = Object.keys(spec.commands)
  const verbList = () => {
    const width = Math.max(...names.map((v) => v.length))
    const lines = Object.entries(spec.commands).map(([n, v]) => `  ${n.padEnd(width)}  ${v.summary}`)
    return `usage: ${spec.name} <${names.join('|')}> [options]\n\n${lines.join('\n')}\n\nRun '${spec.name} <verb> --help' for its options.\n`
  }
  return async (argv, io) => {
    const [first, second, ...rest] = argv
    if (spec.kind === 'verbs' && (!first || !Object.hasOwn(spec.commands, first))) {
      if (first && HELP_WORDS.has(first)) {
        io.stdout.write(verbList())
        return EXIT_OK
      }
      const what = first ? `unknown verb "${first.slice(0, 40)}"` : 'a verb is required'
      io.stderr.write(`${spec.name}: ${what} (one of: ${names.join(', ')})\n`)
      return EXIT_USAGE
    }
    if (!first || HELP_WORDS.has(first)) {
      io.stdout.write(usage())
      return first ? EXIT_OK : EXIT_USAGE
    }
    if (spec.version && (first === '--version' || first === '-v')) {
      io.stdout.write(`${spec.name} ${packageVersion()}\n`)
      return EXIT_OK
    }
    const two = second === undefined ? undefined : `${first} ${second}`
    let key: string
    let args: string[]
    if (two !== undefined && Object.hasOwn(spec.commands, two)) {
      key = two
      args = rest
    } else if (Object.hasOwn(spec.commands, first)) {
      key = first
      args = argv.slice(1)
    } else if (Object.keys(spec.commands).some((n) => n.startsWith(`${first} `))) {
      if (second === undefined || HELP_WORDS.has(second)) {
        io.stdout.write(usage(first))
        return second ? EXIT_OK : EXIT_USAGE
      }
      io.stderr.write(`${spec.name}: unknown command "${first} ${second.slice(0, 40)}"\n\n${usage(first)}`)
      return EXIT_USAGE
    } else {
      io.stderr.write(`${spec.name}: unknown command "${first.slice(0, 40)}"\n\n${usage()}`)
      return EXIT_USAGE
    }
    try {
      return (await (await spec.commands[key]?.load())?.run(args, io)) ?? EXIT_USAGE
    } catch (e) {
      return reportError(io, `${spec.name} ${key}`, e)
    }
  }
}
