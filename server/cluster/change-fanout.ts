/**
 * How one sigil-server keeps step with the others on the same datastore (issue 15): one
 * `watchChanges` subscription (PostgreSQL LISTEN/NOTIFY with a periodic reconcile; SQLite a
 * `data_version` poll — see the datastore backends) fanned out to every component that holds
 * stored data in memory:
 *
 * - `bundles`: the CA re-reads the shared trust bundle (another server's CA was prepared,
 *   activated or dropped), and agents are nudged (`bundle_changed`) to fetch it;
 * - `revocations`: the revocation list takes in what other servers revoked, and pushes it to
 *   this server's agents like its own;
 * - `policies`: the policy set another server stored is put in force and pushed;
 * - `approvals`: holds waiting here wake when an operator decided them through another server;
 * - `entries`: agents attached here are nudged (`entries_changed`) to sync at once. The nudge
 *   carries no entries (the sync that follows is incremental), and nudges are coalesced to
 *   at most one per {@link ENTRY_NUDGE_INTERVAL_MS}, so a burst of entry writes costs each
 *   agent one small sync — not one per write (SPIRE's event-cache and 4 MB sync troubles,
 *   spire#5771 and spire#2675, came from pushing per-change data).
 *
 * Per-agent authorized-entry caches need no nudge: they are keyed by the datastore's entries
 * version, which every server's writes move. Agents, join tokens and tasks are read from the
 * datastore on each use, so they need nothing either.
 *
 * Trust: the feed carries only "something of kind K changed"; every component re-reads the
 * datastore itself, so a spurious or forged notification costs a read, never a wrong answer.
 */
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { DataChange } from '../datastore/datastore.js'

/** Shortest pause between two `entries_changed` nudges to agents. */
export const ENTRY_NUDGE_INTERVAL_MS = 250

/** The datastore's change subscription (`DataStore.watchChanges`). */
export interface ChangeSource {
  watchChanges(listener: (changes: ReadonlySet<DataChange>) => void): () => void
}

/** The components the feed keeps in step (each optional for tests and partial servers). */
export interface ChangeFanoutTargets {
  readonly ca?: { reloadBundle(): Promise<unknown> }
  readonly revocations?: { refresh(): Promise<unknown> }
  readonly policies?: { refresh(): Promise<unknown> }
  readonly approvals?: { refresh(): Promise<unknown> }
}

/**
 * The fan-out. `start()` subscribes; `onEntriesChanged` is what the agent update streams use.
 *
 * @example
 * const fanout = new ChangeFanout({ datastore, targets: { ca, revocations, policies, approvals }, logger })
 * life.onClose('change-fanout', fanout.start())
 * fanout.onEntriesChanged(() => stream.write({ entries_changed: {} }))
 */
export class ChangeFanout {
  readonly #datastore: ChangeSource
  readonly #targets: ChangeFanoutTargets
  readonly #logger: Log
  readonly #entryListeners = new Set<() => void>()
  readonly #running = new Map<string, Promise<void>>()
  readonly #again = new Set<string>()
  #lastNudge = 0
  #nudgeTimer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(opts: { datastore: ChangeSource; targets: ChangeFanoutTargets; logger: Log }) {
    this.#datastore = opts.datastore
    this.#targets = opts.targets
    this.#logger = opts.logger
  }

  /** Subscribes to the datastore; returns the function that stops the feed. */
  start(): () => void {
    const unsubscribe = this.#datastore.watchChanges((changes) => this.#onChanges(changes))
    return () => {
      this.#stopped = true
      unsubscribe()
      if (this.#nudgeTimer) clearTimeout(this.#nudgeTimer)
      this.#entryListeners.clear()
    }
  }

  /** Calls `listener` (coalesced) after registration entries changed; returns the unsubscribe function. */
  onEntriesChanged(listener: () => void): () => void {
    this.#entryListeners.add(listener)
    return () => this.#entryListeners.delete(listener)
  }

  #onChanges(changes: ReadonlySet<DataChange>): void {
    if (this.#stopped) return
    const t = this.#targets
    if (changes.has('bundles') && t.ca) this.#refresh('bundle', () => t.ca?.reloadBundle())
    if (changes.has('revocations') && t.revocations)
      this.#refresh('revocations', () => t.revocations?.refresh())
    if (changes.has('policies') && t.policies) this.#refresh('policy', () => t.policies?.refresh())
    if (changes.has('approvals') && t.approvals) this.#refresh('approvals', () => t.approvals?.refresh())
    if (changes.has('entries')) this.#nudgeEntries()
  }

  /** Runs one refresh of `what` at a time; a change during a run queues exactly one more. */
  #refresh(what: string, run: () => Promise<unknown> | undefined): void {
    if (this.#running.has(what)) {
      this.#again.add(what)
      return
    }
    const p = (async () => {
      try {
        await run()
      } catch (err) {
        this.#logger.warn({ err: errorText(err), what }, 'refresh after a datastore change failed')
      } finally {
        this.#running.delete(what)
        if (this.#again.delete(what) && !this.#stopped) this.#refresh(what, run)
      }
    })()
    this.#running.set(what, p)
  }

  #nudgeEntries(): void {
    if (this.#nudgeTimer) return
    const wait = Math.max(0, this.#lastNudge + ENTRY_NUDGE_INTERVAL_MS - Date.now())
    this.#nudgeTimer = setTimeout(() => {
      this.#nudgeTimer = undefined
      this.#lastNudge = Date.now()
      for (const listener of [...this.#entryListeners]) {
        try {
          listener()
        } catch (err) {
          this.#logger.warn({ err: errorText(err) }, 'entries-changed listener failed')
        }
      }
    }, wait)
    this.#nudgeTimer.unref?.()
  }
}
