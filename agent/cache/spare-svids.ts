/**
 * Spare X509-SVIDs (internal to agent/cache/): for entries that new processes have needed
 * recently, one SVID with a fresh key is signed ahead of time and handed, whole, to the next new
 * process that matches the entry, so that its first SVID does not wait for the server. Each
 * process still gets a key of its own: a spare is given to one process only and is removed from
 * the pool as it is given; its key was never seen by any other process. A spare is the same
 * SVID the server would sign a moment later (same entry, revision and SPIFFE ID), and one whose
 * entry changed or went away is dropped.
 *
 * Demand decides what is kept: an entry is wanted when a process that matches it starts without
 * a spare ready, when a spare is taken, and when a process holding its SVID goes away (a restart
 * is likely). The pool is one more holder of SVIDs for the issuance loop ({@link SvidHolder}), whose
 * entries are the wanted ones, so the loop mints and renews spares like any process's SVIDs,
 * after every real process's needs; it is never published to anyone. A spare that reaches its renewal time with no demand
 * since it was signed is dropped instead of renewed, so an idle entry costs nothing after one
 * half-life. At most `limit` entries are kept (least recently wanted go first).
 */
import type { AuthorizedEntry } from './authorized-state.js'
import { type DueEntries, type HeldSvid, HeldSvids, type Installed, type RenewalDraw } from './held-svids.js'
import type { SvidHolder } from './issuance-loop.js'
import type { ProcessRecord } from './process-record.js'
import { shouldRenew, svidNeed } from './rotation-policy.js'
import type { SignedX509Svid } from './x509-svid-batcher.js'

/** Default number of entries that keep a spare X509-SVID. */
export const DEFAULT_SPARE_SVIDS = 64
/** An entry whose spare failed to be signed this many times in a row is no longer wanted (until new demand). */
export const MAX_SPARE_FAILURES = 3

/** @internal The pool of spare X509-SVIDs, one per wanted entry. */
export class SparePool implements SvidHolder {
  /** Not a process. */
  readonly pid = undefined
  readonly #limit: number
  /** Last demand per entry ID (epoch ms), least recent first. */
  readonly #demand = new Map<string, number>()
  #entries: ReadonlyMap<string, AuthorizedEntry> = new Map()
  /** The wanted entries (those with demand), least recently wanted first. */
  #wanted: readonly AuthorizedEntry[] = []
  readonly #spares = new HeldSvids()

  /** `limit` is checked where the cache's options are resolved (cache-options.ts). */
  constructor(limit: number) {
    this.#limit = limit
  }

  /** How many spares are ready. */
  get size(): number {
    return this.#spares.size
  }

  /** Takes the new entries: forgets entries that went away and spares of an older revision or ID. */
  setEntries(entries: readonly AuthorizedEntry[]): void {
    this.#entries = new Map(entries.map((e) => [e.id, e]))
    for (const id of this.#demand.keys()) if (!this.#entries.has(id)) this.#demand.delete(id)
    for (const [id, held] of this.#spares.entries()) {
      const entry = this.#entries.get(id)
      if (entry === undefined || entry.revisionNumber !== held.revision || entry.spiffeId !== held.spiffeId) {
        this.#spares.delete(id)
      }
    }
    this.#rematch()
  }

  /** Records demand for these entries at `now`; true when one was not wanted before. */
  want(entryIds: Iterable<string>, now: Date): boolean {
    if (this.#limit === 0) return false
    let added = false
    for (const id of entryIds) {
      if (!this.#entries.has(id)) continue
      if (!this.#demand.delete(id)) added = true
      this.#demand.set(id, now.getTime())
    }
    if (!added) return false
    for (const id of this.#demand.keys()) {
      if (this.#demand.size <= this.#limit) break
      this.#demand.delete(id)
      this.#spares.delete(id)
    }
    this.#rematch()
    return true
  }

  /**
   * Gives a process that wants X509-SVIDs the spares of its matched entries that it has no
   * current SVID for (not while one is in flight for it), and records demand for all of those
   * entries (to refill what was taken and to keep spares for the others from now on). True when
   * the pool or the process changed (the caller then starts an issuance round).
   */
  giveTo(rec: ProcessRecord, now: Date): boolean {
    if (this.#limit === 0) return false
    const missing = rec.missingEntries()
    let gave = false
    for (const entry of missing) {
      const spare = this.#take(entry, now)
      if (spare === undefined) continue
      rec.adopt(entry.id, spare)
      gave = true
    }
    return (
      this.want(
        missing.map((e) => e.id),
        now,
      ) || gave
    )
  }

  /**
   * Drops spares that came due with no demand since they were signed, and their entries; also
   * entries whose spare failed {@link MAX_SPARE_FAILURES} times in a row (the server refuses or
   * is away: processes' own requests go on, spares wait for new demand); and expired spares.
   */
  prune(now: Date): void {
    let changed = false
    for (const id of this.#demand.keys()) {
      if (this.#spares.failures(id) < MAX_SPARE_FAILURES) continue
      this.#demand.delete(id)
      changed = true
    }
    for (const [id, held] of this.#spares.entries()) {
      if (!shouldRenew(now, held.renewAt)) continue
      if ((this.#demand.get(id) ?? 0) > held.issuedAt.getTime()) continue
      this.#spares.delete(id)
      this.#demand.delete(id)
      changed = true
    }
    this.#spares.dropExpired(now)
    if (changed) this.#rematch()
  }

  /** Forgets the spares whose serial is revoked. */
  dropRevoked(isRevoked: (serial: string) => boolean): void {
    if (this.#spares.dropRevoked(isRevoked)) this.#rematch()
  }

  /** Forgets the spares `pick` selects (signed by a tainted authority: made again). */
  dropWhere(pick: (held: HeldSvid) => boolean): void {
    if (this.#spares.dropWhere(pick)) this.#rematch()
  }

  /** Forgets every spare (on close). */
  clear(): void {
    this.#demand.clear()
    this.#spares.clear()
    this.#rematch()
  }

  /** Prunes idle spares first, so that none is renewed that nobody wanted; spares come last. */
  dueEntries(now: Date): DueEntries | undefined {
    this.prune(now)
    const due = this.#spares.dueEntries(this.#wanted, now)
    return due && { entries: due.entries, deadline: Number.POSITIVE_INFINITY }
  }

  startIssuing(entryId: string): void {
    this.#spares.startIssuing(entryId)
  }

  abandon(entryId: string): void {
    this.#spares.abandon(entryId)
  }

  install(entry: AuthorizedEntry, svid: SignedX509Svid, renewal: RenewalDraw): Installed | false {
    return this.#spares.install(this.#wanted, entry, svid, renewal)
  }

  failed(entryId: string, now: number, delayMs: (failures: number) => number) {
    return this.#spares.failed(entryId, now, delayMs)
  }

  earliestRetry(): number | undefined {
    return this.#spares.earliestRetry()
  }

  /** Spares are pushed to no one. */
  takeUnpublished(): boolean {
    return false
  }

  /**
   * Takes the spare of `entry` if there is one for its current revision that is not yet due for
   * renewal (so it has at least the rotation fraction of its life left); it leaves the pool.
   */
  #take(entry: AuthorizedEntry, now: Date): HeldSvid | undefined {
    const held = this.#spares.get(entry.id)
    if (held === undefined || held.spiffeId !== entry.spiffeId) return undefined
    if (svidNeed(held, entry.revisionNumber, now) !== 'current') return undefined
    this.#spares.delete(entry.id)
    return held
  }

  #rematch(): void {
    const wanted: AuthorizedEntry[] = []
    for (const id of this.#demand.keys()) {
      const entry = this.#entries.get(id)
      if (entry !== undefined) wanted.push(entry)
    }
    this.#wanted = wanted
    this.#spares.retain(wanted)
  }
}
