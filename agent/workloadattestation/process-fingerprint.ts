/**
 * What a workload process is, beyond its PID and start time: its credentials and the file it
 * executes. The start time and a pidfd survive `execve`, so they cannot tell that the process
 * that connected has since become another program (a setuid binary, say); a fingerprint taken
 * when the connection was accepted, compared with one taken at each later attestation, can.
 * Also the checks that bind `/proc` to the kernel's word on the connection (SO_PEERCRED).
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import type { IdQuad, ProcStatus } from './proc-status.js'

/** The executable, as a file: an exec of another file changes it, even at the same path. */
export interface ExecutableIdentity {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

/** A process's credentials and executable at one moment. */
export interface ProcessFingerprint {
  readonly uid: IdQuad
  readonly gid: IdQuad
  readonly groups: readonly number[]
  readonly exe: ExecutableIdentity
}

/** The credentials the kernel recorded when the peer called `connect()` (SO_PEERCRED). */
export interface ConnectCredentials {
  readonly pid: number
  readonly uid?: number
  readonly gid?: number
}

function sameQuad(a: IdQuad, b: IdQuad): boolean {
  return (
    a.real === b.real && a.effective === b.effective && a.saved === b.saved && a.filesystem === b.filesystem
  )
}

const quadText = (q: IdQuad): string => `${q.real}/${q.effective}/${q.saved}/${q.filesystem}`

/**
 * What changed between two fingerprints of one process, or undefined when nothing did.
 *
 * @example
 * fingerprintChange(atConnect, now) // 'uids changed from 65534/65534/65534/65534 to 65534/0/0/0'
 */
export function fingerprintChange(then: ProcessFingerprint, now: ProcessFingerprint): string | undefined {
  if (!sameQuad(then.uid, now.uid)) return `uids changed from ${quadText(then.uid)} to ${quadText(now.uid)}`
  if (!sameQuad(then.gid, now.gid)) return `gids changed from ${quadText(then.gid)} to ${quadText(now.gid)}`
  if (then.groups.join(',') !== now.groups.join(',')) return 'supplementary groups changed'
  if (then.exe.dev !== now.exe.dev || then.exe.ino !== now.exe.ino || then.exe.path !== now.exe.path) {
    return `it executed another program (${then.exe.path} then ${now.exe.path})`
  }
  return undefined
}

/**
 * The executable of `/proc/<pid>` (the `exe` link's target and that file's device and inode).
 * Throws the `fs` error.
 *
 * @example
 * readExecutableIdentity('/proc/1234', '/usr/bin/node') // { path: '/usr/bin/node', dev: 2049, ino: 1311 }
 */
export function readExecutableIdentity(procDir: string, path: string): ExecutableIdentity {
  const st = statSync(join(procDir, 'exe'))
  return { path, dev: st.dev, ino: st.ino }
}

/**
 * Throws `ERR_ATTESTATION_FAILED` unless `/proc` agrees with the connection's credentials: the
 * effective uid/gid in `status` are the ones SO_PEERCRED recorded at `connect()`, and the
 * `/proc/<pid>` directory belongs to them. The kernel gives that directory to root when the
 * process is not dumpable — after it executed a setuid, setgid or file-capability binary, or
 * changed its own credentials — so such a process is refused unless it connected as root
 * (SPIRE's peertracker makes the same ownership check). Without `peer.uid`/`peer.gid` (tests on
 * a fake `/proc`) nothing is checked.
 *
 * @example
 * checkConnectCredentials('/proc/1234', status, readPeerCredentials(socket))
 */
export function checkConnectCredentials(procDir: string, status: ProcStatus, peer: ConnectCredentials): void {
  const fail = (why: string): never => {
    throw new SigilError('ERR_ATTESTATION_FAILED', `process ${peer.pid}: ${why}`)
  }
  if (peer.uid !== undefined && status.uid.effective !== peer.uid) {
    fail(`its effective uid is ${status.uid.effective}, it connected as uid ${peer.uid}`)
  }
  if (peer.gid !== undefined && status.gid.effective !== peer.gid) {
    fail(`its effective gid is ${status.gid.effective}, it connected as gid ${peer.gid}`)
  }
  if (peer.uid === undefined && peer.gid === undefined) return
  const owner = statSync(procDir)
  if (
    (peer.uid !== undefined && owner.uid !== peer.uid) ||
    (peer.gid !== undefined && owner.gid !== peer.gid)
  ) {
    fail(
      `its /proc entry belongs to ${owner.uid}:${owner.gid}, not to the credentials it connected with ` +
        '(it executed a privileged binary or is not dumpable)',
    )
  }
}
