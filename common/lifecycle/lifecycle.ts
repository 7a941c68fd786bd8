/**
 * One daemon's lifetime (STYLE habit 9): components register how to close as they start,
 * background tasks run under one AbortSignal, the first fatal failure stops everything, and
 * closing runs in reverse order of start. Used by the composition roots `server/server.ts` and
 * `agent/agent.ts`.
 */
import { errorText } from '../errors/error-text.js'
import type { Log } from '../logging/logger.js'

/**
 * The lifetime of one running daemon.
 *
 * @example
 * const life = new Lifecycle(log)
 * const store = await open(); life.onClose('datastore', () => store.close())
 * life.background('ca-rotation', ca.run(life.signal))
 * await life.stopped // undefined after close(), the error after a fatal failure
 */
export class Lifecycle {
  readonly #log: Log
  readonly #controller = new AbortController()
  readonly #closers: { name: string; close: () => Promise<void> | void }[] = []
  readonly #tasks: Promise<void>[] = []
  #closing: Promise<void> | undefined
  #resolveStopped: (error: Error | undefined) => void = () => {}
  /** Resolves once everything is closed: `undefined` after {@link close}, the error after {@link fail}. */
  readonly stopped: Promise<Error | undefined>

  constructor(log: Log) {
    this.#log = log
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve
    })
  }

  /** Aborts when the daemon starts closing; pass it to every background task. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Registers how to close a started component (closed in reverse order of registration). */
  onClose(name: string, close: () => Promise<void> | void): void {
    this.#closers.push({ name, close })
  }

  /** Tracks a background task; if it rejects, the daemon logs `message` and stops with that error. */
  background(name: string, task: Promise<void>, message = 'fatal failure; stopping'): void {
    this.#tasks.push(
      task.catch((err) => {
        if (this.signal.aborted) return
        this.#log.error({ err: errorText(err), component: name }, message)
        void this.fail(err instanceof Error ? err : new Error(errorText(err)))
      }),
    )
  }

  /** Stops the daemon because of a fatal error (resolves {@link stopped} with it). */
  fail(error: Error): Promise<void> {
    return this.#shutdown(error)
  }

  /** Stops the daemon on request: aborts the signal, closes in reverse order, waits for tasks. */
  close(): Promise<void> {
    return this.#shutdown(undefined)
  }

  #shutdown(error: Error | undefined): Promise<void> {
    this.#closing ??= (async () => {
      this.#controller.abort()
      for (const c of this.#closers.reverse()) {
        try {
          await c.close()
        } catch (err) {
          this.#log.error({ err: errorText(err), component: c.name }, 'component failed to close')
        }
      }
      this.#closers.length = 0
      await Promise.allSettled(this.#tasks)
      this.#resolveStopped(error)
    })()
    return this.#closing
  }
}
