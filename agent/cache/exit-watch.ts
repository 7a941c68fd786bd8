/**
 * The X509-SVIDs of `--revoke-on-exit` entries that were given to each process (internal to
 * agent/cache/), kept apart from the process's record: a process may close its connection and
 * keep running with its SVIDs (the record is released), so the watch lasts until the kernel
 * says the process is gone (its PID has a different start time, or none), not until it
 * disconnects. An SVID counts as given once it was in a snapshot offered to the process — an
 * SVID it signed for itself and a spare it adopted alike; a spare still in the pool is nobody's.
 */

/** One watched process and the serials it was given (serial → notAfter). */
interface Watched {
  readonly pid: number
  readonly startTime: number | bigint
  readonly serials: Map<string, Date>
}

/** A serial given to a process that exited, with its expiry. */
export interface ExitedSvid {
  readonly serial: string
  readonly notAfter: Date
}

/** @internal Serials given to live processes, by process key. */
export class ExitWatch {
  readonly #byProcess = new Map<string, Watched>()

  /** How many processes are watched. */
  get size(): number {
    return this.#byProcess.size
  }

  /** Notes that `serial` was given to the process. */
  add(key: string, pid: number, startTime: number | bigint, serial: string, notAfter: Date): void {
    let w = this.#byProcess.get(key)
    if (w === undefined) {
      w = { pid, startTime, serials: new Map() }
      this.#byProcess.set(key, w)
    }
    w.serials.set(serial, notAfter)
  }

  /** The watched processes (key, pid, start time). */
  *processes(): IterableIterator<{ key: string; pid: number; startTime: number | bigint }> {
    for (const [key, w] of this.#byProcess) yield { key, pid: w.pid, startTime: w.startTime }
  }

  /** Forgets a process that exited and returns what it was given that has not expired by `now`. */
  take(key: string, now: Date): ExitedSvid[] {
    const w = this.#byProcess.get(key)
    if (w === undefined) return []
    this.#byProcess.delete(key)
    return [...w.serials]
      .filter(([, notAfter]) => notAfter.getTime() > now.getTime())
      .map(([serial, notAfter]) => ({ serial, notAfter }))
  }

  /** Forgets expired serials (nothing to revoke once expired) and processes left with none. */
  prune(now: Date): void {
    for (const [key, w] of this.#byProcess) {
      for (const [serial, notAfter] of w.serials)
        if (notAfter.getTime() <= now.getTime()) w.serials.delete(serial)
      if (w.serials.size === 0) this.#byProcess.delete(key)
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#byProcess.clear()
  }
}
