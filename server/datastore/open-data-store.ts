/**
 * Opens the datastore a server is configured with — the embedded SQLite file (the default,
 * `<data-dir>/datastore.sqlite3`) or a PostgreSQL database — behind the datastore boundary's
 * input checks (`validated-data-store.ts`), and names it for messages without secrets.
 */
import type { DataStore } from './datastore.js'
import { PostgresDataStore } from './postgres/postgres-data-store.js'
import { redactPostgresUrl } from './postgres/postgres-url.js'
import { SqliteDataStore } from './sqlite/sqlite-data-store.js'
import { validateDataStore } from './validated-data-store.js'

/** Which backend, and how to reach it. */
export type DatastoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres'
      /** Holds the password when one is configured: never log or print it (see {@link describeDatastore}). */
      readonly url: string
      readonly poolSize: number
      readonly statementTimeoutMs: number
    }

/**
 * The datastore for messages and logs: the SQLite path, or the PostgreSQL URL without its password.
 *
 * @example
 * describeDatastore({ kind: 'postgres', url: 'postgres://u:pw@db/sigil', ... }) // 'postgres://u@db/sigil'
 */
export function describeDatastore(spec: DatastoreSpec): string {
  return spec.kind === 'sqlite' ? spec.path : redactPostgresUrl(spec.url)
}

/**
 * Opens (and migrates) the configured datastore; rejects as the backend's `open` does.
 *
 * @example
 * const datastore = await openDataStore({ kind: 'sqlite', path: join(dataDir, 'datastore.sqlite3') })
 */
export async function openDataStore(
  spec: DatastoreSpec,
  options: { clock?: () => Date; onConnectionError?: (error: Error) => void } = {},
): Promise<DataStore> {
  const clock = options.clock ? { clock: options.clock } : {}
  const inner =
    spec.kind === 'sqlite'
      ? await SqliteDataStore.open({ path: spec.path, ...clock })
      : await PostgresDataStore.open({
          url: spec.url,
          poolSize: spec.poolSize,
          statementTimeoutMs: spec.statementTimeoutMs,
          ...clock,
          ...(options.onConnectionError ? { onConnectionError: options.onConnectionError } : {}),
        })
  return validateDataStore(inner)
}
