/** Subcommand table and dispatch for `sigil-server` (see main.ts). */
import { isSigilError } from '../../certs/errors.js'

export interface CliIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly env: Record<string, string | undefined>
}

/** A subcommand module's shape: run with the arguments after the command words. */
export interface CliCommand {
  run(args: string[], io: CliIo): Promise<number>
}

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  run: { summary: 'Run the server', load: () => import('./commands/run.js') },
  token: { summary: 'token generate: create a join token', load: () => import('./commands/token.js') },
  entry: {
    summary: 'entry create|show|update|delete|count: manage registration entries',
    load: () => import('./commands/entry.js'),
  },
  agent: {
    summary: 'agent list|show|evict|ban: manage attested agents',
    load: () => import('./commands/agent.js'),
  },
  bundle: { summary: 'bundle show: print the trust bundle', load: () => import('./commands/bundle.js') },
  x509: { summary: 'x509 mint: mint an X509-SVID', load: () => import('./commands/x509.js') },
  jwt: { summary: 'jwt mint: mint a JWT-SVID', load: () => import('./commands/jwt.js') },
  svid: { summary: 'svid list: show the issuance record', load: () => import('./commands/svid.js') },
  healthcheck: {
    summary: 'Check that the server is healthy',
    load: () => import('./commands/healthcheck.js'),
  },
}

/** Usage text listing every subcommand. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `usage: sigil-server <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'sigil-server <command> --help' for a command's options.\n`
}

/**
 * Runs one `sigil-server` invocation and returns its exit code.
 *
 * @example
 * process.exitCode = await runCli(['entry', 'count'], { stdout, stderr, env: process.env })
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage())
    return name ? EXIT_OK : EXIT_USAGE
  }
  const command = COMMANDS[name]
  if (!command) {
    io.stderr.write(`sigil-server: unknown command "${name}"\n\n${usage()}`)
    return EXIT_USAGE
  }
  try {
    return await (await command.load()).run(rest, io)
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    io.stderr.write(`sigil-server ${name}: ${message.split('\n')[0]}\n`)
    return isSigilError(e) ? EXIT_USAGE : EXIT_FAILED
  }
}
