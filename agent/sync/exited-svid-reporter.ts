/**
 * Reports the X509-SVIDs of `--revoke-on-exit` entries whose process exited to the server
 * (RevokeExitedSvids), which revokes those it issued to this agent. Reports are queued and sent
 * in calls of at most {@link MAX_SERIALS_PER_CALL}; a failed call keeps its serials and is tried
 * again after `retryMs` (they are dropped once expired: an expired SVID needs no revocation).
 * What the server refuses is its decision (logged there); the agent logs the count.
 */
import { codedErrorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { RevokeExitedSvidsRequest } from '../../proto/generated/sigil/agent/v1/RevokeExitedSvidsRequest.js'
import type { RevokeExitedSvidsResponse__Output } from '../../proto/generated/sigil/agent/v1/RevokeExitedSvidsResponse.js'

/** The server accepts at most this many serials per call. */
export const MAX_SERIALS_PER_CALL = 1000

/** The server call used. */
export interface ExitedSvidServer {
  revokeExitedSvids(req: RevokeExitedSvidsRequest): Promise<RevokeExitedSvidsResponse__Output>
}

/** How to build an {@link ExitedSvidReporter}. */
export interface ExitedSvidReporterOptions {
  readonly server: () => ExitedSvidServer
  readonly logger: Log
  readonly clock: () => Date
  /** Pause before retrying a failed report (default 2000 ms). */
  readonly retryMs?: number
}

/**
 * Queues exited processes' serials and sends them to the server.
 *
 * @example
 * const reporter = new ExitedSvidReporter({ server: () => client, logger, clock })
 * cache.onExitedSvids((svids) => reporter.report(svids))
 */
export class ExitedSvidReporter {
  readonly #o: ExitedSvidReporterOptions
  /** serial → notAfter, waiting to be sent. */
  readonly #pending = new Map<string, Date>()
  #sending = false
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(opts: ExitedSvidReporterOptions) {
    this.#o = opts
  }

  /** Serials waiting to be sent. */
  get pending(): number {
    return this.#pending.size
  }

  /** Queues serials and sends them (now, or after the call in flight). */
  report(svids: readonly { serial: string; notAfter: Date }[]): void {
    if (this.#closed) return
    for (const s of svids) this.#pending.set(s.serial, s.notAfter)
    void this.#flush()
  }

  /** Stops retrying; what is pending is dropped. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#pending.clear()
  }

  async #flush(): Promise<void> {
    if (this.#sending || this.#closed) return
    this.#sending = true
    try {
      while (this.#pending.size > 0 && !this.#closed) {
        const now = this.#o.clock().getTime()
        for (const [serial, notAfter] of this.#pending)
          if (notAfter.getTime() <= now) this.#pending.delete(serial)
        const batch = [...this.#pending.keys()].slice(0, MAX_SERIALS_PER_CALL)
        if (batch.length === 0) break
        try {
          const res = await this.#o.server().revokeExitedSvids({ serials: batch })
          for (const s of batch) this.#pending.delete(s)
          this.#o.logger.info(
            { revoked: res.revoked.length, refused: res.refused.length },
            'reported X509-SVIDs of exited processes',
          )
        } catch (err) {
          this.#o.logger.warn(
            { pending: this.#pending.size, err: codedErrorText(err) },
            'could not report X509-SVIDs of exited processes; will retry',
          )
          if (!this.#timer) {
            this.#timer = setTimeout(() => {
              this.#timer = undefined
              void this.#flush()
            }, this.#o.retryMs ?? 2000)
            this.#timer.unref()
          }
          return
        }
      }
    } finally {
      this.#sending = false
    }
  }
}
