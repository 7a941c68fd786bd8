/** The shape every benchmark module exports, and small measuring helpers shared by them. */
import { execFileSync } from 'node:child_process'

export interface BenchResult {
  /** Figures written to bench-results/NAME.json (issue-defined keys). */
  readonly json: Record<string, unknown>
  /** Rows printed as a table: [label, value]. */
  readonly rows: [string, string][]
  readonly note?: string
}

/** What `npm run bench` passes a benchmark. */
export interface BenchOptions {
  /** `--only PART`: run just this part (one of the module's `parts`). */
  readonly only?: string
}

export type Benchmark = (opts?: BenchOptions) => Promise<BenchResult>

/** One result of a benchmark's parts: JSON merged, rows in order, notes joined. */
export function combineResults(results: readonly BenchResult[]): BenchResult {
  return {
    json: Object.assign({}, ...results.map((r) => r.json)),
    rows: results.flatMap((r) => r.rows),
    note: results
      .map((r) => r.note)
      .filter(Boolean)
      .join('; '),
  }
}

/**
 * Runs `fn` repeatedly for about `seconds` (wall time) and returns operations per second: of
 * wall time, or with `per: 'cpu'` of this process's CPU time (user + system, every thread),
 * which is what `openssl speed` counts by default, so the two compare on a busy machine.
 */
export async function opsPerSecond(
  fn: () => unknown,
  seconds: number,
  batch = 64,
  per: 'wall' | 'cpu' = 'wall',
): Promise<number> {
  for (let i = 0; i < batch; i++) {
    const r = fn()
    if (r instanceof Promise) await r
  }
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  const limit = BigInt(Math.round(seconds * 1e9))
  let ops = 0
  for (;;) {
    for (let i = 0; i < batch; i++) {
      const r = fn()
      if (r instanceof Promise) await r
    }
    ops += batch
    const elapsed = process.hrtime.bigint() - start
    if (elapsed >= limit) {
      if (per === 'wall') return (ops * 1e9) / Number(elapsed)
      const used = process.cpuUsage(cpu0)
      return (ops * 1e6) / (used.user + used.system)
    }
  }
}

/** {@link opsPerSecond} per second of CPU time. */
export function opsPerCpuSecond(fn: () => unknown, seconds: number): Promise<number> {
  return opsPerSecond(fn, seconds, 64, 'cpu')
}

/** `openssl speed ecdsap256` on one core: P-256 signs and verifies per second. */
export function opensslP256Speed(seconds = 3): { readonly signPerS: number; readonly verifyPerS: number } {
  const out = execFileSync('openssl', ['speed', '-seconds', String(seconds), 'ecdsap256'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  12000.0"
  const line = out.split('\n').find((l) => /ecdsa \(nistp256\)/.test(l) && /\d+\.\d+\s+\d+\.\d+\s*$/.test(l))
  const m = line ? /(\d+\.\d+)\s+(\d+\.\d+)\s*$/.exec(line) : null
  if (!m) throw new Error(`could not read openssl speed output:\n${out}`)
  return { signPerS: Number(m[1]), verifyPerS: Number(m[2]) }
}

/** The raw `openssl speed ecdsap256` sign rate (one core): the physical limit of signing. */
export function opensslP256SignsPerSecond(seconds = 3): number {
  return opensslP256Speed(seconds).signPerS
}

/** Formats a rate for the table. */
export function rate(n: number): string {
  return `${Math.round(n).toLocaleString('en-US')}/s`
}
