/**
 * `sigil-server run`: resolves the configuration, starts the server, and owns signal
 * handling — SIGTERM/SIGINT close the server gracefully (in-flight calls finish, the
 * datastore is closed cleanly) and the process exits 0.
 */
import { isSigilError } from '../../../certs/errors.js'
import { loadServerConfig } from '../../config/load-server-config.js'
import { createLogger } from '../../logging/logger.js'
import { startServer } from '../../server.js'
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../run-cli.js'

/** Runs the server until a termination signal arrives. */
export async function run(args: string[], io: CliIo): Promise<number> {
  let loaded: ReturnType<typeof loadServerConfig>
  try {
    loaded = loadServerConfig(args, io.env)
  } catch (e) {
    io.stderr.write(`sigil-server run: ${firstLine(e)}\n`)
    return EXIT_USAGE
  }
  if (loaded.kind === 'help') {
    io.stdout.write(`${loaded.text}\n`)
    return EXIT_OK
  }
  const logger = createLogger(loaded.config.logLevel)
  let server: Awaited<ReturnType<typeof startServer>>
  try {
    server = await startServer(loaded.config, { logger })
  } catch (e) {
    logger.error({ err: e }, 'sigil-server failed to start')
    io.stderr.write(`sigil-server run: ${firstLine(e)}\n`)
    return isSigilError(e, 'ERR_CONFIG_INVALID') ? EXIT_USAGE : EXIT_FAILED
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down')
    void server.close()
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
  await server.stopped
  logger.info({}, 'sigil-server stopped')
  return EXIT_OK
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''
}
