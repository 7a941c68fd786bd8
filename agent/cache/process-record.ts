/**
 * The cache's state for one live process (internal to agent/cache/): which entries it matches,
 * the X509-SVIDs and keys held for it ({@link HeldSvids}), who holds it and its subscribers.
 * The cache says what happened (held, released, rematched, dropped); the issuance loop asks
 * what is due and hands back what was signed or failed.
 */
import type { Selector } from '../../certs/selector/selector.js'
import { selectorSet } from '../../certs/selector/selector.js'
import type { AuthorizedEntry } from './authorized-state.js'
import { type DueEntries, type HeldSvid, HeldSvids, type Installed, type RenewalDraw } from './held-svids.js'
import type { IdentitySubscription } from './identity-subscription.js'
import type { SvidHolder } from './issuance-loop.js'
import type { SignedX509Svid } from './x509-svid-batcher.js'

/** @internal One process known to the cache. */
export class ProcessRecord implements SvidHolder {
  readonly key: string
  readonly pid: number
  readonly startTime: number | bigint
  #selectorSet: ReadonlySet<string>
  /** Connections and subscriptions holding this process. */
  #refs = 0
  /** Set once an X509-SVID subscriber appeared; SVIDs are then minted and rotated. */
  #wantsX509 = false
  #dropped = false
  #matched: readonly AuthorizedEntry[] = []
  readonly #held = new HeldSvids()
  readonly #subs = new Set<IdentitySubscription>()

  constructor(key: string, pid: number, startTime: number | bigint, selectors: readonly Selector[]) {
    this.key = key
    this.pid = pid
    this.startTime = startTime
    this.#selectorSet = selectorSet(selectors)
  }

  /** The selectors it was attested with, as a set of `type:value` strings. */
  get selectorSet(): ReadonlySet<string> {
    return this.#selectorSet
  }

  /** The entries it matches. */
  get matched(): readonly AuthorizedEntry[] {
    return this.#matched
  }

  /** True once it was dropped (exited, released or its PID reused): it gets nothing more. */
  get dropped(): boolean {
    return this.#dropped
  }

  /** True once an X509-SVID subscriber appeared. */
  get wantsX509(): boolean {
    return this.#wantsX509
  }

  /** How many X509-SVIDs are held for it. */
  get svidCount(): number {
    return this.#held.size
  }

  /** Its subscriptions. */
  get subscribers(): ReadonlySet<IdentitySubscription> {
    return this.#subs
  }

  /** The X509-SVID held for an entry. */
  heldSvid(entryId: string): HeldSvid | undefined {
    return this.#held.get(entryId)
  }

  /** One more connection or subscription holds it. */
  hold(): void {
    this.#refs++
  }

  /** One hold ended; true when none is left and it is not dropped yet (the caller then drops it). */
  release(): boolean {
    this.#refs--
    return this.#refs <= 0 && !this.#dropped
  }

  /** Adds a subscription. */
  subscribe(sub: IdentitySubscription): void {
    this.#subs.add(sub)
  }

  /** Removes a subscription. */
  unsubscribe(sub: IdentitySubscription): void {
    this.#subs.delete(sub)
  }

  /** An X509-SVID subscriber appeared; true the first time (its SVIDs are minted from now on). */
  wantX509(): boolean {
    if (this.#wantsX509) return false
    this.#wantsX509 = true
    return true
  }

  /** Replaces the selectors if they differ; true when they did. */
  setSelectors(selectors: readonly Selector[]): boolean {
    const next = selectorSet(selectors)
    if (next.size === this.#selectorSet.size && [...next].every((s) => this.#selectorSet.has(s))) return false
    this.#selectorSet = next
    return true
  }

  /** Takes the entries it now matches; forgets SVIDs and failures of the others. */
  rematch(matched: readonly AuthorizedEntry[]): void {
    this.#matched = matched
    this.#held.retain(matched)
  }

  /** Marks it dropped and forgets its SVIDs; returns the entry IDs it held SVIDs for. */
  drop(): string[] {
    const had = [...this.#held.entries()].map(([id]) => id)
    this.#dropped = true
    this.#held.clear()
    return had
  }

  /** See {@link HeldSvids.expedite}. */
  expedite(pick: (held: HeldSvid) => boolean): number {
    return this.#held.expedite(pick)
  }

  /** See {@link HeldSvids.dropRevoked}. */
  dropRevoked(isRevoked: (serial: string) => boolean): boolean {
    return this.#held.dropRevoked(isRevoked)
  }

  /** See {@link HeldSvids.dropExpired}. */
  dropExpired(now: Date): boolean {
    return this.#held.dropExpired(now)
  }

  /** The matched entries it wants an X509-SVID for and has none (for spares); none until it wants X509-SVIDs. */
  missingEntries(): AuthorizedEntry[] {
    if (this.#dropped || !this.#wantsX509) return []
    return this.#held.missing(this.#matched)
  }

  /** Takes an SVID signed ahead (a spare) for an entry. */
  adopt(entryId: string, held: HeldSvid): void {
    this.#held.adopt(entryId, held)
  }

  dueEntries(now: Date): DueEntries | undefined {
    if (this.#dropped || !this.#wantsX509) return undefined
    return this.#held.dueEntries(this.#matched, now)
  }

  startIssuing(entryId: string): void {
    this.#held.startIssuing(entryId)
  }

  abandon(entryId: string): void {
    this.#held.abandon(entryId)
  }

  install(entry: AuthorizedEntry, svid: SignedX509Svid, renewal: RenewalDraw): Installed | false {
    if (!this.#dropped) return this.#held.install(this.#matched, entry, svid, renewal)
    this.#held.abandon(entry.id)
    return false
  }

  failed(entryId: string, now: number, delayMs: (failures: number) => number) {
    if (!this.#dropped) return this.#held.failed(entryId, now, delayMs)
    this.#held.abandon(entryId)
    return undefined
  }

  earliestRetry(): number | undefined {
    return this.#held.earliestRetry()
  }

  takeUnpublished(): boolean {
    return !this.#dropped && this.#held.takeUnpublished()
  }
}
