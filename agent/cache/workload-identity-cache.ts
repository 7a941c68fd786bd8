/**
 * The agent's per-process identity cache: what the Workload API serves. The sync loop feeds it
 * the authorized entries and bundles ({@link AuthorizedState}); the Workload API asks it, for
 * one attested process, for a stream of identity snapshots, for bundles and for JWT-SVIDs.
 *
 * Trust and lifetime: a process is named by (PID, start time) as the kernel and `/proc`
 * reported them, and it matches the entries whose selectors it was attested with. Each process
 * gets its own key pair and X509-SVID per entry, generated here and signed by the server
 * through {@link SvidIssuer}, even when other processes match the same entry; a new process may
 * be handed a spare signed ahead for its entry (spare-svids.ts), still with a key no one else
 * got. Keys, SVIDs and JWT-SVIDs of a process are dropped when its last connection or
 * subscription goes away or when its PID no longer has the same start time (checked every
 * maintenance pass and whenever the PID shows up again), so a process that reuses the PID gets
 * nothing of the old one.
 * A first snapshot is delivered only once the SVIDs of every matching entry are ready (callers
 * are held, never refused); SVIDs are renewed at a jittered fraction of their lifetime and an
 * SVID that is about to expire is never handed out.
 */
import { SigilError } from '../../certs/errors.js'
import { selectorSet } from '../../certs/selector/selector.js'
import { codedErrorText } from '../../common/errors/error-text.js'
import type { AuthorizedEntry, AuthorizedState } from './authorized-state.js'
import {
  type CacheStats,
  type ProcessStartTimeReader,
  resolveCacheOptions,
  type WorkloadIdentityCacheOptions,
} from './cache-options.js'
import {
  type EntryIndex,
  indexEntries,
  matchEntries,
  type SelectorWants,
  selectorWants,
} from './entry-matching.js'
import { type ExitedSvid, ExitWatch } from './exit-watch.js'
import type { HeldSvid } from './held-svids.js'
import { IdentitySubscription } from './identity-subscription.js'
import { type IssuanceConfig, IssuanceLoop } from './issuance-loop.js'
import { JwtSvidCache } from './jwt-svid-cache.js'
import { checkAudience, fetchJwtSvids, type JwtFetchContext, type WorkloadJwtSvid } from './jwt-svid-fetch.js'
import { ProcessRecord } from './process-record.js'
import { snapshotFor, type VisibleBundles, visibleBundles } from './snapshot.js'
import { SparePool } from './spare-svids.js'
import type { TaintedAuthorities } from './tainted-authorities.js'
import { processKey, sameStartTime, type WorkloadProcess } from './workload-process.js'

export type { CacheStats, WorkloadIdentityCacheOptions } from './cache-options.js'
export type { ExitedSvid } from './exit-watch.js'

/**
 * Per-process workload identities, kept current.
 *
 * @example
 * const cache = new WorkloadIdentityCache({ issuer, logger })
 * cache.update(state) // from the sync loop
 * const sub = cache.subscribe({ pid, startTime, selectors })
 * const update = await sub.next() // { kind: 'identity', snapshot } once every SVID is ready
 */
export class WorkloadIdentityCache {
  readonly #cfg: IssuanceConfig
  readonly #procStartTime: ProcessStartTimeReader
  readonly #records = new Map<string, ProcessRecord>()
  readonly #jwt: JwtSvidCache
  #crls: readonly Buffer[] = []
  readonly #jwtContext: JwtFetchContext
  readonly #interval: NodeJS.Timeout
  #state: AuthorizedState | undefined
  #index: EntryIndex = new Map()
  #wants: SelectorWants = { sha256: false, scriptSha256: false }
  #maintaining = false
  #closed = false
  readonly #exitListeners = new Set<(processKey: string) => void>()
  readonly #exitWatch = new ExitWatch()
  readonly #exitedSvidListeners = new Set<(svids: readonly ExitedSvid[], processKey: string) => void>()
  readonly #spares: SparePool
  readonly #loop: IssuanceLoop

  constructor(opts: WorkloadIdentityCacheOptions) {
    const resolved = resolveCacheOptions(opts)
    this.#cfg = resolved.cfg
    this.#procStartTime = resolved.procStartTime
    this.#jwt = new JwtSvidCache(opts.jwtCacheSize)
    this.#jwtContext = { ...this.#cfg, jwt: this.#jwt, inflight: new Map() }
    const spares = new SparePool(resolved.spareSvids)
    this.#spares = spares
    const records = this.#records
    this.#loop = new IssuanceLoop(
      this.#cfg,
      function* () {
        yield* records.values()
        yield spares
      },
      (holder) => {
        if (holder instanceof ProcessRecord) this.#publish(holder)
      },
    )
    this.#interval = setInterval(() => void this.maintain(), resolved.maintenanceIntervalMs)
    this.#interval.unref()
  }

  /** Replaces the authorized state (entries and bundles) and pushes what changed (nothing for the same state object). */
  update(state: AuthorizedState): void {
    if (!Array.isArray(state?.entries) || typeof state.bundle?.equals !== 'function') {
      throw new TypeError('state must be an AuthorizedState')
    }
    if (!(state.federatedBundles instanceof Map)) throw new TypeError('state.federatedBundles must be a Map')
    const previous = this.#state
    if (state === previous) return // an unchanged sync: nothing to rematch or push
    this.#state = state
    if (state.entries !== previous?.entries) {
      this.#index = indexEntries(state.entries)
      this.#wants = selectorWants(state.entries)
      this.#spares.setEntries(state.entries)
    }
    for (const rec of this.#records.values()) this.#rematch(rec)
    for (const rec of this.#records.values()) this.#publish(rec)
    this.#loop.kick()
  }

  /** True once the first {@link update} arrived. */
  get synced(): boolean {
    return this.#state !== undefined
  }

  /** Which costly selectors the current entries use (pass to the workload attestor). */
  attestationWants(): SelectorWants {
    return this.#wants
  }

  /**
   * Holds a process (for as long as one of its connections is open); returns the release
   * function. When the last hold and subscription of a process are released, everything held
   * for it is dropped.
   */
  retain(process: WorkloadProcess): () => void {
    const rec = this.#attach(process)
    rec.hold()
    let released = false
    return () => {
      if (released) return
      released = true
      this.#release(rec)
    }
  }

  /** Subscribes to a process's X509-SVIDs and bundles (FetchX509SVID). */
  subscribe(process: WorkloadProcess): IdentitySubscription {
    return this.#subscribe(process, true)
  }

  /** Subscribes to the bundles a process may see, without minting SVIDs (Fetch…Bundles). */
  subscribeBundles(process: WorkloadProcess): IdentitySubscription {
    return this.#subscribe(process, false)
  }

  /**
   * JWT-SVIDs for a process: one per entitled SPIFFE ID (only `spiffeId` if given), each
   * carrying every audience. Throws `ERR_INVALID_ARGUMENT` (audience), `ERR_NOT_AUTHORIZED`
   * (no such identity) or `ERR_UNAVAILABLE` (not synced yet; server unreachable and nothing
   * unexpired cached).
   */
  async fetchJwtSvids(
    process: WorkloadProcess,
    audience: readonly string[],
    spiffeId?: string,
  ): Promise<WorkloadJwtSvid[]> {
    checkAudience(audience)
    const release = this.retain(process)
    try {
      const rec = this.#records.get(processKey(process))
      if (this.#state === undefined || rec === undefined) {
        throw new SigilError('ERR_UNAVAILABLE', 'the agent has not received its entries from the server yet')
      }
      return await fetchJwtSvids(this.#jwtContext, rec, audience, spiffeId)
    } finally {
      release()
    }
  }

  /**
   * The entries a process is entitled to now (oldest first); `[]` for none. Throws
   * `ERR_UNAVAILABLE` before the first sync.
   */
  entriesFor(process: WorkloadProcess): readonly AuthorizedEntry[] {
    if (this.#state === undefined) {
      throw new SigilError('ERR_UNAVAILABLE', 'the agent has not received its entries from the server yet')
    }
    return matchEntries(this.#index, selectorSet(process.selectors))
  }

  /**
   * Calls `listener` with the key (`pid:startTime`) of each held process the maintenance pass
   * finds exited; returns the removal. Hold a process ({@link retain}) to have it watched.
   */
  onProcessExit(listener: (processKey: string) => void): () => void {
    this.#exitListeners.add(listener)
    return () => this.#exitListeners.delete(listener)
  }

  /**
   * Calls `listener` with the unexpired X509-SVIDs of `--revoke-on-exit` entries that a process
   * was given (its own and adopted spares), once the maintenance pass finds that process gone —
   * whether or not it still held a connection. Returns the removal.
   */
  onExitedSvids(listener: (svids: readonly ExitedSvid[], processKey: string) => void): () => void {
    this.#exitedSvidListeners.add(listener)
    return () => this.#exitedSvidListeners.delete(listener)
  }

  /** Our own bundle and the federated bundles a process may see (ValidateJWTSVID); undefined before the first sync. */
  bundlesFor(process: Pick<WorkloadProcess, 'selectors'>): VisibleBundles | undefined {
    const state = this.#state
    if (state === undefined) return undefined
    return visibleBundles(state, matchEntries(this.#index, selectorSet(process.selectors)))
  }

  /** Counts of what is held. */
  stats(): CacheStats {
    let x509Svids = 0
    let subscriptions = 0
    for (const rec of this.#records.values()) {
      x509Svids += rec.svidCount
      subscriptions += rec.subscribers.size
    }
    return {
      synced: this.#state !== undefined,
      processes: this.#records.size,
      x509Svids,
      spareX509Svids: this.#spares.size,
      jwtSvids: this.#jwt.size,
      subscriptions,
    }
  }

  /**
   * One maintenance pass (run every interval): drops processes that exited, drops expired
   * SVIDs and tokens, pushes changed snapshots and starts due renewals. Never throws.
   */
  async maintain(): Promise<void> {
    if (this.#maintaining || this.#closed) return
    this.#maintaining = true
    try {
      for (const rec of [...this.#records.values()]) {
        let now: number | bigint | undefined
        try {
          now = await this.#procStartTime(rec.pid)
        } catch (err) {
          this.#cfg.logger.warn(
            { pid: rec.pid, err: codedErrorText(err) },
            'cannot check workload process; dropping it',
          )
          now = undefined
        }
        if (!sameStartTime(now, rec.startTime)) {
          this.#drop(rec, 'workload process exited')
          for (const listener of [...this.#exitListeners]) {
            try {
              listener(rec.key)
            } catch (err) {
              this.#cfg.logger.error(
                { pid: rec.pid, err: codedErrorText(err) },
                'process-exit listener failed',
              )
            }
          }
        }
      }
      await this.#checkExitWatch()
      const now = this.#cfg.clock()
      // Pushed only when an SVID leaves the snapshot: other changes are pushed where they happen.
      for (const rec of this.#records.values()) if (rec.dropExpired(now)) this.#publish(rec)
      this.#jwt.prune(now)
      this.#spares.prune(now)
      this.#exitWatch.prune(now)
      this.#loop.kick()
    } catch (err) {
      this.#cfg.logger.error({ err: codedErrorText(err) }, 'workload cache maintenance failed')
    } finally {
      this.#maintaining = false
    }
  }

  /** Reports the revoke-on-exit SVIDs of watched processes that are gone; an unreadable `/proc` entry waits for the next pass. */
  async #checkExitWatch(): Promise<void> {
    if (this.#exitWatch.size === 0) return
    for (const p of [...this.#exitWatch.processes()]) {
      const live = this.#records.get(p.key)
      if (live !== undefined && !live.dropped) continue // checked by the pass over records
      let now: number | bigint | undefined
      try {
        now = await this.#procStartTime(p.pid)
      } catch {
        continue
      }
      if (sameStartTime(now, p.startTime)) continue
      const svids = this.#exitWatch.take(p.key, this.#cfg.clock())
      if (svids.length === 0) continue
      for (const listener of [...this.#exitedSvidListeners]) {
        try {
          listener(svids, p.key)
        } catch (err) {
          this.#cfg.logger.error({ pid: p.pid, err: codedErrorText(err) }, 'exited-SVID listener failed')
        }
      }
    }
  }

  /**
   * Drops cached JWT-SVIDs whose `jti` is revoked, so the next FetchJWTSVID mints a fresh one
   * instead of handing out a token every validator refuses.
   */
  dropRevokedJwtSvids(isRevoked: (jti: string) => boolean): number {
    return this.#jwt.deleteRevoked(isRevoked)
  }

  /**
   * Forgets every held X509-SVID (and spare) whose serial is revoked and signs new ones, so a
   * workload is not left presenting a certificate every CRL-checking peer refuses.
   */
  dropRevokedX509Svids(isRevoked: (serial: string) => boolean): void {
    this.#spares.dropRevoked(isRevoked)
    let changed = false
    for (const rec of this.#records.values()) {
      if (rec.dropRevoked(isRevoked)) {
        changed = true
        this.#publish(rec)
      }
    }
    if (changed) this.#loop.kick()
  }

  /**
   * `localauthority taint`: every held X509-SVID signed by a tainted CA becomes due now (served
   * until its successor is installed), spares signed by one are dropped, and cached JWT-SVIDs
   * signed by a tainted key are forgotten so the next fetch mints a fresh one. Resolves how many
   * X509-SVIDs and JWT-SVIDs were affected.
   */
  renewTainted(tainted: Pick<TaintedAuthorities, 'signedLeaf' | 'signedToken'>): {
    x509: number
    jwt: number
  } {
    const pick = (held: HeldSvid) => tainted.signedLeaf(held.chainDer[0])
    this.#spares.dropWhere(pick)
    let x509 = 0
    for (const rec of this.#records.values()) x509 += rec.expedite(pick)
    const jwt = this.#jwt.deleteWhere((item) => tainted.signedToken(item.token))
    this.#loop.kick()
    return { x509, jwt }
  }

  /** Replaces the CRLs sent in the Workload API's `crl` fields and pushes them to every stream. */
  setCrls(crls: readonly Buffer[]): void {
    this.#crls = crls
    for (const rec of this.#records.values()) this.#publish(rec)
  }

  /** Stops the timers and ends every subscription (their `next()` resolves to undefined). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#interval)
    this.#loop.close()
    for (const rec of [...this.#records.values()]) for (const sub of [...rec.subscribers]) sub.close()
    for (const rec of this.#records.values()) this.#forget(rec)
    this.#records.clear()
    this.#jwt.clear()
    this.#spares.clear()
    this.#exitWatch.clear()
  }

  #subscribe(process: WorkloadProcess, wantsSvids: boolean): IdentitySubscription {
    const rec = this.#attach(process)
    rec.hold()
    const sub = new IdentitySubscription(wantsSvids, (s) => {
      rec.unsubscribe(s)
      this.#release(rec)
    })
    if (this.#closed) {
      sub.close()
      return sub
    }
    rec.subscribe(sub)
    if (wantsSvids && rec.wantX509()) {
      this.#spares.giveTo(rec, this.#cfg.clock())
      this.#loop.kick()
    }
    this.#publish(rec)
    return sub
  }

  #attach(process: WorkloadProcess): ProcessRecord {
    const key = processKey(process)
    if (!Array.isArray(process.selectors)) throw new TypeError('process.selectors must be an array')
    const existing = this.#records.get(key)
    if (existing !== undefined) {
      if (existing.setSelectors(process.selectors)) {
        this.#rematch(existing)
        this.#publish(existing)
        this.#loop.kick()
      }
      return existing
    }
    for (const rec of [...this.#records.values()]) {
      if (rec.pid === process.pid) this.#drop(rec, 'workload PID now belongs to another process')
    }
    const rec = new ProcessRecord(key, process.pid, process.startTime, process.selectors)
    this.#records.set(key, rec)
    this.#rematch(rec)
    return rec
  }

  #release(rec: ProcessRecord): void {
    if (rec.release()) {
      this.#forget(rec)
      this.#cfg.logger.debug({ pid: rec.pid }, 'workload process released; dropped its SVIDs')
    }
  }

  /** Drops a live process: its subscribers are told it has no identity any more. */
  #drop(rec: ProcessRecord, why: string): void {
    if (rec.dropped) return
    this.#forget(rec)
    this.#cfg.logger.info({ pid: rec.pid }, `${why}; dropped its SVIDs`)
    for (const sub of rec.subscribers) sub.offer({ kind: 'no-identity', reason: 'process-gone' })
  }

  #forget(rec: ProcessRecord): void {
    const held = rec.drop()
    // A process that held SVIDs went away: one like it may well start again soon.
    if (!this.#closed && this.#spares.want(held, this.#cfg.clock())) this.#loop.kick()
    if (this.#records.get(rec.key) === rec) this.#records.delete(rec.key)
    this.#jwt.deleteProcess(rec.key)
  }

  #rematch(rec: ProcessRecord): void {
    const state = this.#state
    rec.rematch(state === undefined ? [] : matchEntries(this.#index, rec.selectorSet))
    if (this.#spares.giveTo(rec, this.#cfg.clock())) this.#loop.kick()
  }

  #publish(rec: ProcessRecord): void {
    if (rec.dropped) return
    const now = this.#cfg.clock()
    const crls = this.#crls
    for (const sub of rec.subscribers) {
      const update = snapshotFor(this.#state, rec, sub, now)
      if (update === undefined) continue
      if (update.kind === 'identity') {
        for (const svid of update.snapshot.svids) {
          if (svid.entry.revokeOnExit === true) {
            this.#exitWatch.add(rec.key, rec.pid, rec.startTime, svid.serial, svid.notAfter)
          }
        }
      }
      sub.offer(
        update.kind === 'identity' && crls.length > 0
          ? { ...update, snapshot: { ...update.snapshot, crls } }
          : update,
      )
    }
  }
}
