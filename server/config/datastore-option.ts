/**
 * The `--datastore` option and its PostgreSQL companions, resolved into a {@link DatastoreSpec}.
 * Messages never echo the value (it may hold a password, or a mistyped one); a password on the
 * command line itself is refused, because every local user can read a process's argv.
 */
import { join, resolve } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import type { DatastoreSpec } from '../datastore/open-data-store.js'
import { hasPassword, isPostgresUrl } from '../datastore/postgres/postgres-url.js'
import { parseDurationSeconds } from './duration.js'

/** The raw option values (strings as given, or undefined when unset). */
export interface DatastoreOptionValues {
  readonly datastore: string | undefined
  readonly poolSize: string | number | undefined
  readonly statementTimeout: string | undefined
}

function invalid(message: string): SigilError {
  return new SigilError('ERR_CONFIG_INVALID', message)
}

/** The `--datastore` value given on the command line itself (`--datastore X` or `--datastore=X`), if any. */
function datastoreFlag(args: readonly string[]): string | undefined {
  let found: string | undefined
  for (const [i, a] of args.entries()) {
    if (a === '--datastore') found = args[i + 1]
    else if (a.startsWith('--datastore=')) found = a.slice('--datastore='.length)
  }
  return found
}

function parsePoolSize(value: string | number | undefined): number {
  const n = Number(value ?? 10)
  if (!Number.isSafeInteger(n) || n < 2 || n > 1000) {
    throw invalid(
      'datastore-pool-size: must be a whole number from 2 to 1000 (a purge holds one connection for its advisory lock while it queries through another)',
    )
  }
  return n
}

/** `500ms`, or a duration of {@link parseDurationSeconds} → milliseconds. */
function parseTimeoutMs(value: string | undefined): number {
  const text = String(value ?? '10s').trim()
  const ms = /^(\d+)\s*ms$/.exec(text)
  if (ms) {
    const n = Number(ms[1])
    if (n > 0 && Number.isSafeInteger(n)) return n
    throw invalid('datastore-statement-timeout: must be longer than 0 ms')
  }
  return parseDurationSeconds(text, 'datastore-statement-timeout') * 1000
}

/**
 * Resolves the datastore from option values; `args` is the command line, checked for a password.
 *
 * @example
 * datastoreSpec({ datastore: undefined, poolSize: undefined, statementTimeout: undefined }, '/var/lib/sigil', [])
 * // { kind: 'sqlite', path: '/var/lib/sigil/datastore.sqlite3' }
 */
export function datastoreSpec(
  values: DatastoreOptionValues,
  dataDir: string,
  args: readonly string[],
): DatastoreSpec {
  const spec = values.datastore?.trim()
  if (spec === undefined || spec === '') return { kind: 'sqlite', path: join(dataDir, 'datastore.sqlite3') }
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length)
    if (path === '') throw invalid('datastore: sqlite: needs a file path (sqlite:PATH)')
    return { kind: 'sqlite', path: resolve(path) }
  }
  if (!isPostgresUrl(spec)) {
    throw invalid(
      'datastore: must be sqlite:PATH or a postgres:// (postgresql://) URL (the value is not shown)',
    )
  }
  const flag = datastoreFlag(args)
  if (flag !== undefined && hasPassword(flag)) {
    throw invalid(
      'datastore: a password on the command line is readable by every local user (ps, /proc); ' +
        'pass the URL in SIGIL_DATASTORE or the config file, or the password in PGPASSWORD or ~/.pgpass',
    )
  }
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw invalid('datastore: the postgres:// URL does not parse (the value is not shown)')
  }
  if (url.pathname.length <= 1)
    throw invalid('datastore: the postgres:// URL must name a database (…/DATABASE)')
  return {
    kind: 'postgres',
    url: spec,
    poolSize: parsePoolSize(values.poolSize),
    statementTimeoutMs: parseTimeoutMs(values.statementTimeout),
  }
}
