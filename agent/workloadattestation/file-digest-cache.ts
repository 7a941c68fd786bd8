/**
 * SHA-256 digests of executables and scripts for the `unix:sha256` and `proc:script_sha256`
 * selectors. Hashing `/usr/bin/node` (~100 MiB) takes ~100 ms, so digests are cached by the
 * file's identity and version: (device, inode, size, mtime, ctime). ctime is included because,
 * unlike mtime, a file's owner cannot set it back after rewriting the file.
 */
import { createHash } from 'node:crypto'
import type { Stats } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { SigilError } from '../../certs/errors.js'

const CHUNK_BYTES = 1 << 20
const DEFAULT_MAX_ENTRIES = 256

function versionKey(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`
}

/**
 * A bounded (least recently used) cache of file SHA-256 digests. The file is opened once and
 * both stat'ed and hashed through that descriptor, so the digest belongs to the inode that was
 * stat'ed; it is streamed in 1 MiB chunks, never read whole into memory.
 *
 * @example
 * const digests = new FileDigestCache()
 * await digests.sha256('/proc/1234/exe') // 'e3b0c442…' (hex)
 */
export class FileDigestCache {
  readonly #entries = new Map<string, string>()
  readonly #inflight = new Map<string, Promise<string>>()
  readonly #maxEntries: number
  /** Digests served from the cache (or joined while being computed), and digests computed. */
  readonly stats = { hits: 0, computed: 0 }

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES
    if (!(Number.isSafeInteger(max) && max > 0)) throw new TypeError('maxEntries must be a positive integer')
    this.#maxEntries = max
  }

  /**
   * The hex SHA-256 of the regular file at `path` (symlinks followed, `/proc/<pid>/exe` included).
   * Throws `ERR_ATTESTATION_FAILED` when it cannot be read, is not a regular file, or changes
   * while being hashed.
   */
  async sha256(path: string): Promise<string> {
    let handle: FileHandle | undefined
    try {
      handle = await open(path, 'r')
      const before = await handle.stat()
      if (!before.isFile()) throw new SigilError('ERR_ATTESTATION_FAILED', `${path} is not a regular file`)
      const key = versionKey(before)
      const cached = this.#entries.get(key)
      if (cached !== undefined) {
        this.#entries.delete(key)
        this.#entries.set(key, cached)
        this.stats.hits++
        return cached
      }
      let pending = this.#inflight.get(key)
      if (pending === undefined) {
        pending = this.#compute(handle, key, path).finally(() => this.#inflight.delete(key))
        this.#inflight.set(key, pending)
      } else {
        this.stats.hits++
      }
      return await pending
    } catch (cause) {
      if (cause instanceof SigilError) throw cause
      throw new SigilError('ERR_ATTESTATION_FAILED', `cannot hash ${path}`, { cause })
    } finally {
      await handle?.close().catch(() => {})
    }
  }

  async #compute(handle: FileHandle, key: string, path: string): Promise<string> {
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
    }
    if (versionKey(await handle.stat()) !== key) {
      throw new SigilError('ERR_ATTESTATION_FAILED', `${path} changed while it was being hashed`)
    }
    const digest = hash.digest('hex')
    this.stats.computed++
    this.#entries.set(key, digest)
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    return digest
  }
}
