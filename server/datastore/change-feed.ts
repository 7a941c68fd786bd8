/**
 * The listener side of {@link DataStore.watchChanges}, shared by both backends: a backend reports
 * which kinds of data changed (from its LISTEN connection, its reconcile or its poll) and each
 * subscriber is told, coalesced — at most one call per {@link COALESCE_MS}, the first one at once —
 * so a storm of commits costs a subscriber a few calls a second, not one per commit. When the
 * backend's watch (re)starts (`live`), it may have missed changes, so every subscriber is then told
 * every kind once; a new subscriber is likewise told every kind once, when the watch is live.
 *
 * Trust: listeners are the server's own code. A listener that throws is not called again for that
 * report and does not stop the feed (its error goes to `onListenerError`).
 */
import type { DataChange } from './datastore.js'

/** Every kind of {@link DataChange}, in a fixed order. */
export const DATA_CHANGE_KINDS: readonly DataChange[] = [
  'entries',
  'agents',
  'bundles',
  'revocations',
  'policies',
  'tasks',
  'approvals',
]

/** True when `value` names a {@link DataChange} kind. */
export function isDataChange(value: unknown): value is DataChange {
  return (DATA_CHANGE_KINDS as readonly unknown[]).includes(value)
}

/** The shortest gap between two calls of one listener (at most 5 calls a second). */
export const COALESCE_MS = 200

interface Subscriber {
  readonly listener: (changes: ReadonlySet<DataChange>) => void
  pending: Set<DataChange>
  lastCallAt: number
  timer: NodeJS.Timeout | undefined
}

/** Hooks a backend gives the feed: start its watch on the first subscriber, stop it after the last. */
export interface ChangeFeedHooks {
  /** The first subscriber arrived: start watching (poll, LISTEN, reconcile); call `live()` once in place. */
  readonly start: () => void
  /** The last subscriber left, or the store closed: stop watching and release what `start` took. */
  readonly stop: () => void
  /** Told about a listener's exception (default: ignored). */
  readonly onListenerError?: (error: unknown) => void
}

/** Subscribers and their coalescing; see the module comment. */
export class ChangeFeed {
  readonly #hooks: ChangeFeedHooks
  readonly #subscribers = new Set<Subscriber>()
  #live = false
  #closed = false

  constructor(hooks: ChangeFeedHooks) {
    this.#hooks = hooks
  }

  /** Adds a listener; returns its unsubscribe function (calling it twice is harmless). */
  subscribe(listener: (changes: ReadonlySet<DataChange>) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function')
    if (this.#closed) return () => {}
    const sub: Subscriber = { listener, pending: new Set(), lastCallAt: 0, timer: undefined }
    this.#subscribers.add(sub)
    if (this.#subscribers.size === 1) this.#hooks.start()
    if (this.#live) this.#add(sub, DATA_CHANGE_KINDS)
    return () => this.#unsubscribe(sub)
  }

  /** True while someone listens (the backend's watch should be running). */
  get active(): boolean {
    return this.#subscribers.size > 0 && !this.#closed
  }

  /** The backend's watch is in place (again): changes may have been missed, so every kind is reported. */
  live(): void {
    this.#live = true
    this.report(DATA_CHANGE_KINDS)
  }

  /** The backend's watch is down (it will call {@link live} when it is back). */
  down(): void {
    this.#live = false
  }

  /** `kinds` changed: tell every subscriber, coalesced. */
  report(kinds: Iterable<DataChange>): void {
    const list = [...kinds]
    if (list.length === 0) return
    for (const sub of this.#subscribers) this.#add(sub, list)
  }

  /** Stops everything for good (the store is closing). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    const had = this.#subscribers.size > 0
    for (const sub of this.#subscribers) clearTimeout(sub.timer)
    this.#subscribers.clear()
    if (had) this.#hooks.stop()
  }

  #unsubscribe(sub: Subscriber): void {
    if (!this.#subscribers.delete(sub)) return
    clearTimeout(sub.timer)
    if (this.#subscribers.size === 0 && !this.#closed) {
      this.#live = false
      this.#hooks.stop()
    }
  }

  #add(sub: Subscriber, kinds: Iterable<DataChange>): void {
    for (const k of kinds) sub.pending.add(k)
    if (sub.timer !== undefined) return
    const wait = Math.max(0, sub.lastCallAt + COALESCE_MS - Date.now())
    sub.timer = setTimeout(() => this.#flush(sub), wait)
    sub.timer.unref()
  }

  #flush(sub: Subscriber): void {
    sub.timer = undefined
    if (!this.#subscribers.has(sub) || sub.pending.size === 0) return
    const changes: ReadonlySet<DataChange> = sub.pending
    sub.pending = new Set()
    sub.lastCallAt = Date.now()
    try {
      sub.listener(changes)
    } catch (e) {
      this.#hooks.onListenerError?.(e)
    }
  }
}
