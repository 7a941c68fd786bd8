/**
 * SQLite's side of `watchChanges`: migration 9's triggers bump a `changed:<kind>` counter in every
 * transaction that changes watched data, whoever commits it; every {@link POLL_MS} this reads
 * `PRAGMA data_version` (which moves when another connection — another server on the same
 * file — committed) and, when it moved or this connection wrote meanwhile, the counters, and
 * reports the kinds whose counter moved. Cheap: one pragma per poll while nothing changes.
 *
 * Trust: the counters are as trustworthy as the file (0600, the server's own).
 */
import type { ChangeFeed } from '../change-feed.js'
import { isDataChange } from '../change-feed.js'
import type { DataChange } from '../datastore.js'
import type { Sql } from './sql.js'

/** How often `PRAGMA data_version` is read while someone watches. */
export const POLL_MS = 200

/** Reads what the poll needs from the store's connection (throws on a closed or broken one). */
export interface ChangeSource {
  readonly sql: Sql
  readonly dataVersion: () => number
  /** True (and reset) when this connection committed a write since the last call. */
  readonly takeOwnWrites: () => boolean
}

function readCounters(sql: Sql): Map<DataChange, number> {
  const counters = new Map<DataChange, number>()
  for (const { name, value } of sql.all<{ name: string; value: number }>(
    "SELECT name, value FROM sigil_counters WHERE name LIKE 'changed:%'",
  )) {
    const kind = name.slice('changed:'.length)
    if (isDataChange(kind)) counters.set(kind, value)
  }
  return counters
}

/** The poll; `start` and `stop` follow the feed's subscribers. */
export class ChangePoll {
  readonly #source: ChangeSource
  readonly #feed: ChangeFeed
  #timer: NodeJS.Timeout | undefined
  #dataVersion = -1
  #counters = new Map<DataChange, number>()
  /** The counters must be read at the next poll (a read failed after this connection wrote). */
  #dirty = false

  constructor(source: ChangeSource, feed: ChangeFeed) {
    this.#source = source
    this.#feed = feed
  }

  start(): void {
    if (this.#timer !== undefined) return
    try {
      this.#dataVersion = this.#source.dataVersion()
      this.#source.takeOwnWrites()
      this.#counters = readCounters(this.#source.sql)
    } catch {
      // a busy or broken file: the first poll that reads the counters reports every kind
      this.#counters = new Map()
    }
    this.#timer = setInterval(() => this.#poll(), POLL_MS)
    this.#timer.unref()
    this.#feed.live()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#feed.down()
  }

  #poll(): void {
    try {
      const version = this.#source.dataVersion()
      if (this.#source.takeOwnWrites()) this.#dirty = true
      if (version === this.#dataVersion && !this.#dirty) return
      const counters = readCounters(this.#source.sql)
      this.#dataVersion = version
      this.#dirty = false
      const moved = [...counters].filter(([kind, value]) => this.#counters.get(kind) !== value)
      this.#counters = counters
      this.#feed.report(moved.map(([kind]) => kind))
    } catch {
      // busy (another process holds an exclusive lock) or closing: the next poll tries again
    }
  }
}
