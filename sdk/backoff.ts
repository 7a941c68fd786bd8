/**
 * The reconnect delay of Workload API watches: exponential, 1 s doubling up to 30 s, reset
 * after every good message (between go-spiffe's linear 1..30 s and java-spiffe's 1..60 s
 * exponential, SPIFFE.md §5.5). No jitter: one workload reconnects to one local agent.
 */

/** Delays for {@link Backoff}, in milliseconds. */
export interface BackoffOptions {
  /** First delay; default 1000. */
  readonly initialMs?: number
  /** Largest delay; default 30000. */
  readonly maxMs?: number
}

/** Default first delay (ms). */
export const DEFAULT_BACKOFF_INITIAL_MS = 1_000
/** Default largest delay (ms). */
export const DEFAULT_BACKOFF_MAX_MS = 30_000

/**
 * A doubling delay with a cap.
 *
 * @example
 * const b = new Backoff()
 * b.next() // 1000, then 2000, 4000 … 30000
 * b.reset() // after a good message
 */
export class Backoff {
  readonly initialMs: number
  readonly maxMs: number
  #next: number

  constructor(opts: BackoffOptions = {}) {
    const initialMs = opts.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS
    const maxMs = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS
    if (!Number.isFinite(initialMs) || initialMs <= 0)
      throw new TypeError('initialMs must be a positive number')
    if (!Number.isFinite(maxMs) || maxMs < initialMs)
      throw new TypeError('maxMs must be a number ≥ initialMs')
    this.initialMs = initialMs
    this.maxMs = maxMs
    this.#next = initialMs
  }

  /** The delay to wait now; the following one doubles, up to the cap. */
  next(): number {
    const delay = this.#next
    this.#next = Math.min(this.#next * 2, this.maxMs)
    return delay
  }

  /** Starts over at the first delay. */
  reset(): void {
    this.#next = this.initialMs
  }
}
