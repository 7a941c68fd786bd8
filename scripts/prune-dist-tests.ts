/**
 * `npm test` runs the compiled tests, dist/test/**\/*.test.js. tsc never deletes an output whose
 * source is gone, so a renamed or deleted test would keep running from dist/: this removes every
 * file under dist/test/ whose test/ source no longer exists. Run after `tsc -b tsconfig.test.json`
 * (`npm run build:test`).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The source a compiled test file came from: `x.test.js`, `.js.map`, `.d.ts`, `.d.ts.map` → `x.test.ts`. */
function sourceOf(compiled: string): string {
  return compiled.replace(/\.(?:js|js\.map|d\.ts|d\.ts\.map)$/, '.ts')
}

/**
 * Deletes the files under `distTestDir` whose source (same relative path under `testDir`, `.ts`)
 * is missing; files that are not tsc outputs are left alone. Returns the deleted paths.
 */
export function pruneStaleTestOutputs(distTestDir: string, testDir: string): string[] {
  const removed: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        walk(path)
        continue
      }
      const source = join(testDir, sourceOf(relative(distTestDir, path)))
      if (source.endsWith('.ts') && !existsSync(source)) {
        rmSync(path)
        removed.push(path)
      }
    }
  }
  if (existsSync(distTestDir)) walk(distTestDir)
  return removed
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
  for (const path of pruneStaleTestOutputs(join(root, 'dist/test'), join(root, 'test'))) {
    console.log(`removed ${relative(root, path)} (its source is gone)`)
  }
}
