/**
 * `sigil-server logger get|set|reset`: the running server's log level (SPIRE's `logger`).
 * `set --level debug|info|warn|error` changes it until `reset` or a restart; `reset` goes back
 * to the configured `--log-level`. The agent has no admin socket, so it has no `logger`.
 */
import { type CliCommand, EXIT_OK, UsageError } from '../../../common/cli/cli-io.js'
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'
import { adminVerb, printResult } from '../admin-verb.js'

const LEVELS = ['debug', 'info', 'warn', 'error'] as const

function show(res: { current_level: string; launch_level: string }): string {
  return `Logger Level : ${res.current_level}\nLaunch Level : ${res.launch_level}\n`
}

const get = adminVerb({
  usage: 'sigil-server logger get',
  description: "Prints the running server's log level and the configured one.",
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('GetLogger', {})
    printResult(ctx.io, ctx.format, res, () => show(res))
    return EXIT_OK
  },
})

const set = adminVerb({
  usage: 'sigil-server logger set',
  description: "Changes the running server's log level (until reset or restart).",
  options: (j) =>
    j.opt({
      level: { hint: 'level', validOptions: LEVELS, description: 'debug, info, warn or error (required)' },
    }),
  run: async (v, ctx) => {
    if (!v.level) throw new UsageError('--level is required')
    const res = await ctx.admin().call('SetLogLevel', { level: v.level })
    printResult(ctx.io, ctx.format, res, () => show(res))
    return EXIT_OK
  },
})

const reset = adminVerb({
  usage: 'sigil-server logger reset',
  description: 'Sets the log level back to the configured one.',
  run: async (_v, ctx) => {
    const res = await ctx.admin().call('ResetLogLevel', {})
    printResult(ctx.io, ctx.format, res, () => show(res))
    return EXIT_OK
  },
})

const command = (run: CliCommand['run']) => async () => ({ run })
const VERBS: Record<string, CommandEntry> = {
  get: { summary: 'Print the log level', load: command(get) },
  set: { summary: 'Set the log level (--level)', load: command(set) },
  reset: { summary: 'Back to the configured log level', load: command(reset) },
}

/** Runs `sigil-server logger <verb>`. */
export const run = createCli({ name: 'sigil-server logger', kind: 'verbs', commands: VERBS })
