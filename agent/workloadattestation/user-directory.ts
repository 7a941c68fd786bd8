/**
 * User and group names for the `unix:user`, `unix:group` and `unix:supplementary_group`
 * selectors. The default reads the local files `/etc/passwd` and `/etc/group` (NSS sources such
 * as LDAP or sssd are not consulted: Node has no `getpwuid`); an ID without a local name simply
 * yields no name selector.
 */
import { readFileSync, statSync } from 'node:fs'

/** Looks up names by numeric ID; `undefined` when the ID has no name. */
export interface UserDirectory {
  userName(uid: number): string | undefined | Promise<string | undefined>
  groupName(gid: number): string | undefined | Promise<string | undefined>
}

interface CachedTable {
  readonly key: string
  readonly names: ReadonlyMap<number, string>
  readonly checkedAt: number
}

const DEFAULT_RECHECK_MS = 1000

/** Parses `name:password:id:...` lines into id → first name (what `getpwuid`/`getgrgid` return). */
function parseTable(text: string): Map<number, string> {
  const names = new Map<number, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue
    const [name, , id] = line.split(':')
    if (name === undefined || name === '' || id === undefined || !/^\d{1,10}$/.test(id)) continue
    const n = Number(id)
    if (!names.has(n)) names.set(n, name)
  }
  return names
}

/**
 * A {@link UserDirectory} over passwd/group files. Each file is parsed once and re-read only when
 * its inode, size, mtime or ctime changes, which is checked at most once per `recheckMs` (default
 * 1 s). A missing or unreadable file means "no names". Reads are synchronous: small local files.
 *
 * @example
 * const users = new EtcUserDirectory({ passwdPath: '/etc/passwd', groupPath: '/etc/group' })
 * users.userName(0) // 'root'
 */
export class EtcUserDirectory implements UserDirectory {
  readonly #passwdPath: string
  readonly #groupPath: string
  readonly #recheckMs: number
  readonly #now: () => number
  readonly #cache = new Map<string, CachedTable>()

  constructor(
    options: { passwdPath?: string; groupPath?: string; recheckMs?: number; now?: () => number } = {},
  ) {
    this.#passwdPath = options.passwdPath ?? '/etc/passwd'
    this.#groupPath = options.groupPath ?? '/etc/group'
    this.#recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS
    this.#now = options.now ?? Date.now
  }

  userName(uid: number): string | undefined {
    return this.#table(this.#passwdPath).get(uid)
  }

  groupName(gid: number): string | undefined {
    return this.#table(this.#groupPath).get(gid)
  }

  #table(path: string): ReadonlyMap<number, string> {
    const now = this.#now()
    const cached = this.#cache.get(path)
    if (cached !== undefined && now - cached.checkedAt < this.#recheckMs) return cached.names
    let key: string
    try {
      const s = statSync(path)
      key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`
    } catch {
      return new Map()
    }
    if (cached?.key === key) {
      this.#cache.set(path, { ...cached, checkedAt: now })
      return cached.names
    }
    let names: Map<number, string>
    try {
      names = parseTable(readFileSync(path, 'utf8'))
    } catch {
      return new Map()
    }
    this.#cache.set(path, { key, names, checkedAt: now })
    return names
  }
}
