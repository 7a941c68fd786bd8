/**
 * Writes minted credential files into one directory (created 0700): each through a temporary
 * file of its final mode and a rename, so a reader never sees a half-written file and a key is
 * never readable by others, even for a moment. On failure nothing new is left behind.
 */
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { errorText } from '../../common/errors/error-text.js'

/** One file to write: its name in the directory, its content and its mode (0600 for keys). */
export interface CredentialFile {
  readonly name: string
  readonly content: string
  readonly mode: number
}

/**
 * Writes `files` into `dir` and returns their paths in the same order. Throws an Error naming
 * `--write` and the directory when anything fails.
 *
 * @example
 * const [keyPath] = await writeCredentialFiles(dir, [{ name: 'key.pem', content: pem, mode: 0o600 }])
 */
export async function writeCredentialFiles(dir: string, files: readonly CredentialFile[]): Promise<string[]> {
  const staged: [string, string][] = []
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    for (const f of files) {
      const path = join(dir, f.name)
      const tmp = `${path}.${process.pid}.tmp`
      staged.push([tmp, path])
      await writeFile(tmp, f.content, { mode: f.mode })
      await chmod(tmp, f.mode)
    }
    for (const [tmp, path] of staged) await rename(tmp, path)
  } catch (cause) {
    await Promise.all(staged.map(([tmp]) => rm(tmp, { force: true })))
    throw new Error(`--write: cannot write into ${dir}: ${errorText(cause)}`, { cause })
  }
  return staged.map(([, path]) => path)
}
