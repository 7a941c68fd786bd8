/**
 * Collapses repeated log lines: the first line of a (message, key) pair is written at once; the
 * same pair again within the window is only counted, and when the window ends one more line
 * says how many were suppressed (`suppressed: N`). Meant for lines a caller can provoke once
 * per request (a refused stream, a caller with no identity), so a flood of requests cannot
 * become a flood of log. Trust: the key is chosen by the agent (a uid, a pid), never by the
 * caller's bytes; the number of keys is capped, past the cap every key shares one bucket.
 */

/** The logger calls the limiter makes (pino-compatible). */
export interface LimitedLogger {
  warn(obj: object, msg: string): void
  info(obj: object, msg: string): void
}

/** How to build a {@link LogRateLimiter}. */
export interface LogRateLimiterOptions {
  readonly logger: LimitedLogger
  /** How long repeats of a line are collapsed; default 10 s. */
  readonly windowMs?: number
  /** Most (message, key) pairs tracked at once; past it all pairs of a message share one; default 1024. */
  readonly maxKeys?: number
  /** Seam for tests: schedules `fn` after `ms` (default an unref'd setTimeout); returns a canceller. */
  readonly schedule?: (fn: () => void, ms: number) => () => void
}

interface Window {
  readonly level: 'warn' | 'info'
  readonly msg: string
  readonly obj: object
  suppressed: number
  readonly cancel: () => void
}

const OVERFLOW_KEY = '\u0000overflow'

/**
 * Rate-limited warn/info lines.
 *
 * @example
 * const limited = new LogRateLimiter({ logger })
 * limited.warn(`uid:${uid}`, { pid, uid }, 'Workload API stream refused')
 * // later, at shutdown
 * limited.close()
 */
export class LogRateLimiter {
  readonly #logger: LimitedLogger
  readonly #windowMs: number
  readonly #maxKeys: number
  readonly #schedule: (fn: () => void, ms: number) => () => void
  readonly #open = new Map<string, Window>()

  constructor(opts: LogRateLimiterOptions) {
    this.#logger = opts.logger
    this.#windowMs = opts.windowMs ?? 10_000
    this.#maxKeys = opts.maxKeys ?? 1024
    if (!(this.#windowMs > 0)) throw new TypeError('windowMs must be positive')
    this.#schedule =
      opts.schedule ??
      ((fn, ms) => {
        const timer = setTimeout(fn, ms)
        timer.unref()
        return () => clearTimeout(timer)
      })
  }

  /** Writes `msg` at warn level unless the same (msg, key) was written within the window. */
  warn(key: string, obj: object, msg: string): void {
    this.#log('warn', key, obj, msg)
  }

  /** Writes `msg` at info level unless the same (msg, key) was written within the window. */
  info(key: string, obj: object, msg: string): void {
    this.#log('info', key, obj, msg)
  }

  /** Number of (message, key) pairs inside their window. */
  get tracked(): number {
    return this.#open.size
  }

  /** Writes the pending "suppressed" lines now and stops every window. */
  close(): void {
    for (const [id, w] of [...this.#open]) {
      w.cancel()
      this.#end(id, w)
    }
  }

  #log(level: 'warn' | 'info', key: string, obj: object, msg: string): void {
    let id = `${msg}\u0000${key}`
    if (!this.#open.has(id) && this.#open.size >= this.#maxKeys) id = `${msg}\u0000${OVERFLOW_KEY}`
    const open = this.#open.get(id)
    if (open !== undefined) {
      open.suppressed += 1
      return
    }
    this.#logger[level](obj, msg)
    const w: Window = {
      level,
      msg,
      obj,
      suppressed: 0,
      cancel: this.#schedule(() => this.#end(id, w), this.#windowMs),
    }
    this.#open.set(id, w)
  }

  #end(id: string, w: Window): void {
    if (this.#open.get(id) !== w) return
    this.#open.delete(id)
    if (w.suppressed > 0) {
      this.#logger[w.level]({ ...w.obj, suppressed: w.suppressed, window_ms: this.#windowMs }, w.msg)
    }
  }
}
