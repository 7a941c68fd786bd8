/**
 * `sigil-agent run`: resolves the configuration, starts the agent, and stops it on SIGTERM or
 * SIGINT (through the shared `common/lifecycle/run-daemon.ts`). An insecure bootstrap is announced loudly on stderr, as is a
 * join token file other users can read; a join token given as a flag is refused (exit 2). Exit
 * codes: 0 after a requested stop, 2 for configuration problems (also when the agent stops
 * because it needs a new credential), 1 for any other fatal failure. The agent itself is
 * imported only once the configuration is valid, so `run --help` and a bad flag answer without
 * loading it.
 */
import type { CliIo } from '../../../common/cli/cli-io.js'
import { runDaemon } from '../../../common/lifecycle/run-daemon.js'
import { loadAgentConfig } from '../../config/load-agent-config.js'

const INSECURE_WARNING = [
  '',
  '**********************************************************************',
  '*  WARNING: --insecure-bootstrap is set. The agent will NOT verify   *',
  '*  the server on first contact: anyone on the network path can      *',
  '*  impersonate it and receive the node credential. Use it only for  *',
  "*  local development; give --trust-bundle (from 'sigil-server       *",
  "*  bundle show') everywhere else.                                   *",
  '**********************************************************************',
  '',
].join('\n')

/** Runs the agent until a termination signal arrives. */
export function run(args: string[], io: CliIo): Promise<number> {
  let warnings: readonly string[] = []
  return runDaemon(io, {
    service: 'sigil-agent',
    load: () => {
      const loaded = loadAgentConfig(args, io.env)
      if (loaded.kind === 'config') warnings = loaded.warnings
      return loaded
    },
    warnings: (config) => [
      ...(config.insecureBootstrap ? [INSECURE_WARNING] : []),
      ...warnings.map((w) => `WARNING: ${w}`),
    ],
    start: async (config, logger) => (await import('../../agent.js')).startAgent(config, { logger }),
  })
}
