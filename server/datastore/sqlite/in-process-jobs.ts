/**
 * SQLite's `runExclusive`: a mutex per (database file, job name) in this process only — every
 * handle this process opens on one file shares it, another process does not. That is enough for
 * SQLite: its writers are serialized by the file's write lock anyway, and every job guarded this
 * way (CA rotation, purges) is idempotent, so the rare overlap with a second process on the same
 * file costs repeated work, never a wrong result. Several servers that must really exclude each
 * other share PostgreSQL (advisory locks, `../postgres/postgres-data-store.ts`).
 *
 * Trust: job names are the server's own constants.
 */

/** Keys of the jobs running now: `<realpath of the file>\0<name>`. */
const running = new Set<string>()

/**
 * Runs `job` unless a job of the same name on the same file is running in this process.
 *
 * @example
 * await runInProcessExclusive('/data/datastore.sqlite3', 'ca-rotation', rotate) // { ran: true, value }
 */
export async function runInProcessExclusive<T>(
  file: string,
  name: string,
  job: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const key = `${file}\0${name}`
  if (running.has(key)) return { ran: false }
  running.add(key)
  try {
    return { ran: true, value: await job() }
  } finally {
    running.delete(key)
  }
}
