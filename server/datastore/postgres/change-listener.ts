/**
 * PostgreSQL's side of `watchChanges`: a dedicated `pg.Client` (not from the pool, so a pool
 * under load never delays a notification and LISTEN never pins a pooled connection) runs
 * `LISTEN sigil_changes`; migration 9's triggers NOTIFY `'<kind>:<counter>'` at each commit that
 * changed watched data. When the connection drops (database restart, pg_terminate_backend, network)
 * it reconnects with backoff (100 ms doubling to 5 s) and then reports every kind, since
 * notifications may have been missed. Every {@link RECONCILE_MS} it also compares the
 * `changed:<kind>` counters, through the pool, with the highest value seen and reports any that
 * moved: the fallback for a notification lost any other way.
 *
 * Trust: notification payloads come from our own triggers, but any role that can connect may
 * NOTIFY the channel. So a payload is only a hint: an unknown kind or a malformed payload is
 * ignored, a well-formed one is reported (a forged one costs a needless reload), and its counter
 * is never believed over the database's — it only spares the reconcile from reporting again a
 * change a notification already carried with exactly the counter now stored. A forged payload
 * can therefore never silence a real change.
 */
import pg from 'pg'
import { type ChangeFeed, isDataChange } from '../change-feed.js'
import type { DataChange } from '../datastore.js'
import { PG_TYPES, type Queryable } from './pg-sql.js'

/** The channel migration 9's triggers NOTIFY. */
export const CHANGE_CHANNEL = 'sigil_changes'

/** The application_name of the listening connection (what pg_stat_activity shows). */
export const LISTEN_APPLICATION_NAME = 'sigil-server-listen'

/** How often the counters are compared, in case a notification was missed. */
export const RECONCILE_MS = 5_000

const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5_000

/** How to reach the database; the pool runs the reconcile. */
export interface ChangeListenerOptions {
  readonly url: string
  readonly connectTimeoutMs: number
  readonly pool: Queryable
  readonly feed: ChangeFeed
}

/** Reads the `changed:<kind>` counters. */
async function readCounters(q: Queryable): Promise<Map<DataChange, number>> {
  const rows = await q.rows<{ name: string; value: number }>(
    "SELECT name, value FROM sigil_counters WHERE name LIKE 'changed:%'",
  )
  const counters = new Map<DataChange, number>()
  for (const { name, value } of rows) {
    const kind = name.slice('changed:'.length)
    if (isDataChange(kind)) counters.set(kind, Number(value))
  }
  return counters
}

/** One LISTEN connection plus the reconcile; `start` and `stop` follow the feed's subscribers. */
export class ChangeListener {
  readonly #options: ChangeListenerOptions
  /** The counter per kind as last read from the database (at connect, or by the reconcile). */
  readonly #seen = new Map<DataChange, number>()
  /** The counter the last notification of each kind carried (untrusted: compared, never stored as seen). */
  readonly #lastNotified = new Map<DataChange, number>()
  #running = false
  /** Bumped by every start and stop: an old connection attempt that finishes late is discarded. */
  #generation = 0
  #client: pg.Client | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #reconcileTimer: NodeJS.Timeout | undefined
  #backoffMs = BACKOFF_FIRST_MS
  #reconciling = false

  constructor(options: ChangeListenerOptions) {
    this.#options = options
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#generation++
    this.#backoffMs = BACKOFF_FIRST_MS
    this.#connect(this.#generation)
    this.#reconcileTimer = setInterval(() => void this.#reconcile(), RECONCILE_MS)
    this.#reconcileTimer.unref()
  }

  stop(): void {
    if (!this.#running) return
    this.#running = false
    this.#generation++
    clearTimeout(this.#retryTimer)
    clearInterval(this.#reconcileTimer)
    this.#retryTimer = undefined
    this.#reconcileTimer = undefined
    this.#options.feed.down()
    const client = this.#client
    this.#client = undefined
    client?.end().catch(() => {})
  }

  async #connect(generation: number): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: this.#options.connectTimeoutMs,
      keepAlive: true,
      application_name: LISTEN_APPLICATION_NAME,
      types: PG_TYPES,
    })
    let failed = false
    const fail = () => {
      if (failed) return
      failed = true
      client.end().catch(() => {})
      if (this.#client === client) this.#client = undefined
      if (generation !== this.#generation) return
      this.#options.feed.down()
      this.#retryTimer = setTimeout(() => this.#connect(generation), this.#backoffMs)
      this.#retryTimer.unref()
      this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS)
    }
    client.on('error', fail)
    client.on('end', fail)
    client.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL) this.#notified(n.payload ?? '')
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANGE_CHANNEL}`)
      // read after LISTEN: a commit between the two is both notified and counted, never lost
      const counters = await readCounters({
        rows: async (sql) => (await client.query(sql)).rows,
        one: async (sql) => (await client.query(sql)).rows[0],
        run: async (sql) => (await client.query(sql)).rowCount ?? 0,
      })
      if (generation !== this.#generation || failed) {
        client.end().catch(() => {})
        return
      }
      this.#client = client
      this.#backoffMs = BACKOFF_FIRST_MS
      for (const [kind, value] of counters) this.#seen.set(kind, value)
      this.#options.feed.live()
    } catch {
      fail()
    }
  }

  /** A notification: `'<kind>:<counter>'` (see the module comment for how far it is believed). */
  #notified(payload: string): void {
    const parts = payload.split(':')
    const kind = parts[0]
    if (parts.length !== 2 || !isDataChange(kind) || !/^\d{1,15}$/.test(parts[1]!)) return
    this.#lastNotified.set(kind, Number(parts[1]))
    this.#options.feed.report([kind])
  }

  /**
   * Reports the kinds whose stored counter moved since last read, except one whose last
   * notification carried exactly that value (already reported).
   */
  async #reconcile(): Promise<void> {
    if (this.#reconciling || !this.#running) return
    this.#reconciling = true
    try {
      const counters = await readCounters(this.#options.pool)
      if (!this.#running) return
      const moved: DataChange[] = []
      for (const [kind, value] of counters) {
        if (this.#seen.get(kind) === value) continue
        this.#seen.set(kind, value)
        if (this.#lastNotified.get(kind) !== value) moved.push(kind)
      }
      this.#options.feed.report(moved)
    } catch {
      // the database is unreachable: the LISTEN connection's reconnect reports everything once it is back
    } finally {
      this.#reconciling = false
    }
  }
}
