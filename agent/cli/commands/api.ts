/**
 * `sigil-agent api …`: the Workload API commands, shaped like `spire-agent api …`. Each
 * subcommand lives in its own module, imported only when used.
 */
import { type CliCommand, type CliIo, EXIT_OK, EXIT_USAGE } from '../run-cli.js'

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  'fetch x509': {
    summary: 'Fetch this process X509-SVIDs [--write DIR]',
    load: () => import('./api-fetch-x509.js'),
  },
  'fetch jwt': {
    summary: 'Fetch JWT-SVIDs --audience A [--spiffe-id ID]',
    load: () => import('./api-fetch-jwt.js'),
  },
  'validate jwt': {
    summary: 'Validate a JWT-SVID --audience A --svid TOKEN',
    load: () => import('./api-validate-jwt.js'),
  },
  watch: { summary: 'Print every X509-SVID update until interrupted', load: () => import('./api-watch.js') },
}

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((c) => c.length))
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `usage: sigil-agent api <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'sigil-agent api <command> --help' for a command's options.\n`
}

/** Dispatches to the `api` subcommand named by the first one or two words. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [first, second, ...rest] = args
  const two = `${first ?? ''} ${second ?? ''}`
  const command = SUBCOMMANDS[two] ?? (first ? SUBCOMMANDS[first] : undefined)
  if (!command) {
    if (!first || first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write(usage())
      return first ? EXIT_OK : EXIT_USAGE
    }
    io.stderr.write(
      `sigil-agent api: unknown command "${[first, second].filter(Boolean).join(' ')}"\n\n${usage()}`,
    )
    return EXIT_USAGE
  }
  const remaining = SUBCOMMANDS[two] ? rest : [second, ...rest].filter((a): a is string => a !== undefined)
  return (await command.load()).run(remaining, io)
}
