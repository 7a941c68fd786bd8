/**
 * The issuance loop (internal to agent/cache/): finds every (holder, entry) whose X509-SVID is
 * missing, belongs to an older entry revision or is due for renewal, gets them signed in
 * batches, installs the results and pushes snapshots. A holder is a live process or the spare
 * pool ({@link SvidHolder}); the loop asks each what is due and hands back what was signed or
 * failed. A process's due SVIDs go out together (in one batch when they fit) and its subscribers
 * get one snapshot once none of its SVIDs is in flight.
 *
 * A kick starts a round on the next turn of the event loop, so that everything that asks
 * meanwhile goes out together; a kick during a round wakes it to look for new needs. At most
 * {@link MAX_BATCHES_IN_FLIGHT} batches are in flight, of which at most
 * {@link MAX_BATCHES_PREPARING} are having their keys made; each stage that finishes makes room
 * for the next batch, built from what is due by then (most urgent first), so the pipe stays
 * full, throughput is steady and the keys held stay bounded however much comes due at once.
 * Failures are logged and retried with backoff (a round that ends with failures waiting is
 * started again at the earliest retry time) while the still-valid SVID keeps being served; the
 * loop never throws. All time comes from the injected clock.
 */
import type { KeyType } from '../../certs/keys/keys.js'
import { codedErrorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { retryDelayMs } from '../../common/loop/backoff.js'
import type { AuthorizedEntry, SvidIssuer } from './authorized-state.js'
import type { DueEntries, Installed, RenewalDraw, RetryState } from './held-svids.js'
import {
  type DueGroup,
  type MAX_X509_BATCH,
  packX509Batch,
  prepareX509Batch,
  type SignedX509Svid,
  sendX509Batch,
  type X509SvidNeed,
  type X509SvidOutcome,
} from './x509-svid-batcher.js'

/** Most issuance batches (of up to {@link MAX_X509_BATCH} CSRs) in flight at once. */
export const MAX_BATCHES_IN_FLIGHT = 8
/**
 * Most batches having their keys and CSRs made at once: they share the agent's one thread, so
 * making them one or two at a time sends the first ones sooner and keeps the server fed.
 */
export const MAX_BATCHES_PREPARING = 2
/** A long-running round logs a summary at least this often. */
const SUMMARY_INTERVAL_MS = 10_000

/** What the loop needs of the cache's configuration. */
export interface IssuanceConfig {
  readonly issuer: SvidIssuer
  readonly logger: Log
  readonly keyType: KeyType
  readonly rotationFraction: number
  readonly clock: () => Date
  readonly retryInitialMs: number
  readonly retryMaxMs: number
  readonly random: () => number
  /** Told after each installed X509-SVID (metrics). */
  readonly onInstalled?: (installed: Installed) => void
}

/** One holder of X509-SVIDs as the loop sees it: a live process, or the spare pool. */
export interface SvidHolder {
  /** For log lines; undefined for the spare pool. */
  readonly pid: number | undefined
  /** What to get signed at `now` (none in flight or waiting for a retry); undefined when nothing is due. */
  dueEntries(now: Date): DueEntries | undefined
  /** The entry's SVID is being signed. */
  startIssuing(entryId: string): void
  /** The signing ended without a result. */
  abandon(entryId: string): void
  /** Keeps a signed SVID and says what it was; false when it is no longer wanted (dropped, entry gone or changed). */
  install(entry: AuthorizedEntry, svid: SignedX509Svid, renewal: RenewalDraw): Installed | false
  /** Records a failure at `now` (epoch ms); undefined when the holder no longer cares. */
  failed(
    entryId: string,
    now: number,
    delayMs: (failures: number) => number,
  ): (RetryState & { delayMs: number }) | undefined
  /** The earliest pending retry (epoch ms), if any. */
  earliestRetry(): number | undefined
  /** True (once) when new SVIDs wait to be pushed and none is in flight any more. */
  takeUnpublished(): boolean
}

/** What a round did (for its summary log line). */
interface Tally {
  issued: number
  failed: number
  batches: number
  readonly holders: Set<SvidHolder>
  since: number
}

/** @internal The issuance loop of one cache: its state, its clock and when its rounds run. */
export class IssuanceLoop {
  readonly #cfg: IssuanceConfig
  readonly #holders: () => Iterable<SvidHolder>
  readonly #publish: (holder: SvidHolder) => void
  readonly #renewal: RenewalDraw
  readonly #delayMs: (failures: number) => number
  #closed = false
  #running = false
  #scheduled = false
  #retryTimer: NodeJS.Timeout | undefined
  /** Set while a round waits for a batch: call to make it look for new needs at once. */
  #wake: (() => void) | undefined
  /** Batches between their first stage (keys and CSRs) and being sent. */
  #preparing = 0
  /** Batches between their first stage and being installed. */
  #inFlight = 0
  #tally: Tally = { issued: 0, failed: 0, batches: 0, holders: new Set(), since: 0 }

  /** `holders` lists every holder (processes first, the spare pool last); `publish` pushes a holder's new SVIDs. */
  constructor(
    cfg: IssuanceConfig,
    holders: () => Iterable<SvidHolder>,
    publish: (holder: SvidHolder) => void,
  ) {
    this.#cfg = cfg
    this.#holders = holders
    this.#publish = publish
    this.#renewal = { fraction: cfg.rotationFraction, random: cfg.random }
    this.#delayMs = (failures) => retryDelayMs(failures, cfg.retryInitialMs, cfg.retryMaxMs, cfg.random())
  }

  /** Starts a round soon (or wakes the running one); does nothing once closed. */
  kick(): void {
    if (this.#scheduled || this.#closed) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#round().then((nextRetryAt) => this.#scheduleRetry(nextRetryAt))
    })
  }

  /** Stops: no round starts any more and a pending retry is cancelled. */
  close(): void {
    this.#closed = true
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
  }

  #now(): number {
    return this.#cfg.clock().getTime()
  }

  /** Runs issuance until nothing is due; returns the earliest pending retry time (epoch ms), if any. */
  async #round(): Promise<number | undefined> {
    if (this.#closed) return undefined
    if (this.#running) {
      this.#wake?.()
      return undefined
    }
    this.#running = true
    this.#tally.since = this.#now()
    try {
      for (;;) {
        while (
          !this.#closed &&
          this.#preparing < MAX_BATCHES_PREPARING &&
          this.#inFlight < MAX_BATCHES_IN_FLIGHT
        ) {
          const batch = this.#nextBatch()
          if (batch.length === 0) break
          void this.#issueBatch(batch)
        }
        if (this.#inFlight === 0) break
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
        this.#wake = undefined
        if (this.#now() - this.#tally.since >= SUMMARY_INTERVAL_MS) this.#logSummary()
      }
    } catch (err) {
      this.#cfg.logger.error({ err: codedErrorText(err) }, 'workload SVID issuance loop failed')
    } finally {
      this.#running = false
      this.#wake = undefined
    }
    this.#logSummary()
    return this.#earliestRetry()
  }

  #logSummary(): void {
    const tally = this.#tally
    if (tally.batches > 0) {
      this.#cfg.logger.info(
        {
          issued: tally.issued,
          failed: tally.failed,
          processes: tally.holders.size,
          batches: tally.batches,
          duration_ms: this.#now() - tally.since,
        },
        'workload X509-SVIDs issued',
      )
    }
    this.#tally = { issued: 0, failed: 0, batches: 0, holders: new Set(), since: this.#now() }
  }

  /** Prepares one batch, gets it signed and installs it, waking the round after each stage; never throws. */
  async #issueBatch(needs: X509SvidNeed<SvidHolder>[]): Promise<void> {
    this.#preparing++
    this.#inFlight++
    try {
      this.#tally.batches++
      const prepared = await prepareX509Batch(this.#cfg.keyType, needs)
      this.#preparing--
      this.#wake?.()
      this.#settle(await sendX509Batch(this.#cfg.issuer, prepared, this.#cfg.clock))
    } catch (err) {
      for (const n of needs) n.owner.abandon(n.entry.id)
      this.#cfg.logger.error({ err: codedErrorText(err) }, 'workload SVID issuance batch failed')
    } finally {
      this.#inFlight--
      this.#wake?.()
    }
  }

  /** Hands each outcome to its holder, logs the failures once per cause, publishes whom it completed. */
  #settle(outcomes: readonly X509SvidOutcome<SvidHolder>[]): void {
    const touched = new Set<SvidHolder>()
    const failed = new Map<string, string[]>()
    for (const o of outcomes) {
      touched.add(o.need.owner)
      if ('svid' in o) {
        this.#installed(o.need, o.svid)
      } else if (this.#failed(o.need)) {
        const why = codedErrorText(o.error)
        failed.set(why, [...(failed.get(why) ?? []), o.need.entry.id])
      }
    }
    for (const [why, ids] of failed) {
      this.#cfg.logger.warn(
        { err: why, count: ids.length, entry_ids: [...new Set(ids)].slice(0, 10) },
        'could not get workload X509-SVIDs signed; serving cached SVIDs and retrying',
      )
    }
    for (const holder of touched) if (holder.takeUnpublished()) this.#publish(holder)
  }

  #installed({ owner, entry }: X509SvidNeed<SvidHolder>, svid: SignedX509Svid): void {
    const installed = owner.install(entry, svid, this.#renewal)
    if (!installed) return
    this.#cfg.onInstalled?.(installed)
    this.#tally.issued++
    this.#tally.holders.add(owner)
    this.#cfg.logger.debug(
      {
        pid: owner.pid,
        entry_id: entry.id,
        spiffe_id: svid.spiffeId,
        expires_at: svid.notAfter.toISOString(),
      },
      'X509-SVID issued for workload',
    )
  }

  /** Records a failure with its holder; true when it counted (the holder still wanted it). */
  #failed({ owner, entry }: X509SvidNeed<SvidHolder>): boolean {
    const retry = owner.failed(entry.id, this.#now(), this.#delayMs)
    if (retry === undefined) return false
    this.#tally.failed++
    this.#cfg.logger.debug(
      { pid: owner.pid, entry_id: entry.id, failures: retry.failures, retry_in_ms: retry.delayMs },
      'X509-SVID issuance failed',
    )
    return true
  }

  /** The next batch ({@link packX509Batch}) of what the holders say is due; marks it in flight. */
  #nextBatch(): X509SvidNeed<SvidHolder>[] {
    const now = this.#cfg.clock()
    const groups: DueGroup<SvidHolder>[] = []
    for (const holder of this.#holders()) {
      const due = holder.dueEntries(now)
      if (due !== undefined) groups.push({ owner: holder, ...due })
    }
    const batch = packX509Batch(groups)
    for (const n of batch) n.owner.startIssuing(n.entry.id)
    return batch
  }

  #earliestRetry(): number | undefined {
    let at: number | undefined
    for (const holder of this.#holders()) {
      const retryAt = holder.earliestRetry()
      if (retryAt !== undefined && (at === undefined || retryAt < at)) at = retryAt
    }
    return at
  }

  #scheduleRetry(at: number | undefined): void {
    if (at === undefined || this.#closed) return
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined
        this.kick()
      },
      Math.max(0, at - this.#now()),
    )
    this.#retryTimer.unref()
  }
}
