/**
 * Opens a SQLite file the way the datastore needs it: parent directory created 0700, the
 * file itself 0600 (SQLite gives its -wal and -shm files the same mode), WAL journal,
 * foreign keys enforced, a busy timeout for other processes' locks, synchronous=NORMAL
 * (durable at each checkpoint; with WAL a crash loses at most the last commits, never
 * consistency).
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { SigilError } from '../../../certs/errors.js'
import { isNoSpace } from './sql.js'

/** How long a statement waits for another connection's lock before failing, by default. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000

/**
 * Opens (creating if needed) the database file at `path` with the pragmas above. Throws
 * `ERR_DATASTORE` (cause attached) when the file cannot be opened or is not a database.
 *
 * @example
 * const db = openSqliteFile('/var/lib/sigil/server/datastore.sqlite3')
 */
export function openSqliteFile(path: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): Database.Database {
  if (typeof path !== 'string' || path === '' || path === ':memory:') {
    throw new TypeError('path must name a database file')
  }
  let db: Database.Database | undefined
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    closeSync(openSync(path, 'a', 0o600))
    chmodSync(path, 0o600)
    db = new Database(path, { fileMustExist: true, timeout: busyTimeoutMs })
    const mode = db.pragma('journal_mode = WAL', { simple: true })
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, expected wal`)
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    if (db.pragma('foreign_keys', { simple: true }) !== 1)
      throw new Error('foreign keys could not be enabled')
    return db
  } catch (e) {
    db?.close()
    if (isNoSpace(e)) {
      throw new SigilError('ERR_DATASTORE_FULL', `datastore: no space left (cannot open ${path})`, {
        cause: e,
      })
    }
    throw new SigilError('ERR_DATASTORE', `cannot open datastore ${path}: ${(e as Error).message}`, {
      cause: e,
    })
  }
}
