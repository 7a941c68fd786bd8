/**
 * The agent's sync loop (SPIRE's manager sync, SPIFFE.md §6): every `intervalMs` (±10 %) it
 * renews the agent SVID when due (at `rotationFraction` of its life left, ±10 %) and fetches the
 * authorized entries and bundles, handing each complete state to the cache. On failure it backs
 * off exponentially with jitter up to min(4 min, 48 × interval). A refusal (`ERR_NOT_AUTHORIZED`:
 * evicted, banned, stale SVID) goes to `onRefused`, which re-attests or stops the agent. The
 * loop never throws: it logs, counts failures and reports its health. A server nudge (entries or
 * bundle changed, pushed on the update stream) asks for a round at once ({@link SyncLoop.syncSoon});
 * rounds never overlap, and a burst of nudges costs at most one round in flight plus one queued
 * (`coalesced-run.ts`).
 */
import { isSigilError, type SigilError } from '../../certs/errors.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'
import type { AuthorizedState } from '../cache/authorized-state.js'
import { renewalTime, shouldRenew } from '../cache/rotation-policy.js'
import type { AgentIdentity } from './agent-identity.js'
import { CoalescedRun } from './coalesced-run.js'

/** Default time between syncs. */
export const DEFAULT_SYNC_INTERVAL_MS = 5_000
/** Longest pause after failures, whatever the interval. */
export const MAX_SYNC_BACKOFF_MS = 4 * 60_000
/** The pause after failures never exceeds this many intervals. */
export const MAX_BACKOFF_INTERVALS = 48
/** Steady-state jitter of the interval (±). */
export const SYNC_JITTER = 0.1

/** The longest pause after failures for an interval: min(4 min, 48 × interval). */
export function maxSyncBackoffMs(intervalMs: number): number {
  return Math.min(MAX_SYNC_BACKOFF_MS, MAX_BACKOFF_INTERVALS * intervalMs)
}

/** The part of the server client the loop uses. */
export interface SyncConnection {
  readonly identity: AgentIdentity | undefined
  renew(): Promise<AgentIdentity>
  syncAuthorizedEntries(): Promise<AuthorizedState>
}

/** Everything the loop needs. */
export interface SyncLoopOptions {
  readonly connection: SyncConnection
  /** Receives every successfully synced state (the cache's `update`). */
  readonly onState: (state: AuthorizedState) => void | Promise<void>
  /** True when the agent SVID was signed by a tainted authority: it is renewed at once. */
  readonly isTainted?: (identity: AgentIdentity) => boolean
  /** Called after each renewal (to persist the new SVID). */
  readonly onRenewed?: (identity: AgentIdentity) => void | Promise<void>
  /** Called when the server refuses the agent; re-attest (resolve) or give up (throw). */
  readonly onRefused?: (error: SigilError) => Promise<void>
  readonly intervalMs?: number
  readonly rotationFraction?: number
  readonly logger: Log
  readonly clock?: () => Date
  /** In [0, 1); injectable for tests. */
  readonly random?: () => number
  /** Told after each sync call to the server (metrics): seconds it took and whether it succeeded. */
  readonly onSynced?: (seconds: number, ok: boolean) => void
}

/** The loop's health, for the health check and logs. */
export interface SyncHealth {
  readonly lastSuccess: Date | undefined
  readonly consecutiveFailures: number
  readonly lastError: string | undefined
}

/**
 * Keeps the agent in sync with the server.
 *
 * @example
 * const loop = new SyncLoop({ connection: client, onState: (s) => cache.update(s), logger })
 * void loop.run(signal)
 * await loop.firstSync
 */
export class SyncLoop {
  /** Resolves after the first successful sync. */
  readonly firstSync: Promise<void>
  readonly #opts: SyncLoopOptions
  readonly #intervalMs: number
  readonly #fraction: number
  readonly #clock: () => Date
  readonly #random: () => number
  #resolveFirst: () => void = () => {}
  #lastSuccess: Date | undefined
  #failures = 0
  #lastError: string | undefined
  #renewAt: { serial: string; at: Date } | undefined
  readonly #rounds = new CoalescedRun(() => this.#round())

  constructor(opts: SyncLoopOptions) {
    this.#opts = opts
    this.#intervalMs = opts.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS
    this.#fraction = opts.rotationFraction ?? 0.5
    if (!(this.#intervalMs > 0)) throw new TypeError('intervalMs must be positive')
    if (!(this.#fraction > 0 && this.#fraction < 1)) throw new TypeError('rotationFraction must be in (0, 1)')
    this.#clock = opts.clock ?? (() => new Date())
    this.#random = opts.random ?? Math.random
    this.firstSync = new Promise((resolve) => {
      this.#resolveFirst = resolve
    })
  }

  /** Current health. */
  health(): SyncHealth {
    return { lastSuccess: this.#lastSuccess, consecutiveFailures: this.#failures, lastError: this.#lastError }
  }

  /** Runs until `signal` aborts; never throws. The first round starts at once. */
  run(signal: AbortSignal): Promise<void> {
    return runEvery(signal, () => this.round(), {
      intervalMs: () => Math.round(this.#intervalMs * (1 + SYNC_JITTER * (2 * this.#random() - 1))),
      maxBackoffMs: maxSyncBackoffMs(this.#intervalMs),
      random: this.#random,
      onRetry: (delay, failures) =>
        this.#opts.logger.debug({ retry_in_ms: delay, failures }, 'next sync attempt'),
    })
  }

  /**
   * One round (renew if due, then sync); resolves whether it succeeded. Never throws. A round
   * already in flight is joined, not doubled.
   */
  round(): Promise<boolean> {
    return this.#rounds.join()
  }

  /**
   * A round that starts now, or right after the one in flight (requests made meanwhile share
   * it): for server nudges. Resolves whether it succeeded; never throws.
   */
  syncSoon(): Promise<boolean> {
    return this.#rounds.request()
  }

  /** Rounds started so far (periodic and nudged). */
  get roundsStarted(): number {
    return this.#rounds.started
  }

  async #round(): Promise<boolean> {
    try {
      await this.#renewIfDue()
      const start = process.hrtime.bigint()
      let state: AuthorizedState
      try {
        state = await this.#opts.connection.syncAuthorizedEntries()
      } catch (err) {
        this.#opts.onSynced?.(Number(process.hrtime.bigint() - start) / 1e9, false)
        throw err
      }
      this.#opts.onSynced?.(Number(process.hrtime.bigint() - start) / 1e9, true)
      await this.#opts.onState(state)
      if (this.#failures > 0) {
        this.#opts.logger.info({ failures: this.#failures }, 'sync with the server recovered')
      }
      this.#failures = 0
      this.#lastError = undefined
      this.#lastSuccess = this.#clock()
      this.#opts.logger.debug({ entries: state.entries.length }, 'synced authorized entries')
      this.#resolveFirst()
      return true
    } catch (err) {
      this.#failures++
      this.#lastError = errorText(err)
      const refused = isSigilError(err, 'ERR_NOT_AUTHORIZED')
      this.#opts.logger[this.#failures === 1 || refused ? 'warn' : 'debug'](
        { err: this.#lastError, code: isSigilError(err) ? err.code : undefined, failures: this.#failures },
        refused ? 'the server refused this agent' : 'sync with the server failed',
      )
      if (refused && this.#opts.onRefused) {
        try {
          await this.#opts.onRefused(err)
        } catch (e) {
          this.#opts.logger.error({ err: errorText(e) }, 'recovery failed')
        }
      }
      return false
    }
  }

  async #renewIfDue(): Promise<void> {
    const identity = this.#opts.connection.identity
    if (!identity) return
    if (this.#renewAt?.serial !== identity.serial) {
      this.#renewAt = {
        serial: identity.serial,
        at: renewalTime(identity.notBefore, identity.notAfter, this.#fraction, this.#random()),
      }
    }
    const tainted = this.#opts.isTainted?.(identity) ?? false
    if (!tainted && !shouldRenew(this.#clock(), this.#renewAt.at)) return
    const renewed = await this.#opts.connection.renew()
    this.#opts.logger.info(
      {
        spiffe_id: renewed.spiffeId.toString(),
        serial: renewed.serial,
        expires_at: renewed.notAfter.toISOString(),
        ...(tainted ? { reason: 'signed by a tainted authority' } : {}),
      },
      'agent SVID renewed',
    )
    await this.#opts.onRenewed?.(renewed)
  }
}
