/**
 * `sigil-server run`: resolves the configuration and runs the server through the shared
 * daemon runner (`common/lifecycle/run-daemon.ts`): SIGTERM/SIGINT close it gracefully
 * (in-flight calls finish, the datastore is closed cleanly) and the process exits 0; exit 2
 * for configuration problems, 1 for any other fatal failure.
 */
import type { CliIo } from '../../../common/cli/cli-io.js'
import { runDaemon } from '../../../common/lifecycle/run-daemon.js'
import { loadServerConfig } from '../../config/load-server-config.js'
import { startServer } from '../../server.js'

/** Runs the server until a termination signal arrives. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runDaemon(io, {
    service: 'sigil-server',
    load: () => loadServerConfig(args, io.env),
    start: (config, logger) => startServer(config, { logger }),
  })
}
