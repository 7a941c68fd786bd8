/**
 * Runs one async job at a time and folds requests together: a request while a run is in flight
 * queues exactly one more run (however many requests come), which starts when the run in flight
 * ends. The sync loop uses it so that a burst of server nudges (entries changed, bundle
 * changed) costs at most one sync in flight plus one queued, and so that the periodic round and
 * a nudged one never overlap. Pure bookkeeping: no timers, no I/O, no trust involved.
 */

/**
 * One job, coalesced.
 *
 * @example
 * const sync = new CoalescedRun(() => loop.syncOnce())
 * for (const nudge of burst) void sync.request() // at most two runs
 */
export class CoalescedRun<T> {
  readonly #job: () => Promise<T>
  #inFlight: Promise<T> | undefined
  #queued: { promise: Promise<T>; resolve: (run: Promise<T>) => void } | undefined
  #started = 0

  constructor(job: () => Promise<T>) {
    this.#job = job
  }

  /** How many runs have started. */
  get started(): number {
    return this.#started
  }

  /** True while a run is in flight. */
  get running(): boolean {
    return this.#inFlight !== undefined
  }

  /** The run in flight, or a new one: for a caller that any current run satisfies. */
  join(): Promise<T> {
    return this.#inFlight ?? this.#start()
  }

  /**
   * A run that starts after this call: a new one when idle, else the one queued behind the run
   * in flight (shared by every request made meanwhile).
   */
  request(): Promise<T> {
    if (this.#inFlight === undefined) return this.#start()
    if (this.#queued === undefined) {
      let resolve!: (run: Promise<T>) => void
      const promise = new Promise<T>((r) => {
        resolve = r
      })
      this.#queued = { promise, resolve }
    }
    return this.#queued.promise
  }

  #start(): Promise<T> {
    this.#started++
    let run: Promise<T>
    try {
      run = this.#job()
    } catch (err) {
      run = Promise.reject(err)
    }
    this.#inFlight = run
    const next = (): void => {
      this.#inFlight = undefined
      const queued = this.#queued
      this.#queued = undefined
      // started in the same callback, so no other caller sees the loop idle in between
      if (queued) queued.resolve(this.#start())
    }
    run.then(next, next)
    return run
  }
}
