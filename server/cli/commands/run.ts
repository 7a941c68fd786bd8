/**
 * `sigil-server run`: resolves the configuration and runs the server through the shared
 * daemon runner (`common/lifecycle/run-daemon.ts`): SIGTERM/SIGINT close it gracefully
 * (in-flight calls finish, the datastore is closed cleanly) and the process exits 0; exit 2
 * for configuration problems, 1 for any other fatal failure. The server itself (CA, datastore,
 * endpoints) is imported only once the configuration is valid, so `run --help` and a bad flag
 * answer without loading it.
 */
import type { CliIo } from '../../../common/cli/cli-io.js'
import { runDaemon } from '../../../common/lifecycle/run-daemon.js'
import { loadServerConfig } from '../../config/load-server-config.js'

/** Runs the server until a termination signal arrives. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runDaemon(io, {
    service: 'sigil-server',
    load: () => loadServerConfig(args, io.env),
    start: async (config, logger) => (await import('../../server.js')).startServer(config, { logger }),
  })
}
