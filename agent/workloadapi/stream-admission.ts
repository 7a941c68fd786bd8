/**
 * Admission of each new Workload API stream: the caller limits (caller-limits.ts) applied to it,
 * acted out on the connection's HTTP/2 session (holding a process back lowers the session's
 * SETTINGS_MAX_CONCURRENT_STREAMS) and reported through rate-limited log lines. A connection's
 * session is known from its first stream (grpc-js hands handlers no session; see
 * stream-backlog.ts's `http2StreamOf`); without it the limits still refuse, one stream at a time.
 */
import type { Http2Session } from 'node:http2'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { CallerLimits, type CallerLimitsOptions, REFUSALS_BEFORE_HOLD } from './caller-limits.js'
import type { RepeatedLogger } from './workload-api-handlers.js'

/** How to build a {@link StreamAdmission}. */
export interface StreamAdmissionOptions {
  readonly limits: CallerLimitsOptions
  /** The per-connection stream limit a held-back connection gets back. */
  readonly maxStreamsPerConnection: number
  readonly repeated: RepeatedLogger
  readonly logger: Pick<Log, 'debug'>
}

/**
 * The caller limits with their HTTP/2 and log effects.
 *
 * @example
 * const admission = new StreamAdmission({ limits: DEFAULT_CALLER_LIMITS, maxStreamsPerConnection: 100, repeated, logger })
 * admission.limits.admitConnection(key, peer)
 * const release = admission.admit(key, 'FetchX509SVID', http2StreamOf(call)?.session)
 */
export class StreamAdmission {
  readonly limits: CallerLimits
  readonly #opts: StreamAdmissionOptions
  readonly #sessions = new Map<string, Http2Session>()

  constructor(opts: StreamAdmissionOptions) {
    this.#opts = opts
    this.limits = new CallerLimits(opts.limits, { setStreamLimit: (key, n) => this.#setStreamLimit(key, n) })
  }

  /**
   * Counts one more stream on connection `key` (whose session is `session`, when reachable);
   * returns its release, or undefined when its process or uid is at its limit (logged).
   */
  admit(key: string, method: string, session: Http2Session | undefined): (() => void) | undefined {
    const { limits } = this
    const peer = limits.peerOf(key)
    if (session !== undefined && peer !== undefined && !this.#sessions.has(key)) {
      this.#sessions.set(key, session)
      if (limits.streamLimitOf(key) !== undefined) this.#setStreamLimit(key, limits.streamLimitOf(key))
    }
    const wasHeldBack = peer !== undefined && limits.isHeldBack(peer.pid)
    const release = limits.admitStream(key)
    if (release !== undefined) return release
    const per = limits.streamLimitReached(key) ?? 'process'
    const limit = per === 'uid' ? limits.limits.maxStreamsPerUid : limits.limits.maxStreamsPerProcess
    const fields = { pid: peer?.pid, uid: peer?.uid, method, limit, per }
    const { repeated } = this.#opts
    repeated.warn(
      `uid:${peer?.uid}`,
      fields,
      `Workload API stream refused: the ${per} is at its stream limit`,
    )
    if (!wasHeldBack && peer !== undefined && limits.isHeldBack(peer.pid)) {
      repeated.warn(
        `uid:${peer.uid}`,
        { ...fields, refused: REFUSALS_BEFORE_HOLD },
        'Workload API connections held back: the process keeps opening streams past its limit; its further streams wait in its own HTTP/2 client',
      )
    }
    return undefined
  }

  /** Forgets a closed connection (its counts and its session). Idempotent. */
  forget(key: string): void {
    this.#sessions.delete(key)
    this.limits.releaseConnection(key)
  }

  #setStreamLimit(key: string, limit: number | undefined): void {
    const session = this.#sessions.get(key)
    if (session === undefined || session.destroyed || session.closed) return
    try {
      session.settings({ maxConcurrentStreams: limit ?? this.#opts.maxStreamsPerConnection })
    } catch (err) {
      // e.g. a client that does not acknowledge SETTINGS: its streams are refused one by one
      this.#opts.logger.debug({ err: errorText(err) }, 'cannot change a connection stream limit')
    }
  }
}
