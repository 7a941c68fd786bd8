/** Subcommand table and dispatch for `sigil-agent` (see main.ts). */
import { isSigilError } from '../../certs/errors.js'

/** Where a command writes and what it reads from its environment. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly env: Record<string, string | undefined>
  /** Ends long-running commands (`run`, `api watch`); default: SIGTERM or SIGINT. */
  readonly signal?: AbortSignal
}

/** A subcommand module's shape: run with the arguments after the command words. */
export interface CliCommand {
  run(args: string[], io: CliIo): Promise<number>
}

/** Exit code: success. */
export const EXIT_OK = 0
/** Exit code: the request failed or was refused. */
export const EXIT_FAILED = 1
/** Exit code: usage error or invalid input. */
export const EXIT_USAGE = 2

const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  run: { summary: 'Run the agent', load: () => import('./commands/run.js') },
  api: {
    summary: 'api fetch x509|fetch jwt|validate jwt|watch: call the Workload API',
    load: () => import('./commands/api.js'),
  },
  healthcheck: {
    summary: 'Check that the agent answers on its Workload API socket',
    load: () => import('./commands/healthcheck.js'),
  },
}

/** Usage text listing every subcommand. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `usage: sigil-agent <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'sigil-agent <command> --help' for a command's options.\n`
}

/**
 * Runs one `sigil-agent` invocation and returns its exit code.
 *
 * @example
 * process.exitCode = await runCli(['api', 'fetch', 'x509'], { stdout, stderr, env: process.env })
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage())
    return name ? EXIT_OK : EXIT_USAGE
  }
  const command = COMMANDS[name]
  if (!command) {
    io.stderr.write(`sigil-agent: unknown command "${name}"\n\n${usage()}`)
    return EXIT_USAGE
  }
  try {
    return await (await command.load()).run(rest, io)
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    io.stderr.write(`sigil-agent ${name}: ${message.split('\n')[0]}\n`)
    return isSigilError(e) ? EXIT_USAGE : EXIT_FAILED
  }
}
