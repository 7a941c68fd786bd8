/**
 * A workload process as the cache knows it: the PID the kernel reported, the start time that
 * binds that PID to one process, and the selectors workload attestation found.
 */
import type { Selector } from '../../certs/selector/selector.js'

/** One attested process. `(pid, startTime)` names it for the machine's whole uptime. */
export interface WorkloadProcess {
  readonly pid: number
  /** Clock ticks since boot, from `/proc/<pid>/stat` (as the workload attestor reports it). */
  readonly startTime: number | bigint
  readonly selectors: readonly Selector[]
}

/**
 * The cache key of a process: `pid:startTime`.
 *
 * @example
 * processKey({ pid: 42, startTime: 1234, selectors: [] }) // '42:1234'
 */
export function processKey(p: Pick<WorkloadProcess, 'pid' | 'startTime'>): string {
  if (!(Number.isSafeInteger(p.pid) && p.pid > 0)) throw new TypeError('pid must be a positive integer')
  if (typeof p.startTime !== 'bigint' && !(Number.isSafeInteger(p.startTime) && p.startTime >= 0)) {
    throw new TypeError('startTime must be a non-negative integer')
  }
  return `${p.pid}:${String(p.startTime)}`
}

/** True when two start times name the same instant (number and bigint compare equal). */
export function sameStartTime(a: number | bigint | undefined, b: number | bigint): boolean {
  return a !== undefined && String(a) === String(b)
}
