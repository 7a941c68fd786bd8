/**
 * A thin layer over one `pg` pool: queries with positional parameters (SQL text always built
 * from fixed fragments, values always bound), transactions on one pooled client (a write is
 * all-or-nothing; a deadlock or serialization failure is retried a few times), BIGINT columns
 * read as numbers (every one we store is a millisecond time, a count or a sequence number,
 * far below 2^53), and the translation of driver errors into `SigilError`s.
 */
import pg from 'pg'
import { type ErrorCode, SigilError } from '../../../certs/errors.js'

/** Runs statements: the pool (one statement, autocommit) or a client inside a transaction. */
export interface Queryable {
  /** All rows. */
  rows<T>(sql: string, params?: readonly unknown[]): Promise<T[]>
  /** First row, or undefined. */
  one<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>
  /** Runs a write; resolves how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>
}

const INT8_OID = 20

/** Type parsers for our pools only (the driver's global table is left alone). */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format as 'text')
  },
}

function queryable(runner: pg.Pool | pg.PoolClient): Queryable {
  return {
    rows: async <T>(sql: string, params: readonly unknown[] = []) =>
      (await runner.query(sql, params as unknown[])).rows as T[],
    one: async <T>(sql: string, params: readonly unknown[] = []) =>
      (await runner.query(sql, params as unknown[])).rows[0] as T | undefined,
    run: async (sql: string, params: readonly unknown[] = []) =>
      (await runner.query(sql, params as unknown[])).rowCount ?? 0,
  }
}

/** SQLSTATEs after which the same transaction may simply be tried again. */
const RETRYABLE = new Set(['40001', '40P01'])
const ATTEMPTS = 3

/** Statements and transactions on a pool. */
export class PgSql {
  readonly #pool: pg.Pool
  readonly direct: Queryable

  constructor(pool: pg.Pool) {
    this.#pool = pool
    this.direct = queryable(pool)
  }

  /** Runs `fn` in a READ COMMITTED transaction (callers lock the rows they decide on): all of it commits, or none. */
  write<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#transaction('BEGIN', fn)
  }

  /** Runs `fn` in a read-only REPEATABLE READ transaction: one consistent snapshot for several queries. */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn)
  }

  async #transaction<T>(begin: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect()
      let broken: Error | undefined
      try {
        await client.query(begin)
        const result = await fn(queryable(client))
        await client.query('COMMIT')
        return result
      } catch (e) {
        try {
          await client.query('ROLLBACK')
        } catch (rollbackError) {
          broken = rollbackError as Error // the connection is unusable: the pool drops it
        }
        if (attempt < ATTEMPTS && RETRYABLE.has(sqlState(e) ?? '')) continue
        throw e
      } finally {
        client.release(broken)
      }
    }
  }
}

/** The SQLSTATE of a server error, when it is one. */
export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return e instanceof pg.DatabaseError && typeof code === 'string' ? code : undefined
}

/** Which `SigilError` code a unique violation means for one operation. */
export interface ErrorContext {
  /** What was being done, for the message (e.g. "create entry"). */
  readonly what: string
  /** The code for a uniqueness violation; without it, one is `ERR_DATASTORE`. */
  readonly unique?: ErrorCode
  /** The message for a uniqueness violation. */
  readonly uniqueMessage?: string
  /** Every pooled connection was in use when the call failed (its wait for one may have timed out). */
  readonly poolBusy?: { readonly size: number }
}

/** Node's socket errors that mean "the database is not reachable right now". */
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // a Unix socket path that is not there (yet)
])

/** True when `e` means the database could not be reached or went away (worth retrying later). */
export function isUnreachable(e: unknown): boolean {
  if (e instanceof pg.DatabaseError) return false
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code === 'string' && NETWORK_ERRORS.has(code)) return true
  const message = e instanceof Error ? e.message : ''
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection timeout|Client has encountered a connection error/i.test(
    message,
  )
}

/**
 * Translates a driver error: unique violations become the context's code; an unreachable or
 * restarting database, a statement timeout, too many connections, a deadlock or serialization
 * failure `ERR_UNAVAILABLE`; a full disk `ERR_DATASTORE_FULL`; anything else from the driver
 * `ERR_DATASTORE` (cause attached). Our own `SigilError`s and `TypeError`s pass through.
 * Messages carry the SQLSTATE, never connection parameters.
 */
export function translatePgError(e: unknown, ctx: ErrorContext): unknown {
  if (e instanceof SigilError || e instanceof TypeError) return e
  const state = sqlState(e)
  if (state === undefined) {
    if (ctx.poolBusy && e instanceof Error && /timeout exceeded when trying to connect/i.test(e.message)) {
      // pg reports a wait for a free pooled connection like a failed connect: say which it was
      return new SigilError(
        'ERR_UNAVAILABLE',
        `datastore unavailable: ${ctx.what} (all ${ctx.poolBusy.size} pooled connections busy; raise --datastore-pool-size)`,
        { cause: e },
      )
    }
    if (isUnreachable(e)) {
      const code = (e as { code?: unknown }).code
      return new SigilError(
        'ERR_UNAVAILABLE',
        `datastore unavailable: ${ctx.what} (${typeof code === 'string' ? code : 'connection lost'})`,
        { cause: e },
      )
    }
    if (!(e instanceof Error)) return e
    return new SigilError('ERR_DATASTORE', `datastore: ${ctx.what} failed`, { cause: e })
  }
  if (state === '23505' && ctx.unique !== undefined) {
    return new SigilError(ctx.unique, ctx.uniqueMessage ?? `${ctx.what}: already exists`, { cause: e })
  }
  if (state === '53100') {
    return new SigilError('ERR_DATASTORE_FULL', `datastore: no space left (${ctx.what})`, { cause: e })
  }
  if (
    state === '57014' || // statement timeout (query_canceled)
    state.startsWith('08') || // connection exceptions
    state.startsWith('57P') || // server shutting down / starting up
    state === '53300' || // too many connections
    RETRYABLE.has(state) ||
    state === '55P03' // lock not available
  ) {
    return new SigilError('ERR_UNAVAILABLE', `datastore unavailable: ${ctx.what} (SQLSTATE ${state})`, {
      cause: e,
    })
  }
  return new SigilError('ERR_DATASTORE', `datastore: ${ctx.what} failed (SQLSTATE ${state})`, { cause: e })
}
