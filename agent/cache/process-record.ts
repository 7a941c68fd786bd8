/**
 * The cache's state for one live process (internal to agent/cache/): which entries it matches,
 * the X509-SVIDs and keys held for it, retry bookkeeping and its subscribers.
 */
import type { Selector } from '../../certs/selector/selector.js'
import { selectorSet } from '../../certs/selector/selector.js'
import type { AuthorizedEntry } from './authorized-state.js'
import type { IdentitySubscription } from './identity-subscription.js'
import { isServable } from './rotation-policy.js'
import type { SignedX509Svid } from './x509-svid-batcher.js'

/** An SVID held for a process, with the entry revision it was requested for. */
export interface HeldSvid extends SignedX509Svid {
  readonly entryId: string
  readonly revision: number
  readonly renewAt: Date
}

/** Failed issuance attempts for one entry of one process. */
export interface RetryState {
  readonly failures: number
  /** Epoch milliseconds before which no new attempt is made. */
  readonly retryAt: number
}

/** @internal One process known to the cache. */
export class ProcessRecord {
  readonly key: string
  readonly pid: number
  readonly startTime: number | bigint
  selectors: readonly Selector[]
  selectorSet: ReadonlySet<string>
  /** Connections and subscriptions holding this process. */
  refs = 0
  /** Set once an X509-SVID subscriber appeared; SVIDs are then minted and rotated. */
  wantsX509 = false
  dropped = false
  /** The pool of spare SVIDs (agent/cache/spare-svids.ts), not a process: served after every process. */
  spare = false
  matched: readonly AuthorizedEntry[] = []
  readonly svids = new Map<string, HeldSvid>()
  readonly retries = new Map<string, RetryState>()
  readonly inflight = new Set<string>()
  /** Jitter draw for this process's renewal times (drawn once, so its SVIDs come due together). */
  renewalRandom: number | undefined
  /** New SVIDs were installed and not yet pushed (pushed once none of its SVIDs is in flight). */
  unpublished = false
  readonly subs = new Set<IdentitySubscription>()

  constructor(key: string, pid: number, startTime: number | bigint, selectors: readonly Selector[]) {
    this.key = key
    this.pid = pid
    this.startTime = startTime
    this.selectors = selectors
    this.selectorSet = selectorSet(selectors)
  }

  /**
   * Drops the SVIDs that expired at `now`; true when an SVID left what may be served (expired
   * or about to), i.e. when subscribers need a new snapshot.
   */
  dropExpired(now: Date): boolean {
    let changed = false
    for (const [id, held] of this.svids) {
      if (held.notAfter.getTime() <= now.getTime()) this.svids.delete(id)
      if (!isServable(now, held.notAfter)) changed = true
    }
    return changed
  }

  /** Replaces the selectors if they differ; true when they did. */
  setSelectors(selectors: readonly Selector[]): boolean {
    const next = selectorSet(selectors)
    if (next.size === this.selectorSet.size && [...next].every((s) => this.selectorSet.has(s))) return false
    this.selectors = selectors
    this.selectorSet = next
    return true
  }
}
