/**
 * Workload attestation: turns the PID that the kernel reported for a Workload API caller (see
 * agent/peercred/) into selectors, read from `/proc/<pid>`. Nothing the caller sends is used.
 *
 * Selectors (SPIRE's `unix` attestor, same names and meaning):
 * - `unix:uid:<n>`, `unix:gid:<n>` — the *effective* IDs from the `Uid:`/`Gid:` lines of
 *   `/proc/<pid>/status` (SPIRE takes the second, effective, value too); `unix:user:<name>`,
 *   `unix:group:<name>` when the ID has a name.
 * - `unix:supplementary_gid:<n>` and `unix:supplementary_group:<name>` for each ID on the
 *   `Groups:` line.
 * - `unix:path:<path>` — the target of `/proc/<pid>/exe`; `unix:sha256:<hex>` — the SHA-256 of
 *   that executable (read through `/proc/<pid>/exe`), only when asked for.
 *
 * Sigil's `proc` selectors, which tell apart components running one interpreter as one user:
 * - `proc:script:<path>` — for Node.js and Python, the entry script: the first argument after the
 *   interpreter's own options, resolved against the process's cwd, symlinks resolved; emitted only
 *   if it is a regular file and the same file (device and inode) as the process sees it through
 *   `/proc/<pid>/root` (so a process in another mount namespace never gets a host file's path).
 *   The command line is the process's own claim: this separates components, it does not guard
 *   one user's processes from each other.
 * - `proc:script_sha256:<hex>` — the SHA-256 of that script as it is now, only when asked for.
 * - `proc:module:<name>` — `python -m <name>`.
 * - None of the three when the interpreter was given other code to run first (`--import`,
 *   `NODE_OPTIONS=--require …`, `PYTHONPATH`, `LD_PRELOAD`, … see injected-code.ts), or when
 *   `/proc/<pid>/environ` cannot be read.
 * - `proc:cgroup:<path>` — the unified (v2) cgroup path, e.g. `/system.slice/app.service`; on a
 *   pure cgroup v1 host, the `name=systemd` hierarchy's path.
 * - `proc:cgroup_v1:<controllers>:<path>` — one per cgroup v1 hierarchy (hybrid and v1 hosts).
 *
 * Credentials: when the caller's SO_PEERCRED uid/gid are given (`peer.uid`, `peer.gid`), they
 * must be the effective IDs in `/proc/<pid>/status` and own `/proc/<pid>` (see
 * process-fingerprint.ts): a process that has executed a setuid binary since it connected is
 * refused. The result carries a {@link ProcessFingerprint} (credentials, executable device and
 * inode) for the caller to compare across attestations of one connection.
 *
 * PID reuse: the start time from `/proc/<pid>/stat` is read before and after everything else and
 * must not change; with a pidfd (SO_PEERPIDFD) the process must also still be alive afterwards,
 * which proves that nothing read belonged to a later process with the same PID. Every failure is
 * a `SigilError` `ERR_ATTESTATION_FAILED`: attestation fails closed. A selector whose value could
 * not be written as `type:key:value` (control characters, over 1 KiB) is left out, which can only
 * make the caller match fewer entries.
 */
import { readlinkSync } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import { formatSelector, parseSelector, type Selector } from '../../certs/selector/selector.js'
import { parseCgroupMembership } from './cgroup-membership.js'
import { entryScript } from './entry-script.js'
import { FileDigestCache } from './file-digest-cache.js'
import { injectedCode } from './injected-code.js'
import { parseProcStatus } from './proc-status.js'
import {
  checkConnectCredentials,
  fingerprintChange,
  type ProcessFingerprint,
  readExecutableIdentity,
} from './process-fingerprint.js'
import { isNoSuchProcess, readProcessStartTime } from './process-start-time.js'
import { readProcFile, readProcText } from './read-proc-file.js'
import { EtcUserDirectory, type UserDirectory } from './user-directory.js'

/** The seams: where `/proc` is, how names are found, how a pidfd is checked, the digest cache. */
export interface WorkloadAttestorOptions {
  /** Default `/proc`. Tests point it at a fake tree. */
  readonly procRoot?: string
  /** Default: {@link EtcUserDirectory} over `/etc/passwd` and `/etc/group`. */
  readonly users?: UserDirectory
  /** Liveness check for pidfds (agent/peercred's `pidfdIsAlive`); needed to attest with a pidfd. */
  readonly pidfdIsAlive?: (pidfd: number) => boolean
  /** Default: a fresh {@link FileDigestCache}. */
  readonly digests?: FileDigestCache
}

/** The caller as the kernel reported it (agent/peercred's `PeerCredentials` fits). */
export interface PeerProcess {
  readonly pid: number
  readonly uid?: number
  readonly gid?: number
  readonly pidfd?: number
}

/** Optional, costly selectors: compute them only when some registration entry uses them. */
export interface AttestationWants {
  /** `unix:sha256` (hashing the executable, ~100 ms for `node` when not cached). */
  readonly sha256?: boolean
  /** `proc:script_sha256`. */
  readonly scriptSha256?: boolean
}

/** What attestation found, beyond the selectors (for logs and for the agent's cache). */
export interface AttestedProcessDetails {
  readonly uid: number
  readonly gid: number
  readonly exePath: string
  readonly scriptPath?: string
  readonly module?: string
  /** Why no `proc:script`/`proc:module` selector was given although there is an entry script. */
  readonly scriptWithheld?: string
  readonly cgroupPath?: string
}

/** The outcome of {@link WorkloadAttestor.attest}. `(pid, startTime)` names the process. */
export interface AttestationResult {
  readonly pid: number
  /** Clock ticks since boot (field 22 of `/proc/<pid>/stat`); compare with `readProcessStartTime`. */
  readonly startTime: number
  readonly selectors: readonly Selector[]
  readonly details: AttestedProcessDetails
  /** Credentials and executable as read (compare with `fingerprintChange`). */
  readonly fingerprint: ProcessFingerprint
}

function fail(pid: number, why: string, cause?: unknown): never {
  throw new SigilError(
    'ERR_ATTESTATION_FAILED',
    `process ${pid}: ${why}`,
    cause === undefined ? {} : { cause },
  )
}

/**
 * Derives a process's selectors from `/proc`. Cost measured on the development VM: ~150 µs for a
 * process without an entry script, ~250–400 µs with one (resolving it is asynchronous file I/O);
 * `unix:sha256` of `node` (~94 MiB) adds ~100 ms the first time, then comes from the cache.
 *
 * @example
 * const attestor = new WorkloadAttestor({ pidfdIsAlive })
 * const { selectors, startTime } = await attestor.attest(readPeerCredentials(socket))
 * selectors.map(formatSelector) // ['unix:uid:1000', ..., 'proc:script:/srv/app/main.js', ...]
 */
export class WorkloadAttestor {
  readonly #procRoot: string
  readonly #users: UserDirectory
  readonly #pidfdIsAlive: ((pidfd: number) => boolean) | undefined
  readonly #digests: FileDigestCache

  constructor(options: WorkloadAttestorOptions = {}) {
    this.#procRoot = options.procRoot ?? '/proc'
    this.#users = options.users ?? new EtcUserDirectory()
    this.#pidfdIsAlive = options.pidfdIsAlive
    this.#digests = options.digests ?? new FileDigestCache()
  }

  /**
   * Attests the process `peer.pid`. Throws `ERR_ATTESTATION_FAILED` when the process is gone, its
   * PID was reused meanwhile, or `/proc` cannot be read; `TypeError` for a bad `pid`, or a pidfd
   * without a configured `pidfdIsAlive`.
   */
  async attest(peer: PeerProcess, want: AttestationWants = {}): Promise<AttestationResult> {
    const { pid, pidfd } = peer
    if (!(Number.isSafeInteger(pid) && pid > 0)) throw new TypeError('pid must be a positive integer')
    if (pidfd !== undefined && this.#pidfdIsAlive === undefined) {
      throw new TypeError('a pidfd was given but the attestor has no pidfdIsAlive check')
    }
    try {
      const startTime = readProcessStartTime(pid, this.#procRoot)
      if (startTime === undefined) fail(pid, 'no such process')
      const found = await this.#read(peer, want)
      if (readProcessStartTime(pid, this.#procRoot) !== startTime) {
        fail(pid, 'the process exited or its PID was reused during attestation')
      }
      if (pidfd !== undefined && !this.#pidfdIsAlive!(pidfd)) {
        fail(pid, 'the process exited during attestation (pidfd)')
      }
      return { pid, startTime, ...found }
    } catch (e) {
      if (e instanceof SigilError && e.code === 'ERR_ATTESTATION_FAILED') throw e
      fail(pid, isNoSuchProcess(e) ? 'the process exited during attestation' : 'cannot read /proc', e)
    }
  }

  async #read(
    peer: PeerProcess,
    want: AttestationWants,
  ): Promise<Omit<AttestationResult, 'pid' | 'startTime'>> {
    const dir = join(this.#procRoot, String(peer.pid))
    // procfs is in memory: read it synchronously (see read-proc-file.ts). Files elsewhere (the
    // script, the executable's content) are read asynchronously, as they may be on slow storage.
    const status = parseProcStatus(readProcText(join(dir, 'status')))
    const exePath = readlinkSync(join(dir, 'exe'))
    const exe = readExecutableIdentity(dir, exePath)
    const cmdline = readProcFile(join(dir, 'cmdline'))
    const cgroupText = readProcText(join(dir, 'cgroup'))
    const uid = status.uid.effective
    const gid = status.gid.effective
    const values: [string, string, string][] = [['unix', 'uid', String(uid)]]
    const user = await this.#users.userName(uid)
    if (user !== undefined) values.push(['unix', 'user', user])
    values.push(['unix', 'gid', String(gid)])
    const group = await this.#users.groupName(gid)
    if (group !== undefined) values.push(['unix', 'group', group])
    for (const g of status.groups) {
      values.push(['unix', 'supplementary_gid', String(g)])
      const name = await this.#users.groupName(g)
      if (name !== undefined) values.push(['unix', 'supplementary_group', name])
    }
    values.push(['unix', 'path', exePath])
    if (want.sha256) values.push(['unix', 'sha256', await this.#digests.sha256(join(dir, 'exe'))])

    const argv = cmdline.toString('utf8').split('\0')
    if (argv.at(-1) === '') argv.pop()
    const entry = entryScript(exePath, argv)
    const scriptWithheld = injectedCode(entry, entry.kind === 'none' ? [] : readEnviron(dir))
    let scriptPath: string | undefined
    let module: string | undefined
    if (scriptWithheld !== undefined) {
      // The interpreter runs other code too: no selector says which program this is.
    } else if (entry.kind === 'script') {
      scriptPath = await this.#resolveScript(dir, entry.path)
      if (scriptPath !== undefined) {
        values.push(['proc', 'script', scriptPath])
        if (want.scriptSha256) {
          const digest = await this.#digests.sha256(join(dir, 'root', scriptPath))
          values.push(['proc', 'script_sha256', digest])
        }
      }
    } else if (entry.kind === 'module') {
      module = entry.name
      values.push(['proc', 'module', module])
    }

    const cgroups = parseCgroupMembership(cgroupText)
    if (cgroups.path !== undefined) values.push(['proc', 'cgroup', cgroups.path])
    for (const m of cgroups.v1) values.push(['proc', 'cgroup_v1', `${m.controllers}:${m.path}`])

    // Read again last: the credentials and the program must be those read first (no exec or
    // setuid meanwhile), and the ones the process connected with.
    const fingerprint: ProcessFingerprint = { uid: status.uid, gid: status.gid, groups: status.groups, exe }
    const after = parseProcStatus(readProcText(join(dir, 'status')))
    const now = {
      uid: after.uid,
      gid: after.gid,
      groups: after.groups,
      exe: readExecutableIdentity(dir, readlinkSync(join(dir, 'exe'))),
    }
    const changed = fingerprintChange(fingerprint, now)
    if (changed !== undefined) fail(peer.pid, `changed during attestation: ${changed}`)
    checkConnectCredentials(dir, after, peer)

    const details: AttestedProcessDetails = {
      uid,
      gid,
      exePath,
      ...(scriptPath !== undefined ? { scriptPath } : {}),
      ...(module !== undefined ? { module } : {}),
      ...(scriptWithheld !== undefined ? { scriptWithheld } : {}),
      ...(cgroups.path !== undefined ? { cgroupPath: cgroups.path } : {}),
    }
    return { selectors: toSelectors(values), details, fingerprint }
  }

  /**
   * The absolute, symlink-free path of the entry script, if it is a regular file and the very file
   * the process sees at that path; otherwise undefined (no selector).
   */
  async #resolveScript(dir: string, arg: string): Promise<string | undefined> {
    const candidate = isAbsolute(arg) ? arg : join(readlinkSync(join(dir, 'cwd')), arg)
    try {
      const resolved = await realpath(candidate)
      const [ours, theirs] = await Promise.all([stat(resolved), stat(join(dir, 'root', resolved))])
      const same = ours.isFile() && theirs.isFile() && ours.dev === theirs.dev && ours.ino === theirs.ino
      return same ? resolved : undefined
    } catch {
      return undefined
    }
  }
}

/** The initial environment of the process (`/proc/<pid>/environ`), or undefined when unreadable. */
function readEnviron(dir: string): string[] | undefined {
  try {
    const vars = readProcFile(join(dir, 'environ')).toString('utf8').split('\0')
    if (vars.at(-1) === '') vars.pop()
    return vars
  } catch {
    return undefined
  }
}

/** Builds the selectors, dropping duplicates and any value that is not a valid selector string. */
function toSelectors(values: readonly [string, string, string][]): Selector[] {
  const seen = new Set<string>()
  const out: Selector[] = []
  for (const [type, key, value] of values) {
    const selector = { type, value: `${key}:${value}` }
    const text = formatSelector(selector)
    if (seen.has(text)) continue
    try {
      parseSelector(text)
    } catch {
      continue
    }
    seen.add(text)
    out.push(selector)
  }
  return out
}
