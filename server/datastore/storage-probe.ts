/**
 * A write probe for the health check: can the server still write to its data dir? A full disk
 * does not show in reads (they keep working) and a SQLite write may squeeze into space its
 * files already hold, so the probe writes and syncs {@link PROBE_BYTES} of its own beside the
 * datastore and removes them. Trust: the probe file is 0600, random-named, and holds zeros.
 */
import { randomBytes } from 'node:crypto'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { isNoSpace } from './sqlite/sql.js'

/** How much the probe writes: room for a few SQLite pages and a key store save. */
export const PROBE_BYTES = 64 * 1024

/**
 * Resolves a problem line (`datastore: no space left on <dir>`) when `dir` cannot take
 * {@link PROBE_BYTES} more, or undefined when it can.
 *
 * @example
 * const problem = await probeStorage('/var/lib/sigil/server')
 */
export async function probeStorage(dir: string): Promise<string | undefined> {
  const path = join(dir, `.health-probe-${randomBytes(6).toString('hex')}`)
  let fh: Awaited<ReturnType<typeof open>> | undefined
  try {
    fh = await open(path, 'wx', 0o600)
    await fh.writeFile(Buffer.alloc(PROBE_BYTES))
    await fh.sync()
    return undefined
  } catch (e) {
    if (isNoSpace(e)) return `datastore: no space left on ${dir}`
    return `datastore: cannot write to ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`
  } finally {
    await fh?.close().catch(() => {})
    await unlink(path).catch(() => {})
  }
}
