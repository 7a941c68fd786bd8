/**
 * The one place the CLIs handle termination signals: long-running commands (`run`,
 * `api watch`) get an AbortSignal that fires on SIGTERM or SIGINT, or the caller's own signal
 * (tests pass one in `CliIo`).
 */
import type { CliIo } from './cli-io.js'

/**
 * An AbortSignal for "stop now", and a function to remove the process listeners.
 *
 * @example
 * const { signal, dispose } = terminationSignal(io)
 * try { await work(signal) } finally { dispose() }
 */
export function terminationSignal(io: CliIo): { signal: AbortSignal; dispose: () => void } {
  if (io.signal) return { signal: io.signal, dispose: () => {} }
  const controller = new AbortController()
  const handlers = (['SIGTERM', 'SIGINT'] as const).map((name) => {
    const handler = () => controller.abort(name)
    process.once(name, handler)
    return [name, handler] as const
  })
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.removeListener(name, handler)
    },
  }
}
