/**
 * Per-caller clients that get a fresh connection every `limit` operations, outside the timed
 * operation. Needed for "first message of a new stream, then cancel" loops: Node's HTTP/2
 * server (nghttp2's rapid-reset guard: a burst of about 1000 RST_STREAMs, then about 33/s)
 * closes a connection that cancels streams faster than that, with INTERNAL_ERROR. A real
 * workload opens one stream and keeps it, so this is a benchmark artefact, treated the same
 * way for Sigil's agent and for the bare grpc-js baseline.
 */

/** Default number of cancelled streams per connection before it is replaced. */
export const STREAMS_PER_CONNECTION = 500

/**
 * N clients, one per caller, replaced after `limit` uses.
 *
 * @example
 * const pool = await RecycledClients.open(16, () => new WorkloadClient(path), (c) => c.fetchX509First())
 * await closedLoop(16, 3, (i) => pool.get(i).fetchX509First(), { before: (i) => pool.before(i) })
 */
export class RecycledClients<T extends { close(): void }> {
  readonly #make: () => T
  readonly #warm: (client: T) => Promise<unknown>
  readonly #limit: number
  readonly #clients: T[]
  readonly #uses: number[]

  private constructor(n: number, make: () => T, warm: (client: T) => Promise<unknown>, limit: number) {
    this.#make = make
    this.#warm = warm
    this.#limit = limit
    this.#clients = Array.from({ length: n }, make)
    this.#uses = new Array<number>(n).fill(0)
  }

  /** Makes `n` clients and runs one warming operation on each. */
  static async open<T extends { close(): void }>(
    n: number,
    make: () => T,
    warm: (client: T) => Promise<unknown>,
    limit = STREAMS_PER_CONNECTION,
  ): Promise<RecycledClients<T>> {
    const pool = new RecycledClients(n, make, warm, limit)
    await Promise.all(pool.#clients.map((c) => warm(c)))
    return pool
  }

  /** The current client of caller `i`. */
  get(i: number): T {
    return this.#clients[i] as T
  }

  /** Counts one use of caller `i`'s client; replaces (and warms) it when it reached the limit. */
  async before(i: number): Promise<void> {
    const uses = (this.#uses[i] ?? 0) + 1
    this.#uses[i] = uses
    if (uses < this.#limit) return
    this.#clients[i]?.close()
    const fresh = this.#make()
    this.#clients[i] = fresh
    this.#uses[i] = 0
    await this.#warm(fresh)
  }

  close(): void {
    for (const c of this.#clients) c.close()
  }
}
