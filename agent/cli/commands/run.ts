/**
 * `sigil-agent run`: resolves the configuration, starts the agent, and stops it on SIGTERM or
 * SIGINT (through `termination.ts`). An insecure bootstrap is announced loudly on stderr, as is a
 * join token file other users can read; a join token given as a flag is refused (exit 2). Exit
 * codes: 0 after a requested stop, 2 for configuration problems (also when the agent stops
 * because it needs a new credential), 1 for any other fatal failure.
 */
import { isSigilError } from '../../../certs/errors.js'
import { startAgent } from '../../agent.js'
import { loadAgentConfig } from '../../config/load-agent-config.js'
import { createLogger } from '../../logging/logger.js'
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../run-cli.js'
import { terminationSignal } from '../termination.js'

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
export async function run(args: string[], io: CliIo): Promise<number> {
  let loaded: ReturnType<typeof loadAgentConfig>
  try {
    loaded = loadAgentConfig(args, io.env)
  } catch (e) {
    io.stderr.write(`sigil-agent run: ${(e as Error).message}\n`)
    return EXIT_USAGE
  }
  if (loaded.kind === 'help') {
    io.stdout.write(`${loaded.text}\n`)
    return EXIT_OK
  }
  const { config } = loaded
  if (config.insecureBootstrap) io.stderr.write(`${INSECURE_WARNING}\n`)
  for (const warning of loaded.warnings) io.stderr.write(`WARNING: ${warning}\n`)
  const logger = createLogger(config.logLevel)
  const { signal, dispose } = terminationSignal(io)
  try {
    let agent: Awaited<ReturnType<typeof startAgent>>
    try {
      agent = await startAgent(config, { logger })
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'sigil-agent failed to start')
      io.stderr.write(`sigil-agent run: ${(e as Error).message}\n`)
      return isSigilError(e, 'ERR_CONFIG_INVALID') ? EXIT_USAGE : EXIT_FAILED
    }
    const stop = () => {
      logger.info({ signal: String(signal.reason ?? 'abort') }, 'shutting down')
      void agent.close()
    }
    if (signal.aborted) stop()
    else signal.addEventListener('abort', stop, { once: true })
    const error = await agent.stopped
    signal.removeEventListener('abort', stop)
    if (error) {
      io.stderr.write(`sigil-agent run: ${error.message}\n`)
      return isSigilError(error, 'ERR_CONFIG_INVALID') ? EXIT_USAGE : EXIT_FAILED
    }
    logger.info({}, 'sigil-agent stopped')
    return EXIT_OK
  } finally {
    dispose()
  }
}
