/**
 * When the issuance loop runs (internal to agent/cache/): a kick starts a round on the next turn
 * of the event loop, so that everything that asks meanwhile goes out together, and a round that
 * ends with failed SVIDs waiting for their backoff is started again at the earliest retry time.
 */
import { runIssuanceRound, type SvidRotator } from './svid-rotator.js'

/** @internal Starts issuance rounds for one cache. */
export class IssuanceScheduler {
  readonly #rotator: SvidRotator
  #scheduled = false
  #retryTimer: NodeJS.Timeout | undefined

  constructor(rotator: SvidRotator) {
    this.#rotator = rotator
  }

  /** Starts an issuance round soon (or wakes the running one); does nothing once the rotator is closed. */
  kick(): void {
    if (this.#scheduled || this.#rotator.closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void runIssuanceRound(this.#rotator).then((nextRetryAt) => this.#scheduleRetry(nextRetryAt))
    })
  }

  /** Cancels a pending retry (the caller marks the rotator closed). */
  close(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
  }

  #scheduleRetry(at: number | undefined): void {
    if (at === undefined || this.#rotator.closed) return
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    const delay = Math.max(0, at - this.#rotator.cfg.clock().getTime())
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      this.kick()
    }, delay)
    this.#retryTimer.unref()
  }
}
