/**
 * What `sigil-server run` and `sigil-agent run` share: resolve the configuration (exit 2 on a
 * problem), create the logger, start the daemon, stop it on SIGTERM/SIGINT (through
 * `terminationSignal`), and turn the way it stopped into an exit code — 0 after a requested
 * stop, 2 for configuration problems (`ERR_CONFIG_INVALID`), 1 for any other fatal failure.
 */
import { isSigilError } from '../../certs/errors.js'
import { type CliIo, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../cli/cli-io.js'
import { terminationSignal } from '../cli/termination-signal.js'
import { errorText, firstLine } from '../errors/error-text.js'
import type { Logger } from '../logging/logger.js'

/** A started daemon as the run command sees it. */
export interface RunningDaemon {
  /** Resolves once stopped: nothing after close(), the error after a fatal failure. */
  readonly stopped: Promise<Error | undefined>
  close(): Promise<void>
}

/** A daemon's declaration for {@link runDaemon}. */
export interface DaemonSpec<C extends { readonly logLevel: string }> {
  /** `sigil-server` or `sigil-agent`. */
  readonly service: string
  /** Parses flags, env and file; throws for a bad configuration. */
  readonly load: () => { kind: 'help'; text: string } | { kind: 'config'; config: C }
  /** Announcements on stderr before starting (insecure choices). */
  readonly warnings?: (config: C) => readonly string[]
  readonly start: (config: C, logger: Logger) => Promise<RunningDaemon>
}

const exitCodeFor = (e: unknown) => (isSigilError(e, 'ERR_CONFIG_INVALID') ? EXIT_USAGE : EXIT_FAILED)

/**
 * Runs a daemon until a termination signal or a fatal failure; returns the exit code.
 *
 * @example
 * return runDaemon(io, { service: 'sigil-agent', load: () => loadAgentConfig(args, io.env), start: (c, logger) => startAgent(c, { logger }) })
 */
export async function runDaemon<C extends { readonly logLevel: string }>(
  io: CliIo,
  spec: DaemonSpec<C>,
): Promise<number> {
  const prefix = `${spec.service} run`
  let loaded: ReturnType<DaemonSpec<C>['load']>
  try {
    loaded = spec.load()
  } catch (e) {
    io.stderr.write(`${prefix}: ${firstLine(e)}\n`)
    return EXIT_USAGE
  }
  if (loaded.kind === 'help') {
    io.stdout.write(`${loaded.text}\n`)
    return EXIT_OK
  }
  const { config } = loaded
  for (const warning of spec.warnings?.(config) ?? []) io.stderr.write(`${warning}\n`)
  // Imported here, not at the top: `run --help` and a bad flag answer without loading pino.
  const { createLogger } = await import('../logging/logger.js')
  const logger = createLogger(spec.service, config.logLevel)
  const { signal, dispose } = terminationSignal(io)
  try {
    let daemon: RunningDaemon
    try {
      daemon = await spec.start(config, logger)
    } catch (e) {
      logger.error({ err: errorText(e) }, `${spec.service} failed to start`)
      io.stderr.write(`${prefix}: ${firstLine(e)}\n`)
      return exitCodeFor(e)
    }
    const stop = () => {
      logger.info({ signal: String(signal.reason ?? 'abort') }, 'shutting down')
      void daemon.close()
    }
    if (signal.aborted) stop()
    else signal.addEventListener('abort', stop, { once: true })
    const error = await daemon.stopped
    signal.removeEventListener('abort', stop)
    if (error) {
      io.stderr.write(`${prefix}: ${firstLine(error)}\n`)
      return exitCodeFor(error)
    }
    logger.info({}, `${spec.service} stopped`)
    return EXIT_OK
  } finally {
    dispose()
  }
}
