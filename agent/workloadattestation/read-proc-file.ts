/**
 * Reads a small procfs file synchronously. procfs lives in memory, so a synchronous read costs a
 * few µs where a thread-pool round trip costs ~25 µs. procfs files report size 0, so this simply
 * reads until end of file (skipping the `fstat` that `readFileSync` would make). The agent reads
 * `/proc/<pid>/stat` of every held process every second, so the bytes are read into one scratch
 * buffer that is reused (it only grows) and only the content is copied out or decoded: no fresh
 * 16 KB buffer per read.
 */
import { closeSync, openSync, readSync } from 'node:fs'

const INITIAL_SCRATCH_BYTES = 16 * 1024

/** Reused by every read (reads are synchronous, so one at a time); replaced by a larger one when a file does not fit. */
let scratch = Buffer.allocUnsafeSlow(INITIAL_SCRATCH_BYTES)

/** Reads the whole file into `scratch`; returns its length. */
function readIntoScratch(path: string): number {
  const fd = openSync(path, 'r')
  try {
    let length = 0
    for (;;) {
      if (length === scratch.length) {
        const larger = Buffer.allocUnsafeSlow(scratch.length * 2)
        scratch.copy(larger)
        scratch = larger
      }
      const n = readSync(fd, scratch, length, scratch.length - length, null)
      if (n === 0) return length
      length += n
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * The whole content of a procfs file, in a buffer of its own. Throws the `fs` error (with its
 * `code`) on failure.
 *
 * @example
 * readProcFile('/proc/self/cmdline')
 */
export function readProcFile(path: string): Buffer {
  const length = readIntoScratch(path) // first: it may replace `scratch`
  return Buffer.from(scratch.subarray(0, length))
}

/**
 * The whole content of a procfs file as UTF-8 text. Throws the `fs` error (with its `code`) on
 * failure.
 *
 * @example
 * readProcText('/proc/self/status')
 */
export function readProcText(path: string): string {
  const length = readIntoScratch(path) // first: it may replace `scratch`
  return scratch.toString('utf8', 0, length)
}
