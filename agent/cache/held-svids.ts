/**
 * The X509-SVIDs one holder keeps per entry (internal to agent/cache/): a live process
 * ({@link ProcessRecord}) or the spare pool ({@link SparePool}). Besides the SVIDs and their
 * keys it keeps what the issuance loop needs to know per entry: which are being signed, which
 * failed and when to try again, whether new SVIDs wait to be pushed. All "is it due" questions
 * go through one test ({@link svidNeed}).
 */
import type { AuthorizedEntry } from './authorized-state.js'
import { isServable, renewTogether, svidMissing, svidNeed, x509RenewalTime } from './rotation-policy.js'
import type { SignedX509Svid } from './x509-svid-batcher.js'

/** An SVID held for a process, with the entry revision it was requested for. */
export interface HeldSvid extends SignedX509Svid {
  readonly entryId: string
  readonly revision: number
  readonly renewAt: Date
}

/**
 * What an install was: the entry's first SVID (or one for a changed entry), a renewal, or a
 * late renewal — one signed after the previous SVID had used more than half of the time
 * between its planned renewal and its expiry.
 */
export type Installed = 'new' | 'renewed' | 'late'

/** Failed issuance attempts for one entry of one holder. */
export interface RetryState {
  readonly failures: number
  /** Epoch milliseconds before which no new attempt is made. */
  readonly retryAt: number
}

/** The entries of one holder to get signed now, and how urgent they are. */
export interface DueEntries {
  readonly entries: readonly AuthorizedEntry[]
  /** Epoch ms: now for a missing SVID, else the earliest expiry among the renewals (smaller goes first). */
  readonly deadline: number
}

/** How renewal times are drawn: the rotation fraction and the jitter source (drawn once per holder). */
export interface RenewalDraw {
  readonly fraction: number
  readonly random: () => number
}

/** @internal The SVIDs of one holder, by entry ID, with their issuance bookkeeping. */
export class HeldSvids {
  readonly #svids = new Map<string, HeldSvid>()
  readonly #retries = new Map<string, RetryState>()
  readonly #inflight = new Set<string>()
  /** Jitter draw for this holder's renewal times (drawn once, so its SVIDs come due together). */
  #renewalRandom: number | undefined
  /** New SVIDs were installed and not yet pushed (pushed once none is in flight). */
  #unpublished = false

  /** How many SVIDs are held. */
  get size(): number {
    return this.#svids.size
  }

  /** The SVID held for an entry. */
  get(entryId: string): HeldSvid | undefined {
    return this.#svids.get(entryId)
  }

  /** The held SVIDs by entry ID. */
  entries(): IterableIterator<[string, HeldSvid]> {
    return this.#svids.entries()
  }

  /** Failed attempts in a row for an entry (0 when none). */
  failures(entryId: string): number {
    return this.#retries.get(entryId)?.failures ?? 0
  }

  /** Takes an SVID signed elsewhere (a spare) for an entry; its failures are forgotten. */
  adopt(entryId: string, held: HeldSvid): void {
    this.#svids.set(entryId, held)
    this.#retries.delete(entryId)
  }

  /** Forgets the SVID of an entry. */
  delete(entryId: string): void {
    this.#svids.delete(entryId)
  }

  /** Forgets every SVID and failure (what is in flight is ignored when it comes back). */
  clear(): void {
    this.#svids.clear()
    this.#retries.clear()
  }

  /** Keeps only the SVIDs and failures of `matched` (an SVID also only for the entry's SPIFFE ID). */
  retain(matched: readonly AuthorizedEntry[]): void {
    const current = new Map(matched.map((e) => [e.id, e]))
    for (const [id, held] of this.#svids) {
      if (current.get(id)?.spiffeId !== held.spiffeId) this.#svids.delete(id)
    }
    for (const id of this.#retries.keys()) if (!current.has(id)) this.#retries.delete(id)
  }

  /**
   * Drops the SVIDs that expired at `now`; true when an SVID left what may be served (expired
   * or about to), i.e. when subscribers need a new snapshot.
   */
  dropExpired(now: Date): boolean {
    let changed = false
    for (const [id, held] of this.#svids) {
      if (held.notAfter.getTime() <= now.getTime()) this.#svids.delete(id)
      if (!isServable(now, held.notAfter)) changed = true
    }
    return changed
  }

  /** Forgets the SVIDs whose serial is revoked (they are signed again); resolves whether any was held. */
  dropRevoked(isRevoked: (serial: string) => boolean): boolean {
    return this.dropWhere((held) => isRevoked(held.serial))
  }

  /** Forgets the SVIDs `pick` selects; resolves whether any was held. */
  dropWhere(pick: (held: HeldSvid) => boolean): boolean {
    let changed = false
    for (const [id, held] of this.#svids) {
      if (pick(held)) {
        this.#svids.delete(id)
        changed = true
      }
    }
    return changed
  }

  /**
   * Makes the SVIDs `pick` selects due now (`localauthority taint`): they keep being served
   * until their successors are installed. Resolves how many were picked.
   */
  expedite(pick: (held: HeldSvid) => boolean): number {
    let n = 0
    for (const [id, held] of this.#svids) {
      if (held.renewAt.getTime() > 0 && pick(held)) {
        this.#svids.set(id, { ...held, renewAt: new Date(0) })
        n++
      }
    }
    return n
  }

  /** The entries of `matched` with no SVID for their current revision and none being signed. */
  missing(matched: readonly AuthorizedEntry[]): AuthorizedEntry[] {
    return matched.filter(
      (e) => !this.#inflight.has(e.id) && svidMissing(this.#svids.get(e.id), e.revisionNumber),
    )
  }

  /**
   * The entries of `matched` to get signed at `now`: missing or outdated SVIDs, and the due
   * renewals with those that go along ({@link renewTogether}); none in flight or waiting for a
   * retry. Undefined when nothing is due.
   */
  dueEntries(matched: readonly AuthorizedEntry[], now: Date): DueEntries | undefined {
    if (!this.#anythingDue(matched, now)) return undefined
    const t = now.getTime()
    const entries: AuthorizedEntry[] = []
    const renewable: AuthorizedEntry[] = []
    let deadline = Number.POSITIVE_INFINITY
    for (const entry of matched) {
      if (!this.#askable(entry.id, t)) continue
      if (svidMissing(this.#svids.get(entry.id), entry.revisionNumber)) {
        entries.push(entry)
        deadline = t
      } else {
        renewable.push(entry)
      }
    }
    const held = renewable.map((e) => this.#svids.get(e.id)!)
    const renew = renewTogether(now, held)
    for (const [i, entry] of renewable.entries()) {
      if (!renew[i]) continue
      entries.push(entry)
      deadline = Math.min(deadline, held[i]!.notAfter.getTime())
    }
    return entries.length > 0 ? { entries, deadline } : undefined
  }

  /** Marks an entry's SVID as being signed. */
  startIssuing(entryId: string): void {
    this.#inflight.add(entryId)
  }

  /** An entry's signing ended without a result to keep. */
  abandon(entryId: string): void {
    this.#inflight.delete(entryId)
  }

  /**
   * Keeps a newly signed SVID if its entry is still in `matched` with the same SPIFFE ID; true
   * when kept. Its renewal time is drawn with this holder's one jitter draw.
   */
  install(
    matched: readonly AuthorizedEntry[],
    entry: AuthorizedEntry,
    svid: SignedX509Svid,
    renewal: RenewalDraw,
  ): Installed | false {
    this.#inflight.delete(entry.id)
    const current = matched.find((e) => e.id === entry.id)
    if (current === undefined || current.spiffeId !== svid.spiffeId) return false
    this.#renewalRandom ??= renewal.random()
    const previous = this.#svids.get(entry.id)
    this.#svids.set(entry.id, {
      ...svid,
      entryId: entry.id,
      revision: entry.revisionNumber,
      renewAt: x509RenewalTime(svid.issuedAt, svid.notAfter, renewal.fraction, this.#renewalRandom),
    })
    this.#retries.delete(entry.id)
    this.#unpublished = true
    if (previous === undefined || previous.revision !== entry.revisionNumber) return 'new'
    const lateAt = (previous.renewAt.getTime() + previous.notAfter.getTime()) / 2
    return svid.issuedAt.getTime() > lateAt ? 'late' : 'renewed'
  }

  /** Records a failed signing at `now` (epoch ms); `delayMs` gives the backoff for a failure count. */
  failed(
    entryId: string,
    now: number,
    delayMs: (failures: number) => number,
  ): RetryState & { delayMs: number } {
    this.#inflight.delete(entryId)
    const failures = this.failures(entryId) + 1
    const delay = delayMs(failures)
    this.#retries.set(entryId, { failures, retryAt: now + delay })
    return { failures, retryAt: now + delay, delayMs: delay }
  }

  /** The earliest pending retry (epoch ms), if any. */
  earliestRetry(): number | undefined {
    let at: number | undefined
    for (const retry of this.#retries.values()) if (at === undefined || retry.retryAt < at) at = retry.retryAt
    return at
  }

  /** True (once) when new SVIDs wait to be pushed and none is in flight any more. */
  takeUnpublished(): boolean {
    if (!this.#unpublished || this.#inflight.size > 0) return false
    this.#unpublished = false
    return true
  }

  /** Not in flight and not waiting for a retry at epoch ms `t`. */
  #askable(entryId: string, t: number): boolean {
    if (this.#inflight.has(entryId)) return false
    const retry = this.#retries.get(entryId)
    return retry === undefined || retry.retryAt <= t
  }

  /**
   * True when some SVID is missing, outdated or due: a check that allocates nothing, as the
   * rounds run it over every held SVID each time a batch moves on.
   */
  #anythingDue(matched: readonly AuthorizedEntry[], now: Date): boolean {
    const t = now.getTime()
    for (const entry of matched) {
      if (
        this.#askable(entry.id, t) &&
        svidNeed(this.#svids.get(entry.id), entry.revisionNumber, now) !== 'current'
      )
        return true
    }
    return false
  }
}
