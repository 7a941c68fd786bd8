/** The version printed by `--version`: the `version` field of Sigil's package.json. */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Sigil's version, read from the nearest package.json above this file named `sigil`
 * (works from the sources and from `dist/`).
 *
 * @example
 * packageVersion() // '0.1.0'
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'sigil' && pkg.version) return pkg.version
    } catch {
      // not here; look one level up
    }
    const up = dirname(dir)
    if (up === dir) return 'unknown'
    dir = up
  }
}
