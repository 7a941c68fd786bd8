/**
 * Keeps the server's push stream (WatchAgentUpdates) open: subscribe, apply every revocation
 * piece to the agent's {@link RevocationSet}, and reconnect with jittered exponential backoff
 * (from `initialBackoffMs`, reset after a stream that delivered something, up to
 * `maxBackoffMs`) when the stream breaks. The periodic sync stays the fallback, so a lost stream
 * costs at most one sync interval. Never throws; logs the first failure of a run and recovery.
 * With several servers the connection opens each stream to the server its calls go to, and marks
 * a server that broke the stream down, so the reconnection reaches another server. Nudges
 * (`entries_changed`, `bundle_changed`: something changed at the server) go to `onSyncNudge`,
 * which asks the sync loop for a round at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { retryDelayMs } from '../../common/loop/backoff.js'
import type { RevocationSet } from '../cache/revocation-set.js'
import type { TaintedAuthorities } from '../cache/tainted-authorities.js'
import type { AgentIdentity } from './agent-identity.js'
import type { SyncNudge } from './server-client.js'

/** A pushed policy (issue 14). */
export interface PushedPolicy {
  readonly version: number
  readonly text: string
  readonly sha256: string
}

/** The part of the server client the watch uses. */
export interface UpdateConnection {
  readonly identity: AgentIdentity | undefined
  watchUpdates(
    target: Pick<RevocationSet, 'apply' | 'setCrls'> & {
      setPolicy?: (p: PushedPolicy) => void
      setTainted?(x509: readonly string[], jwt: readonly string[]): void
      nudge?(nudge: SyncNudge): void
    },
    signal: AbortSignal,
  ): Promise<'moved' | undefined>
}

/** How to build an {@link AgentUpdateWatch}. */
export interface AgentUpdateWatchOptions {
  readonly connection: UpdateConnection
  readonly revocations: RevocationSet
  /** Where pushed policies go (agent/policy's `AgentPolicy.apply`); absent: ignored. */
  readonly onPolicy?: (p: PushedPolicy) => void
  /** Where pushed taint updates go (`localauthority taint`); ignored without it. */
  readonly tainted?: TaintedAuthorities
  /** Where nudges go (the sync loop's `syncSoon`); ignored without it. */
  readonly onSyncNudge?: (nudge: SyncNudge) => void
  readonly logger: Log
  /** First pause after a broken stream (default 250 ms). */
  readonly initialBackoffMs?: number
  /** Longest pause (default 30 s). */
  readonly maxBackoffMs?: number
  /** In [0, 1); injectable for tests. */
  readonly random?: () => number
}

/** The push stream's state, for health and tests. */
export interface UpdateWatchHealth {
  readonly connected: boolean
  readonly consecutiveFailures: number
  readonly lastError: string | undefined
}

/**
 * Runs the push stream.
 *
 * @example
 * const watch = new AgentUpdateWatch({ connection: client, revocations, logger })
 * life.background('agent-updates', watch.run(life.signal))
 */
export class AgentUpdateWatch {
  readonly #opts: AgentUpdateWatchOptions
  #connected = false
  #failures = 0
  #lastError: string | undefined

  constructor(opts: AgentUpdateWatchOptions) {
    this.#opts = opts
  }

  health(): UpdateWatchHealth {
    return { connected: this.#connected, consecutiveFailures: this.#failures, lastError: this.#lastError }
  }

  /** Runs until `signal` aborts; never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const { connection, revocations, logger } = this.#opts
    const initial = this.#opts.initialBackoffMs ?? 250
    const max = this.#opts.maxBackoffMs ?? 30_000
    const random = this.#opts.random ?? Math.random
    while (!signal.aborted) {
      if (connection.identity === undefined) {
        // not attested yet: the sync loop attests first
        if (!(await pause(initial, signal))) return
        continue
      }
      let received = false
      try {
        const delivered = () => {
          if (!received && this.#failures > 0) {
            logger.info({ failures: this.#failures }, 'agent update stream recovered')
          }
          received = true
          this.#connected = true
          this.#failures = 0
          this.#lastError = undefined
        }
        const ended = await connection.watchUpdates(
          {
            apply: (piece) => {
              delivered()
              revocations.apply(piece)
            },
            setCrls: (crls, digest) => {
              delivered()
              revocations.setCrls(crls, digest)
            },
            setPolicy: (p) => {
              delivered()
              this.#opts.onPolicy?.(p)
            },
            setTainted: (x509, jwt) => {
              delivered()
              this.#opts.tainted?.set(x509, jwt)
            },
            nudge: (nudge) => {
              delivered()
              this.#opts.onSyncNudge?.(nudge)
            },
          },
          signal,
        )
        if (signal.aborted) return
        if (ended === 'moved') {
          // a preferred server is back: reopen there at once, nothing failed
          this.#connected = false
          logger.debug({}, 'agent update stream moving to a preferred server')
          continue
        }
        this.#lastError = 'the server ended the stream'
      } catch (err) {
        if (signal.aborted) return
        this.#lastError = errorText(err)
      }
      this.#connected = false
      this.#failures = received ? 1 : this.#failures + 1
      logger[this.#failures === 1 ? 'warn' : 'debug'](
        { err: this.#lastError, failures: this.#failures },
        'agent update stream broken; reconnecting (the periodic sync covers the gap)',
      )
      if (!(await pause(retryDelayMs(this.#failures, initial, max, random()), signal))) return
    }
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}
