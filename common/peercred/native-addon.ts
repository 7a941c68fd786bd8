/**
 * Loads the `peercred` native addon (agent/peercred/peercred.cc; used by the agent's Workload API and
 * the server's admin socket, built by `npm install` through
 * node-gyp into `build/Release/peercred.node` at the package root) and checks its shape.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The functions the native addon exports; each throws an `Error` with `errno`/`code` on failure. */
export interface PeercredAddon {
  /** `getsockopt(SO_PEERCRED)`: who called `connect()` on the other end of a Unix socket. */
  getPeerCred(fd: number): { pid: number; uid: number; gid: number }
  /** `getsockopt(SO_PEERPIDFD)`: a pidfd for that process, or -1 when the kernel lacks the option. */
  getPeerPidfd(fd: number): number
  /** `pidfd_send_signal(pidfd, 0)`: false once the process has exited. */
  pidfdIsAlive(pidfd: number): boolean
  /** `close(2)`. */
  closeFd(fd: number): void
}

const ADDON_RELATIVE_PATH = join('build', 'Release', 'peercred.node')
const ADDON_FUNCTIONS = ['getPeerCred', 'getPeerPidfd', 'pidfdIsAlive', 'closeFd'] as const

/**
 * The nearest folder at or above `startDir` that holds a `package.json`. Works from the
 * TypeScript sources (agent/peercred/) and from the compiled output (dist/agent/peercred/).
 *
 * @example
 * findPackageRoot(dirname(fileURLToPath(import.meta.url))) // '/work/main'
 */
export function findPackageRoot(startDir: string): string {
  let dir = startDir
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json found above ${startDir}`)
    dir = parent
  }
}

let loaded: PeercredAddon | undefined

/**
 * Loads (once per process, like `require` itself) and returns the native addon. Throws a plain
 * `Error` naming the expected path when the addon was not built (run `npm install`).
 *
 * @example
 * const { pid } = loadPeercredAddon().getPeerCred(fd)
 */
export function loadPeercredAddon(): PeercredAddon {
  if (loaded !== undefined) return loaded
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)))
  const path = join(root, ADDON_RELATIVE_PATH)
  let mod: unknown
  try {
    mod = createRequire(import.meta.url)(path)
  } catch (cause) {
    throw new Error(`cannot load the peercred native addon from ${path} (run npm install)`, { cause })
  }
  if (typeof mod !== 'object' || mod === null) throw new Error(`${path} is not the peercred addon`)
  for (const name of ADDON_FUNCTIONS) {
    if (typeof (mod as Record<string, unknown>)[name] !== 'function') {
      throw new Error(`${path} is not the peercred addon (no ${name})`)
    }
  }
  loaded = mod as PeercredAddon
  return loaded
}
