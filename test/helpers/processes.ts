/**
 * What is still running, from /proc: tests that start daemons check that none outlives its stop
 * (the daemons and a throw-away PostgreSQL name their data dirs on their command lines).
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Pids of processes whose command line mentions `text` (e.g. a data dir). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}
