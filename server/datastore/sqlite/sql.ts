/**
 * A thin layer over one better-sqlite3 connection: prepared statements cached by their SQL
 * text (the text is always built from fixed fragments; values are always bound), write
 * transactions taken IMMEDIATE (the write lock up front, so a read-then-write never fails
 * half-way on a lock upgrade), and the translation of driver errors into `SigilError`s.
 */
import Database from 'better-sqlite3'
import { type ErrorCode, SigilError } from '../../../certs/errors.js'

/** Named values bound to a statement's `@name` parameters. */
export type Params = Record<string, string | number | bigint | null>

/** Statement cache and transaction helpers for one connection. */
export class Sql {
  readonly #db: Database.Database
  readonly #statements = new Map<string, Database.Statement>()

  constructor(db: Database.Database) {
    this.#db = db
  }

  /** The cached prepared statement for `sql`. */
  statement(sql: string): Database.Statement {
    let s = this.#statements.get(sql)
    if (s === undefined) {
      s = this.#db.prepare(sql)
      this.#statements.set(sql, s)
    }
    return s
  }

  /** First row, or undefined. */
  get<T>(sql: string, params: Params = {}): T | undefined {
    return this.statement(sql).get(params) as T | undefined
  }

  /** All rows. */
  all<T>(sql: string, params: Params = {}): T[] {
    return this.statement(sql).all(params) as T[]
  }

  /** Runs a write; resolves how many rows changed. */
  run(sql: string, params: Params = {}): number {
    return this.statement(sql).run(params).changes
  }

  /** Runs `fn` in an IMMEDIATE transaction: all of it commits, or none (on any throw). */
  write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate()
  }

  /** Runs `fn` in a read transaction: one consistent snapshot for several queries. */
  read<T>(fn: () => T): T {
    return this.#db.transaction(fn).deferred()
  }
}

/** Which `SigilError` code a UNIQUE/PRIMARY KEY violation means for one operation. */
export interface ErrorContext {
  /** What was being done, for the message (e.g. "create entry"). */
  readonly what: string
  /** The code for a uniqueness violation; without it, one is `ERR_DATASTORE`. */
  readonly unique?: ErrorCode
  /** The message for a uniqueness violation. */
  readonly uniqueMessage?: string
}

/** True for an out-of-space failure: SQLite's SQLITE_FULL or the system's ENOSPC (and EDQUOT). */
export function isNoSpace(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT'
}

/**
 * Translates a driver error: uniqueness violations become the context's code, a busy or
 * locked database `ERR_UNAVAILABLE`, a full disk `ERR_DATASTORE_FULL` ("datastore: no space
 * left"), any other SQLite error `ERR_DATASTORE` (cause attached). Errors that are not
 * SQLite's (our own `SigilError`s and `TypeError`s) pass through unchanged.
 */
export function translateSqliteError(e: unknown, ctx: ErrorContext): unknown {
  if (isNoSpace(e)) {
    return new SigilError('ERR_DATASTORE_FULL', `datastore: no space left (${ctx.what})`, { cause: e })
  }
  if (!(e instanceof Database.SqliteError)) return e
  const code = e.code
  if (ctx.unique !== undefined && /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(code)) {
    return new SigilError(ctx.unique, ctx.uniqueMessage ?? `${ctx.what}: already exists`, { cause: e })
  }
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new SigilError('ERR_UNAVAILABLE', `datastore busy: ${ctx.what} (${code})`, { cause: e })
  }
  return new SigilError('ERR_DATASTORE', `datastore: ${ctx.what} failed (${code})`, { cause: e })
}
