/**
 * What every admin subcommand of `sigil-server` shares: the common options (declared once
 * here: `--admin-socket`, `--output`, `--help`), argument parsing, the admin socket
 * default, output in `pretty` or `json`, verb dispatch (`entry create`, `agent list`, ...)
 * and the one error rule: any failure prints ONE line on stderr and exits non-zero —
 * 2 for usage errors, invalid input (checked locally before anything is sent) and input
 * the server rejects (INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND); 1 for everything else.
 */
import { resolve } from 'node:path'
import { type ConfigSet, type Jack, jack, type OptionsResults } from 'jackspeak'
import { isSigilError } from '../../certs/errors.js'
import { AdminCallError, AdminClient, exitCodeForStatus } from './admin-client.js'
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './run-cli.js'

/** The socket used when neither `--admin-socket` nor `SIGIL_ADMIN_SOCKET` is set (relative to the cwd). */
export const DEFAULT_ADMIN_SOCKET = './.sigil/server/private/admin.sock'
/** The environment variable naming the admin socket. */
export const ADMIN_SOCKET_ENV = 'SIGIL_ADMIN_SOCKET'
/** Values of `--output`. */
export const OUTPUT_FORMATS = ['pretty', 'json'] as const
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/** A usage mistake (unknown flag, missing required flag): exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** What a verb runs with: the streams and its full name (`entry create`) for messages. */
export interface VerbContext {
  readonly io: CliIo
  /** e.g. `entry create`; prefixes every error line. */
  readonly name: string
}

/** One verb of a command (`create` of `entry`), loaded lazily. */
export interface Verb {
  readonly summary: string
  readonly load: () => Promise<{ run(args: string[], ctx: VerbContext): Promise<number> }>
}

/**
 * A fresh option parser for one subcommand: its usage line and description; add its own
 * options, then {@link withAdminOptions}.
 *
 * @example
 * const options = () => withAdminOptions(commandJack('sigil-server entry count', 'Counts entries'))
 */
export function commandJack(usage: string, description: string): Jack {
  return jack({ allowPositionals: false, usage: `${usage} [options]` }).description(description)
}

/** Adds the options every admin subcommand takes. */
export function withAdminOptions<C extends ConfigSet>(j: Jack<C>) {
  return j
    .opt({
      'admin-socket': {
        hint: 'path',
        description: `Admin API Unix socket (default: $${ADMIN_SOCKET_ENV}, else ${DEFAULT_ADMIN_SOCKET})`,
      },
      output: {
        hint: 'format',
        default: 'pretty',
        validOptions: OUTPUT_FORMATS,
        description: 'pretty (human-readable) or json (one JSON document)',
      },
    })
    .flag({ help: { short: 'h', description: 'Print this help' } })
}

/** Parses `args`; a parse problem becomes a {@link UsageError}. */
export function parseOptions<C extends ConfigSet>(j: Jack<C>, args: string[]): OptionsResults<C> {
  try {
    return j.parse(args).values
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e))
  }
}

/** Throws a {@link UsageError} unless a required option has a value. */
export function required<T>(value: T | undefined, flag: string): T {
  if (
    value === undefined ||
    (typeof value === 'string' && value === '') ||
    (Array.isArray(value) && value.length === 0)
  ) {
    throw new UsageError(`${flag} is required`)
  }
  return value
}

/** The admin socket path: the flag, else `SIGIL_ADMIN_SOCKET`, else {@link DEFAULT_ADMIN_SOCKET}. */
export function adminSocketPath(flag: string | undefined, env: Record<string, string | undefined>): string {
  return resolve(flag || env[ADMIN_SOCKET_ENV] || DEFAULT_ADMIN_SOCKET)
}

/** Writes a result: `json` as one JSON document, `pretty` as the given text. */
export function printResult(io: CliIo, format: OutputFormat, json: unknown, pretty: () => string): void {
  if (format === 'json') io.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  else {
    const text = pretty()
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }
}

/**
 * Opens the admin client for the common options, runs `fn`, closes the client.
 *
 * @example
 * return withAdmin(ctx, v, async (admin, format) => { ... return EXIT_OK })
 */
export async function withAdmin(
  ctx: VerbContext,
  common: { readonly 'admin-socket'?: string | undefined; readonly output: string },
  fn: (admin: AdminClient, format: OutputFormat) => Promise<number>,
): Promise<number> {
  const admin = AdminClient.open(adminSocketPath(common['admin-socket'], ctx.io.env))
  try {
    return await fn(admin, common.output === 'json' ? 'json' : 'pretty')
  } finally {
    admin.close()
  }
}

/**
 * Runs a verb body with the one error rule: prints one line `sigil-server <name>: reason`
 * on stderr and returns the exit code for the failure.
 */
export async function guard(ctx: VerbContext, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    const line = message.split('\n')[0]?.trim() || 'failed'
    const hint = e instanceof UsageError ? ` (see 'sigil-server ${ctx.name} --help')` : ''
    ctx.io.stderr.write(`sigil-server ${ctx.name}: ${line}${hint}\n`)
    if (e instanceof UsageError || isSigilError(e)) return EXIT_USAGE
    if (e instanceof AdminCallError) return exitCodeForStatus(e.status)
    return EXIT_FAILED
  }
}

/**
 * Dispatches `<command> <verb> [options]` to a verb module, imported only when chosen.
 *
 * @example
 * export const run = (args: string[], io: CliIo) => runVerbs('agent', AGENT_VERBS, args, io)
 */
export async function runVerbs(
  command: string,
  verbs: Readonly<Record<string, Verb>>,
  args: string[],
  io: CliIo,
): Promise<number> {
  const [verb, ...rest] = args
  const list = () => {
    const width = Math.max(...Object.keys(verbs).map((v) => v.length))
    const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`)
    return `usage: sigil-server ${command} <${Object.keys(verbs).join('|')}> [options]\n\n${lines.join('\n')}\n\nRun 'sigil-server ${command} <verb> --help' for its options.\n`
  }
  if (verb === '--help' || verb === '-h' || verb === 'help') {
    io.stdout.write(list())
    return EXIT_OK
  }
  const chosen = verb === undefined ? undefined : Object.hasOwn(verbs, verb) ? verbs[verb] : undefined
  if (!verb || !chosen) {
    const what = verb ? `unknown verb "${verb.slice(0, 40)}"` : 'a verb is required'
    io.stderr.write(`sigil-server ${command}: ${what} (one of: ${Object.keys(verbs).join(', ')})\n`)
    return EXIT_USAGE
  }
  const module = await chosen.load()
  return module.run(rest, { io, name: `${command} ${verb}` })
}

/** Prints `--help` for a subcommand. */
export function printHelp(io: CliIo, j: { usage(): string }): number {
  io.stdout.write(`${j.usage()}\n`)
  return EXIT_OK
}
