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
 * is likely). The pool is a {@link ProcessRecord} of its own (never published to anyone) whose
 * entries are the wanted ones, so the issuance loop mints and renews spares like any process's
 * SVIDs, after every real process's needs. A spare that reaches its renewal time with no demand
 * since it was signed is dropped instead of renewed, so an idle entry costs nothing after one
 * half-life. At most `limit` entries are kept (least recently wanted go first).
 */
import type { AuthorizedEntry } from './authorized-state.js'
import type { HeldSvid } from './process-record.js'
import { ProcessRecord } from './process-record.js'

/** Default number of entries that keep a spare X509-SVID. */
export const DEFAULT_SPARE_SVIDS = 64
/** An entry whose spare failed to be signed this many times in a row is no longer wanted (until new demand). */
export const MAX_SPARE_FAILURES = 3

/** @internal The pool of spare X509-SVIDs, one per wanted entry. */
export class SpareSvids {
  /** The pool as the issuance loop sees it: wanted entries as `matched`, spares as `svids`. */
  readonly record = new ProcessRecord('spares', 0, 0, [])
  readonly #limit: number
  /** Last demand per entry ID (epoch ms), least recent first. */
  readonly #demand = new Map<string, number>()
  #entries: ReadonlyMap<string, AuthorizedEntry> = new Map()

  /** `limit` is checked where the cache's options are resolved (cache-options.ts). */
  constructor(limit: number) {
    this.#limit = limit
    this.record.wantsX509 = limit > 0
    this.record.spare = true
  }

  /** How many spares are ready. */
  get size(): number {
    return this.record.svids.size
  }

  /** Takes the new entries: forgets entries that went away and spares of an older revision or ID. */
  setEntries(entries: readonly AuthorizedEntry[]): void {
    this.#entries = new Map(entries.map((e) => [e.id, e]))
    for (const id of this.#demand.keys()) if (!this.#entries.has(id)) this.#demand.delete(id)
    for (const [id, held] of this.record.svids) {
      const entry = this.#entries.get(id)
      if (entry === undefined || entry.revisionNumber !== held.revision || entry.spiffeId !== held.spiffeId) {
        this.record.svids.delete(id)
      }
    }
    this.#rematch()
  }

  /** Records demand for these entries at `now` (epoch ms); true when one was not wanted before. */
  want(entryIds: Iterable<string>, now: number): boolean {
    if (this.#limit === 0) return false
    let added = false
    for (const id of entryIds) {
      if (!this.#entries.has(id)) continue
      if (!this.#demand.delete(id)) added = true
      this.#demand.set(id, now)
    }
    if (!added) return false
    for (const id of this.#demand.keys()) {
      if (this.#demand.size <= this.#limit) break
      this.#demand.delete(id)
      this.record.svids.delete(id)
    }
    this.#rematch()
    return true
  }

  /**
   * Takes the spare of `entry` if there is one for its current revision that is not yet due for
   * renewal (so it has at least the rotation fraction of its life left); it leaves the pool.
   */
  take(entry: AuthorizedEntry, now: number): HeldSvid | undefined {
    const held = this.record.svids.get(entry.id)
    if (held === undefined) return undefined
    if (held.revision !== entry.revisionNumber || held.spiffeId !== entry.spiffeId) return undefined
    if (now >= held.renewAt.getTime()) return undefined
    this.record.svids.delete(entry.id)
    return held
  }

  /**
   * Gives a process that wants X509-SVIDs the spares of its matched entries that it has no
   * current SVID for (not while one is in flight for it), and records demand for all of those
   * entries (to refill what was taken and to keep spares for the others from now on). True when
   * the pool or the process changed (the caller then starts an issuance round).
   */
  giveTo(rec: ProcessRecord, now: number): boolean {
    if (this.#limit === 0 || !rec.wantsX509 || rec.dropped) return false
    const wanted: string[] = []
    let gave = false
    for (const entry of rec.matched) {
      const held = rec.svids.get(entry.id)
      if ((held !== undefined && held.revision === entry.revisionNumber) || rec.inflight.has(entry.id))
        continue
      wanted.push(entry.id)
      const spare = this.take(entry, now)
      if (spare === undefined) continue
      rec.svids.set(entry.id, spare)
      rec.retries.delete(entry.id)
      gave = true
    }
    return this.want(wanted, now) || gave
  }

  /**
   * Drops spares that came due with no demand since they were signed, and their entries; also
   * entries whose spare failed {@link MAX_SPARE_FAILURES} times in a row (the server refuses or
   * is away: processes' own requests go on, spares wait for new demand).
   */
  prune(now: number): void {
    let changed = false
    for (const [id, retry] of this.record.retries) {
      if (retry.failures < MAX_SPARE_FAILURES) continue
      this.#demand.delete(id)
      changed = true
    }
    for (const [id, held] of this.record.svids) {
      if (now >= held.notAfter.getTime()) this.record.svids.delete(id)
      if (now < held.renewAt.getTime()) continue
      if ((this.#demand.get(id) ?? 0) > held.issuedAt.getTime()) continue
      this.record.svids.delete(id)
      this.#demand.delete(id)
      changed = true
    }
    if (changed) this.#rematch()
  }

  /** Forgets every spare (on close). */
  clear(): void {
    this.#demand.clear()
    this.record.svids.clear()
    this.record.retries.clear()
    this.#rematch()
  }

  #rematch(): void {
    const matched: AuthorizedEntry[] = []
    for (const id of this.#demand.keys()) {
      const entry = this.#entries.get(id)
      if (entry !== undefined) matched.push(entry)
    }
    this.record.matched = matched
    for (const id of this.record.retries.keys()) if (!this.#demand.has(id)) this.record.retries.delete(id)
  }
}
