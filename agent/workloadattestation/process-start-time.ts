/**
 * A process's start time, the other half of its identity: a PID is reused once its process is
 * gone, but (PID, start time) names one process for the whole uptime of the machine.
 */
import { join } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import { readProcText } from './read-proc-file.js'

/** Field 22 of `/proc/<pid>/stat` is the start time, in clock ticks since boot. */
const STARTTIME_FIELD = 22

/**
 * Extracts the start time (field 22, clock ticks since boot) from the text of `/proc/<pid>/stat`.
 * The command name (field 2) may hold spaces and parentheses, so fields are counted from the last
 * `)`. Throws `ERR_ATTESTATION_FAILED` when the text is not a stat line.
 *
 * @example
 * parseStartTime('42 (node) S 1 42 42 0 -1 4194560 ... 12345 ...') // 12345
 */
export function parseStartTime(stat: string): number {
  const close = stat.lastIndexOf(')')
  // After ") " come fields 3, 4, ...: the start time is at index 22 - 3.
  const fields =
    close < 0
      ? []
      : stat
          .slice(close + 1)
          .trim()
          .split(/\s+/)
  const raw = fields[STARTTIME_FIELD - 3]
  const value = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value)) {
    throw new SigilError('ERR_ATTESTATION_FAILED', 'process stat: no start time in field 22')
  }
  return value
}

/** True for the errors that mean "there is no such process (any more)". */
export function isNoSuchProcess(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return code === 'ENOENT' || code === 'ESRCH'
}

/**
 * The start time of process `pid` (clock ticks since boot), or `undefined` when there is no such
 * process. Cheap (one small synchronous read of in-memory procfs, a few µs): the agent uses it to
 * notice that a process exited or that its PID now belongs to another process. Throws
 * `ERR_ATTESTATION_FAILED` on any other failure.
 *
 * @example
 * if (readProcessStartTime(pid) !== attested.startTime) forget(pid)
 */
export function readProcessStartTime(pid: number, procRoot = '/proc'): number | undefined {
  if (!(Number.isSafeInteger(pid) && pid > 0)) throw new TypeError('pid must be a positive integer')
  let text: string
  try {
    text = readProcText(join(procRoot, String(pid), 'stat'))
  } catch (cause) {
    if (isNoSuchProcess(cause)) return undefined
    throw new SigilError('ERR_ATTESTATION_FAILED', `process ${pid}: cannot read stat`, { cause })
  }
  return parseStartTime(text)
}
