/**
 * Peer credentials: who, according to the kernel, is at the other end of an accepted Workload
 * API connection. This is the root of workload attestation, so it trusts nothing the caller says:
 * `SO_PEERCRED` gives the PID, UID and GID the kernel recorded when the peer called `connect()`,
 * and `SO_PEERPIDFD` (Linux 6.5+) gives a pidfd that pins that very process, so that a PID reused
 * after the caller exits is never mistaken for it (check with {@link pidfdIsAlive} after reading
 * `/proc`). Linux only; the native addon is built by `npm install` (see binding.gyp).
 *
 * Cost measured on the development VM (Node 20, Linux 6.18, 2 vCPUs): `getPeerCred` ≈ 2.5–3 µs per
 * call; {@link readPeerCredentials} with `SO_PEERPIDFD`, plus closing the pidfd, ≈ 12–14 µs.
 */
import type { Socket } from 'node:net'
import { SigilError } from '../../certs/errors.js'
import { loadPeercredAddon, type PeercredAddon } from './native-addon.js'

/** The kernel's word on a Unix-socket peer. */
export interface PeerCredentials {
  readonly pid: number
  readonly uid: number
  readonly gid: number
  /** A pidfd pinning the peer process (close it with {@link releasePeerCredentials}); absent on kernels before 6.5. */
  readonly pidfd?: number
}

/** The file descriptor behind a connected `net.Socket` (a Unix-socket `Pipe` handle), if any. */
function socketFd(socket: Socket): number | undefined {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle
  if (typeof handle !== 'object' || handle === null) return undefined
  const fd: unknown = (handle as { fd?: unknown }).fd
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined
}

/**
 * Reads the peer's credentials from an accepted Unix-socket connection, with a pidfd where the
 * kernel offers one. Throws `ERR_ATTESTATION_FAILED` when the socket has no descriptor (closed,
 * not a Unix socket) or the kernel cannot say who the peer is (e.g. a PID from another PID
 * namespace, reported as 0).
 *
 * @example
 * server.on('connection', (socket) => {
 *   const peer = readPeerCredentials(socket)
 *   socket.once('close', () => releasePeerCredentials(peer))
 * })
 */
export function readPeerCredentials(
  socket: Socket,
  addon: PeercredAddon = loadPeercredAddon(),
): PeerCredentials {
  const fd = socketFd(socket)
  if (fd === undefined) {
    throw new SigilError('ERR_ATTESTATION_FAILED', 'peer credentials: the socket has no file descriptor')
  }
  let cred: { pid: number; uid: number; gid: number }
  try {
    cred = addon.getPeerCred(fd)
  } catch (cause) {
    throw new SigilError('ERR_ATTESTATION_FAILED', 'peer credentials: SO_PEERCRED failed', { cause })
  }
  if (!(Number.isSafeInteger(cred.pid) && cred.pid > 0)) {
    throw new SigilError('ERR_ATTESTATION_FAILED', 'peer credentials: the peer PID is not visible here')
  }
  let pidfd: number
  try {
    pidfd = addon.getPeerPidfd(fd)
  } catch (cause) {
    // The kernel knows SO_PEERPIDFD but cannot pin the peer: it has exited already.
    throw new SigilError('ERR_ATTESTATION_FAILED', 'peer credentials: SO_PEERPIDFD failed', { cause })
  }
  const base = { pid: cred.pid, uid: cred.uid, gid: cred.gid }
  return pidfd >= 0 ? { ...base, pidfd } : base
}

/**
 * Credentials whose pidfd was closed. Closing a descriptor number twice could close an unrelated
 * file that reused the number, so release is made idempotent per credentials object.
 */
const released = new WeakSet<PeerCredentials>()

/**
 * Closes the pidfd held by `creds`, if any. Idempotent: later calls for the same object do nothing.
 *
 * @example
 * socket.once('close', () => releasePeerCredentials(peer))
 */
export function releasePeerCredentials(
  creds: PeerCredentials,
  addon: PeercredAddon = loadPeercredAddon(),
): void {
  if (creds.pidfd === undefined || released.has(creds)) return
  released.add(creds)
  addon.closeFd(creds.pidfd)
}

/**
 * True while the process behind `pidfd` has not exited. Pass it to the workload attestor as its
 * liveness check.
 *
 * @example
 * new WorkloadAttestor({ pidfdIsAlive })
 */
export function pidfdIsAlive(pidfd: number, addon: PeercredAddon = loadPeercredAddon()): boolean {
  return addon.pidfdIsAlive(pidfd)
}
