/**
 * What every admin subcommand of `sigil-server` shares, on top of the shared `defineVerb`
 * (common/cli/define-verb.ts): the common options (declared once here: `--admin-socket`,
 * `--output`), the admin socket default, the admin client (opened on first use, closed after),
 * output in `pretty` or `json`, and the exit code of a refused call — 2 for usage errors,
 * invalid input (checked locally before anything is sent) and input the server rejects
 * (INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND); 1 for everything else.
 */
import { resolve } from 'node:path'
import type { ConfigSet, Jack, OptionsResults } from 'jackspeak'
import type { CliIo } from '../../common/cli/cli-io.js'
import { defineVerb } from '../../common/cli/define-verb.js'
import { printJson } from '../../common/cli/print-json.js'
import { AdminCallError, exitCodeForStatus } from './admin-call-error.js'
import type { AdminClient } from './admin-client.js'

/** The socket used when neither `--admin-socket` nor `SIGIL_ADMIN_SOCKET` is set (relative to the cwd). */
export const DEFAULT_ADMIN_SOCKET = './.sigil/server/private/admin.sock'
/** The environment variable naming the admin socket. */
export const ADMIN_SOCKET_ENV = 'SIGIL_ADMIN_SOCKET'
/** Values of `--output`. */
export const OUTPUT_FORMATS = ['pretty', 'json'] as const
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

/** What an admin verb's body runs with. */
export interface AdminVerbContext {
  readonly io: CliIo
  readonly format: OutputFormat
  /** The admin client for `--admin-socket` (opened on first use). */
  admin(): AdminClient
}

/** An admin verb's declaration. */
export interface AdminVerbSpec<C extends ConfigSet> {
  /** The command words: `sigil-server entry show`. */
  readonly usage: string
  readonly description: string
  /** Adds the verb's own options (each required one says "(required)"). */
  readonly options?: (j: Jack) => Jack<C>
  readonly required?: readonly string[]
  readonly run: (values: OptionsResults<C>, ctx: AdminVerbContext) => Promise<number>
}

/** Adds the options every admin subcommand takes. */
export function withAdminOptions<C extends ConfigSet>(j: Jack<C>) {
  return j.opt({
    'admin-socket': {
      hint: 'path',
      description: `Admin API Unix socket (default: $${ADMIN_SOCKET_ENV}, else ${DEFAULT_ADMIN_SOCKET})`,
    },
    output: {
      hint: 'format',
      default: 'pretty',
      validOptions: OUTPUT_FORMATS,
      description: 'pretty (human-readable) or json (one JSON document, 2-space indented)',
    },
  })
}

/**
 * An admin verb's `run(args, io)`.
 *
 * @example
 * export const run = adminVerb({ usage: 'sigil-server entry count', description: 'Counts entries.',
 *   run: async (_v, ctx) => { const { count } = await ctx.admin().call('CountEntries', {}); ... } })
 */
export function adminVerb<C extends ConfigSet>(spec: AdminVerbSpec<C>) {
  return defineVerb({
    usage: `${spec.usage} [options]`,
    description: spec.description,
    options: (j) => withAdminOptions(spec.options ? spec.options(j) : (j as unknown as Jack<C>)),
    ...(spec.required ? { required: spec.required } : {}),
    exitCodeFor: (e) => (e instanceof AdminCallError ? exitCodeForStatus(e.status) : undefined),
    run: async (values, io) => {
      // Loaded here, not on import: `--help` and usage errors answer without gRPC.
      const { AdminClient } = await import('./admin-client.js')
      let client: AdminClient | undefined
      const ctx: AdminVerbContext = {
        io,
        format: values.output === 'json' ? 'json' : 'pretty',
        admin: () => {
          client ??= AdminClient.open(adminSocketPath(values['admin-socket'] as string | undefined, io.env))
          return client
        },
      }
      try {
        return await spec.run(values as OptionsResults<C>, ctx)
      } finally {
        client?.close()
      }
    },
  })
}

/** The admin socket path: the flag, else `SIGIL_ADMIN_SOCKET`, else {@link DEFAULT_ADMIN_SOCKET}. */
export function adminSocketPath(flag: string | undefined, env: Record<string, string | undefined>): string {
  return resolve(flag || env[ADMIN_SOCKET_ENV] || DEFAULT_ADMIN_SOCKET)
}

/** Writes a result: `json` as one JSON document (see printJson), `pretty` as the given text. */
export function printResult(io: CliIo, format: OutputFormat, json: unknown, pretty: () => string): void {
  if (format === 'json') printJson(io, json)
  else {
    const text = pretty()
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }
}
