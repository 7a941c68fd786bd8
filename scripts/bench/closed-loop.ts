/**
 * Closed-loop latency measurement: `clients` callers each run one operation after another for a
 * fixed time; every operation's latency is kept, and the result gives throughput and
 * percentiles. Used for round trips (Workload API calls and their echo baselines).
 */

/** Throughput and latency percentiles of one closed-loop run. */
export interface LoopResult {
  readonly ops: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/**
 * The value at percentile `p` (0..100) of ascending `sorted` (nearest rank).
 *
 * @example
 * percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

/** p50/p99 of unsorted samples (ms), rounded to microseconds. */
export function latencySummary(samples: readonly number[]): { p50Ms: number; p99Ms: number } {
  const sorted = [...samples].sort((a, b) => a - b)
  const round = (n: number) => Math.round(n * 1000) / 1000
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)) }
}

/** Options of {@link closedLoop}. */
export interface LoopOptions {
  /** Unmeasured operations per caller before the clock starts; default 20. */
  readonly warmupOps?: number
  /** Runs (untimed) before each measured operation of a caller. */
  readonly before?: (client: number) => Promise<void> | void
}

/**
 * Runs `op(client)` in a loop on each of `clients` callers for `seconds` after the warm-up.
 *
 * @example
 * const r = await closedLoop(16, 3, (i) => echo(sockets[i]))
 */
export async function closedLoop(
  clients: number,
  seconds: number,
  op: (client: number) => Promise<unknown>,
  opts: LoopOptions = {},
): Promise<LoopResult> {
  const warmupOps = opts.warmupOps ?? 20
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < warmupOps; i++) await op(c)
    }),
  )
  const samples: number[] = []
  const start = performance.now()
  const end = start + seconds * 1000
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) {
        await opts.before?.(c)
        const t0 = performance.now()
        await op(c)
        samples.push(performance.now() - t0)
      }
    }),
  )
  const elapsed = (performance.now() - start) / 1000
  return { ops: samples.length, perSecond: samples.length / elapsed, ...latencySummary(samples) }
}
