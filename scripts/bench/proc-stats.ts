/**
 * CPU time and resident memory of a process, read from `/proc/<pid>/stat` (utime + stime of
 * every thread, so libuv's thread pool counts too) and `/proc/<pid>/status` (VmRSS).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

let ticksPerSecond: number | undefined

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()
    const n = Number(out)
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100
  }
  return ticksPerSecond
}

/**
 * CPU seconds (user + system) the process has used so far.
 *
 * @example
 * const before = processCpuSeconds(pid); work(); const used = processCpuSeconds(pid) - before
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are
  // fields 14 and 15, i.e. the 12th and 13th after the state field.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot read /proc/${pid}/stat`)
  return (utime + stime) / clockTicks()
}

/** Resident set size of the process in MiB. */
export function processRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!m) throw new Error(`cannot read VmRSS of ${pid}`)
  return Number(m[1]) / 1024
}

/**
 * How busy the machine was (it is shared): the 1-minute load average and the share of the
 * last 60 s in which some runnable task waited for a CPU (`/proc/pressure/cpu`, when present).
 */
export function machineLoad(): { load_avg_1m: number; cpu_pressure_some_avg60_pct: number | null } {
  let pressure: number | null = null
  try {
    const m = /^some .*avg60=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    if (m) pressure = Number(m[1])
  } catch {
    // no PSI on this kernel
  }
  return { load_avg_1m: Number(loadavg()[0]?.toFixed(2)), cpu_pressure_some_avg60_pct: pressure }
}

/**
 * Peak RSS (sampled) and average CPU of one process over a window.
 *
 * @example
 * const u = new ProcessUsage(pid); setInterval(() => u.sample(), 2000); ...; u.cpuPct()
 */
export class ProcessUsage {
  readonly #pid: number
  #cpu0: number
  #t0: number
  /** Largest RSS (MiB) seen by {@link sample} since construction or the last reset. */
  peakRssMb = 0

  constructor(pid: number) {
    this.#pid = pid
    this.#cpu0 = processCpuSeconds(pid)
    this.#t0 = performance.now()
  }

  /** Reads the RSS now. */
  sample(): void {
    this.peakRssMb = Math.max(this.peakRssMb, processRssMb(this.#pid))
  }

  /** Average CPU since the window started, in % of one core. */
  cpuPct(): number {
    return (100 * (processCpuSeconds(this.#pid) - this.#cpu0)) / ((performance.now() - this.#t0) / 1000)
  }

  /** Starts a new window. */
  reset(): void {
    this.#cpu0 = processCpuSeconds(this.#pid)
    this.#t0 = performance.now()
    this.peakRssMb = 0
  }
}
