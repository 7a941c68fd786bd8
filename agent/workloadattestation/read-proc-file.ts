/**
 * Reads a small procfs file synchronously. procfs lives in memory, so a synchronous read costs a
 * few µs where a thread-pool round trip costs ~25 µs. procfs files report size 0, so this simply
 * reads until end of file (skipping the `fstat` that `readFileSync` would make).
 */
import { closeSync, openSync, readSync } from 'node:fs'

const CHUNK_BYTES = 16 * 1024

/**
 * The whole content of a procfs file. Throws the `fs` error (with its `code`) on failure.
 *
 * @example
 * readProcFile('/proc/self/status').toString('utf8')
 */
export function readProcFile(path: string): Buffer {
  const fd = openSync(path, 'r')
  try {
    const chunks: Buffer[] = []
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null)
      if (n === 0) break
      chunks.push(n === CHUNK_BYTES ? chunk : chunk.subarray(0, n))
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  } finally {
    closeSync(fd)
  }
}
