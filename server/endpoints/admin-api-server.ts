/**
 * Serves the admin API (`sigil.admin.v1.AdminAPI`) as plaintext gRPC on a local Unix
 * socket. Trust: the socket file is the access control. Its directory is created 0700
 * (an existing directory keeps its mode, with a warning if others can enter it) and the
 * socket is chmod 0600 right after binding, so only the server's user (and root) can
 * connect. A stale socket left by a crashed server is removed; a live one, or any other
 * kind of file at the path, makes start-up fail instead.
 *
 * The server accepts connections on its own `net.Server` and hands them to gRPC, so it can read
 * each caller's kernel peer credentials first (`SO_PEERCRED`: uid and pid at `connect()`, plus
 * `/proc/<pid>/exe`): every admin call is recorded in the audit trail with them. A connection
 * whose peer cannot be read is closed.
 */

import { readlinkSync } from 'node:fs'
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { dirname, resolve } from 'node:path'
import { Server, ServerCredentials } from '@grpc/grpc-js'
import { SigilError } from '../../certs/errors.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import {
  type PeerCredentials,
  readPeerCredentials,
  releasePeerCredentials,
} from '../../common/peercred/peer-credentials.js'
import { loadAdminApi } from '../../proto/loader.js'
import type { AdminApiDeps, AdminCa, AdminDataStore, AdminRevocations } from '../api/admin/admin-api.js'
import { createAdminApiHandlers } from '../api/admin/admin-api.js'
import { type AdminCaller, auditAdminCalls } from '../api/admin/audit-admin-calls.js'
import type { AuditTrail } from '../audit/audit-trail.js'
import type { TaskService } from '../task/task-service.js'

/** Largest request message accepted on the admin socket (a policy set of 10,000+ policies fits). */
export const ADMIN_MAX_RECEIVE_BYTES = 17 * 1024 * 1024
/** Longest Unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107
/** How long close() lets in-flight calls finish before cutting them off. */
export const ADMIN_SHUTDOWN_GRACE_MS = 5_000

/** Everything the admin API server needs. */
export interface AdminApiServerConfig {
  readonly socketPath: string
  readonly trustDomain: TrustDomain
  readonly datastore: AdminDataStore
  readonly ca: AdminCa
  readonly logger: Log
  readonly clock: () => Date
  readonly joinTokenTtlSeconds: number
  readonly defaultX509SvidTtlSeconds: number
  readonly defaultJwtSvidTtlSeconds: number
  /** Health: a problem line when storage cannot be written (a full disk). */
  readonly storageProbe?: () => Promise<string | undefined>
  /** Task decisions (`task end`). */
  readonly tasks?: TaskService
  /** The server's revocation list. */
  readonly revocations: AdminRevocations
  /** `svid revoke --task-id` (set by the task service). */
  readonly revokeTask?: AdminApiDeps['revokeTask']
  /** Human approvals (`approval approve|deny`). */
  readonly approvals?: AdminApiDeps['approvals']
  /** Describes the admin caller for `decided_by`. */
  readonly adminCaller?: AdminApiDeps['adminCaller']
  /** Federation: `federation refresh` and the fetch after create/update. */
  readonly federation?: AdminApiDeps['federation']
  /** The audit trail: every admin call is recorded with its caller; `audit` and `svid explain` read it. */
  readonly audit?: AuditTrail
  /** Seam for tests; default: the kernel's peer credentials (`SO_PEERCRED`) of the connection. */
  readonly readPeer?: (socket: Socket) => PeerCredentials
  /** `policy set|show|history|test`. */
  readonly policies?: AdminApiDeps['policies']
  /** `logger get|set|reset`. */
  readonly logLevel?: AdminApiDeps['logLevel']
}

/** A running admin API server. */
export interface AdminApiServer {
  /** The absolute socket path. */
  readonly socketPath: string
  /** Stops accepting calls, lets in-flight ones finish (briefly), removes the socket file. */
  close(): Promise<void>
}

/**
 * Starts the admin API on its Unix socket.
 *
 * @example
 * const admin = await startAdminApiServer({ socketPath: join(dataDir, 'private', 'admin.sock'),
 *   trustDomain, datastore, ca, logger, clock: () => new Date(), joinTokenTtlSeconds: 600,
 *   defaultX509SvidTtlSeconds: 3600, defaultJwtSvidTtlSeconds: 300 })
 * await admin.close()
 */
export async function startAdminApiServer(cfg: AdminApiServerConfig): Promise<AdminApiServer> {
  const callers = new Map<string, AdminCaller>()
  // approvals record who decided: this connection's peer credentials
  const deps = { ...cfg, adminCaller: cfg.adminCaller ?? ((call) => callers.get(call.getPeer())) }
  const handlers = cfg.audit
    ? auditAdminCalls(createAdminApiHandlers(deps), {
        audit: cfg.audit,
        callerOf: (peer) => callers.get(peer),
        logger: cfg.logger,
      })
    : createAdminApiHandlers(deps)
  const socketPath = resolve(cfg.socketPath)
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      `admin socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`,
    )
  }
  await prepareDirectory(dirname(socketPath), cfg.logger)
  await removeStaleSocket(socketPath)

  const server = new Server({
    'grpc.max_receive_message_length': ADMIN_MAX_RECEIVE_BYTES,
    'grpc.max_concurrent_streams': 64,
  })
  server.addService(loadAdminApi().service, handlers)
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure())
  const readPeer = cfg.readPeer ?? ((socket: Socket) => readPeerCredentials(socket))
  const sockets = new Set<Socket>()
  let connections = 0
  const listener = createServer((socket) => {
    socket.on('error', (err) => cfg.logger.debug({ err: err.message }, 'admin connection error'))
    let caller: AdminCaller
    try {
      const peer = readPeer(socket)
      if (cfg.readPeer === undefined) releasePeerCredentials(peer)
      caller = { uid: peer.uid, pid: peer.pid, exe: executableOf(peer.pid) }
    } catch (err) {
      cfg.logger.warn({ err: errorText(err) }, 'admin connection refused: cannot read its peer credentials')
      socket.destroy()
      return
    }
    // grpc-js reports remoteAddress as call.getPeer(): the key of this connection's caller
    const key = `admin-connection-${++connections}`
    Object.defineProperty(socket, 'remoteAddress', { value: key, configurable: true })
    callers.set(key, caller)
    sockets.add(socket)
    socket.once('close', () => {
      callers.delete(key)
      sockets.delete(socket)
    })
    injector.injectConnection(socket)
  })
  await new Promise<void>((ok, fail) => {
    listener.once('error', (err) =>
      fail(new SigilError('ERR_UNAVAILABLE', `cannot listen on admin socket ${socketPath}: ${err.message}`)),
    )
    listener.listen(socketPath, () => ok())
  })
  listener.on('error', (err) => cfg.logger.error({ err: err.message }, 'admin socket listener failed'))
  const socketIno = await chmodSocket(socketPath, () => listener.close())
  cfg.logger.info({ admin_socket: socketPath }, 'admin API listening')

  let closing: Promise<void> | undefined
  return {
    socketPath,
    close() {
      closing ??= (async () => {
        const listenerClosed = new Promise<void>((done) => listener.close(() => done()))
        await shutdown(server)
        injector.destroy()
        for (const socket of sockets) socket.destroy()
        await listenerClosed
        // remove the socket only if it is still ours (a new server may have replaced it)
        const now = await lstat(socketPath).catch(() => undefined)
        if (now?.isSocket() && now.ino === socketIno) await unlink(socketPath).catch(() => {})
      })()
      return closing
    },
  }
}

/** The caller's executable (`/proc/<pid>/exe`), `''` when it cannot be read (exited, another user's). */
function executableOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`)
  } catch {
    return ''
  }
}

async function prepareDirectory(dir: string, logger: Log): Promise<void> {
  const existing = await stat(dir).catch(() => undefined)
  if (!existing) {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700) // mkdir's mode is filtered by the umask
    return
  }
  if (!existing.isDirectory()) {
    throw new SigilError('ERR_CONFIG_INVALID', `admin socket directory ${dir} is not a directory`)
  }
  if ((existing.mode & 0o077) !== 0) {
    logger.warn(
      { dir, mode: (existing.mode & 0o777).toString(8) },
      'admin socket directory is accessible to other users; the socket itself is 0600',
    )
  }
}

/** Removes a socket file nobody listens on; refuses a live socket or a non-socket file. */
async function removeStaleSocket(path: string): Promise<void> {
  const existing = await lstat(path).catch(() => undefined)
  if (!existing) return
  if (!existing.isSocket()) {
    throw new SigilError('ERR_CONFIG_INVALID', `admin socket path ${path} exists and is not a socket`)
  }
  if (await isListening(path)) {
    throw new SigilError('ERR_UNAVAILABLE', `admin socket ${path} is in use: another server is running`)
  }
  await unlink(path)
}

function isListening(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(path)
    socket.once('connect', () => {
      socket.destroy()
      done(true)
    })
    socket.once('error', () => done(false))
  })
}

async function chmodSocket(path: string, stop: () => void): Promise<number> {
  try {
    await chmod(path, 0o600)
    return (await lstat(path)).ino
  } catch (cause) {
    stop()
    throw new SigilError('ERR_UNAVAILABLE', `cannot restrict admin socket ${path} to mode 0600`, { cause })
  }
}

function shutdown(server: Server): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(() => {
      server.forceShutdown()
      done()
    }, ADMIN_SHUTDOWN_GRACE_MS)
    timer.unref()
    server.tryShutdown(() => {
      clearTimeout(timer)
      done()
    })
  })
}
