/**
 * The one periodic loop of the daemons (CA rotation, server identity renewal, agent sync):
 * run a step, wait, repeat until the signal aborts. It never throws: a step that throws or
 * returns `false` counts as a failure, and the next pause backs off with {@link retryDelayMs};
 * the component itself logs and counts failures for its health check.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { retryDelayMs } from './backoff.js'

/** How often to run and how to back off. */
export interface RunEveryOptions {
  /** The pause after a success (a function for a jittered interval). */
  readonly intervalMs: number | (() => number)
  /** The first pause after a failure (default: the interval). */
  readonly retryInitialMs?: number
  /** The longest pause after failures. */
  readonly maxBackoffMs: number
  /** In [0, 1); injectable for tests. */
  readonly random?: () => number
  /** Called with a step's thrown value (default: ignored; components usually catch and log themselves). */
  readonly onError?: (err: unknown) => void
  /** Called before each pause after a failure. */
  readonly onRetry?: (delayMs: number, failures: number) => void
}

/**
 * Runs `step` at once and then after every pause until `signal` aborts; resolves then. Never throws.
 *
 * @example
 * await runEvery(signal, async () => { await rotate() }, { intervalMs: 30_000, maxBackoffMs: 60_000 })
 */
export async function runEvery(
  signal: AbortSignal,
  step: () => Promise<unknown>,
  opts: RunEveryOptions,
): Promise<void> {
  const random = opts.random ?? Math.random
  const interval = () => (typeof opts.intervalMs === 'number' ? opts.intervalMs : opts.intervalMs())
  let failures = 0
  while (!signal.aborted) {
    let ok: boolean
    try {
      ok = (await step()) !== false
    } catch (err) {
      ok = false
      try {
        opts.onError?.(err)
      } catch {
        // a reporting hook must not end the loop
      }
    }
    failures = ok ? 0 : failures + 1
    let delay: number
    if (ok) delay = interval()
    else {
      delay = retryDelayMs(failures, opts.retryInitialMs ?? interval(), opts.maxBackoffMs, random())
      opts.onRetry?.(delay, failures)
    }
    try {
      await sleep(delay, undefined, { signal })
    } catch {
      return
    }
  }
}
