/**
 * The agent's Workload API endpoint: plaintext gRPC on a Unix socket that any local process may
 * connect to (mode 0777). Callers are identified only by what the kernel says about the other
 * end of their connection: this server accepts connections on its own `net.Server`, reads the
 * peer credentials (SO_PEERCRED, plus a pidfd where the kernel has SO_PEERPIDFD) before any byte
 * is read, tags the socket with a connection key (grpc-js reports it as `call.getPeer()`), and
 * only then hands the socket to grpc-js through a connection injector. A connection whose peer
 * cannot be read is closed at once. Nothing a caller sends is used to identify it.
 *
 * One caller cannot starve the others: connections per uid and per process are capped at accept
 * time (an extra socket is closed), HTTP/2 caps streams per connection, streams per process are
 * capped across its connections (RESOURCE_EXHAUSTED before attestation, so a refusal is cheap;
 * a process that keeps trying is held back by lowering its connections' HTTP/2 stream limit,
 * see caller-limits.ts), and a stream whose client does not read is reset past a backlog bound. Refusals are logged
 * through a rate limiter, so a flood of calls is not a flood of log lines.
 */
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js'
import { SigilError } from '../../certs/errors.js'
import { MAX_JWT_LEEWAY_SECONDS } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import { LogRateLimiter } from '../../common/logging/log-rate-limiter.js'
import type { Log } from '../../common/logging/logger.js'
import { loadAuthzApi, loadTaskApi, loadWorkloadApi } from '../../proto/loader.js'
import { type AuthorizeHandlerDeps, createAuthorizeHandlers } from '../authz/authorize-handlers.js'
import type { WorkloadProcess } from '../cache/workload-process.js'
import { loadPeercredAddon } from '../peercred/native-addon.js'
import {
  type PeerCredentials,
  readPeerCredentials,
  releasePeerCredentials,
} from '../peercred/peer-credentials.js'
import { createTaskApiHandlers, type TaskApiHandlerDeps } from '../task/task-api-handlers.js'
import { readProcessStartTime } from '../workloadattestation/process-start-time.js'
import { type CallerLimitsOptions, DEFAULT_CALLER_LIMITS } from './caller-limits.js'
import { type CallerAttestor, CallerRegistry, type ProcessHolder } from './caller-registry.js'
import type { RevocationLookup } from './revoked-claims.js'
import { requireSecurityHeader } from './security-header.js'
import { StreamAdmission } from './stream-admission.js'
import { DEFAULT_MAX_STREAM_BACKLOG_BYTES } from './stream-backlog.js'
import {
  createWorkloadApiHandlers,
  type IdentitySource,
  type IdentityUpdates,
  type WorkloadPolicy,
} from './workload-api-handlers.js'

/** Largest request accepted (a JWT-SVID to validate is at most 64 KiB). */
const MAX_REQUEST_BYTES = 256 * 1024
/** How long close() lets clients finish before cutting connections. */
const SHUTDOWN_GRACE_MS = 2_000
/** Default `--max-streams-per-connection` (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 100

/** The identity cache as the server uses it (agent/cache's `WorkloadIdentityCache` fits). */
export type WorkloadApiCache = IdentitySource & ProcessHolder

/** How to start the Workload API. */
export interface WorkloadApiServerConfig {
  /** Absolute path of the Unix socket; its parent directory is created (0755) if missing. */
  readonly socketPath: string
  readonly cache: WorkloadApiCache
  /** FetchWITSVID's source (agent/cache's `WitSvidSource` fits); without it the WIT-SVID profile is UNIMPLEMENTED. */
  readonly wits?: { subscribe(process: WorkloadProcess): IdentityUpdates }
  /** Workload attestation (agent/workloadattestation's `WorkloadAttestor` fits). */
  readonly attestor: CallerAttestor
  /** Seam; default `readPeerCredentials` (native SO_PEERCRED / SO_PEERPIDFD). */
  readonly readPeer?: (socket: Socket) => PeerCredentials
  /** Seam; default `releasePeerCredentials` (closes the pidfd). */
  readonly releasePeer?: (peer: PeerCredentials) => void
  /** Seam; default `readProcessStartTime` over `/proc`. */
  readonly procStartTime?: (pid: number) => number | bigint | undefined
  readonly trustDomain: TrustDomain | string
  readonly logger: Log
  readonly clock?: () => Date
  /** How long one connection reuses an attestation (the start time is re-checked); default 1000 ms. */
  readonly attestationTtlMs?: number
  /** Concurrent HTTP/2 streams per connection; default {@link DEFAULT_MAX_STREAMS_PER_CONNECTION}. */
  readonly maxStreamsPerConnection?: number
  /** Connections per uid / per process and streams per process; default {@link DEFAULT_CALLER_LIMITS}. */
  readonly callerLimits?: Partial<CallerLimitsOptions>
  /** Unsent bytes a stream may hold before it is reset; default 256 KiB. */
  readonly maxStreamBacklogBytes?: number
  /** How long repeated refusal lines are collapsed; default 10 s. */
  readonly logRepeatWindowMs?: number
  /** ValidateJWTSVID's leeway on `exp`, `nbf`, `iat` in seconds, 0..300; default 30. */
  readonly jwtLeewaySeconds?: number
  /** Serve the Task API (`sigil.task.v1.Tasks`) on the same socket, callers attested the same way. */
  readonly tasks?: TaskApiHandlerDeps['tasks']
  /** Serve the Authorize API (`sigil.authz.v1.Authorizer`) on the same socket, callers attested the same way. */
  readonly authorize?: Omit<AuthorizeHandlerDeps, 'callers' | 'logger' | 'clock'>
  /** Revoked credentials ValidateJWTSVID refuses (absent: none). */
  readonly revocations?: RevocationLookup
  /** Told when a Workload API call ends: RPC name and gRPC status (metrics). */
  readonly onCallEnded?: (method: string, code: number) => void
  /** Policy on every Workload API and Task API call (issue 14). */
  readonly policy?: WorkloadPolicy
}

/** A running Workload API endpoint. */
export interface WorkloadApiServer {
  readonly socketPath: string
  /** Number of open connections. */
  connections(): number
  /** Stops accepting, ends open streams with OK, closes connections and removes the socket. */
  close(): Promise<void>
}

/**
 * Starts the Workload API on a Unix socket.
 *
 * @example
 * const api = await startWorkloadApiServer({ socketPath: '/tmp/sigil-agent/public/api.sock', cache, attestor: new WorkloadAttestor({ pidfdIsAlive }), trustDomain: 'example.org', logger })
 * // ... later
 * await api.close()
 */
export async function startWorkloadApiServer(cfg: WorkloadApiServerConfig): Promise<WorkloadApiServer> {
  const { socketPath, logger } = cfg
  if (typeof socketPath !== 'string' || socketPath === '') throw new TypeError('socketPath is required')
  const trustDomain =
    typeof cfg.trustDomain === 'string' ? TrustDomain.parse(cfg.trustDomain) : cfg.trustDomain
  const readPeer = cfg.readPeer ?? ((s: Socket) => readPeerCredentials(s))
  const releasePeer = cfg.releasePeer ?? ((p: PeerCredentials) => releasePeerCredentials(p))
  // Fail at startup, not on the first connection, when the native addon is missing.
  if (cfg.readPeer === undefined) loadPeercredAddon()

  const registry = new CallerRegistry({
    attestor: cfg.attestor,
    holder: cfg.cache,
    procStartTime: cfg.procStartTime ?? ((pid) => readProcessStartTime(pid)),
    releasePeer,
    logger,
    ...(cfg.attestationTtlMs !== undefined ? { attestationTtlMs: cfg.attestationTtlMs } : {}),
  })
  const repeated = new LogRateLimiter({
    logger,
    ...(cfg.logRepeatWindowMs !== undefined ? { windowMs: cfg.logRepeatWindowMs } : {}),
  })
  const maxStreamsPerConnection = cfg.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS_PER_CONNECTION
  if (!Number.isInteger(maxStreamsPerConnection) || maxStreamsPerConnection < 1)
    throw new TypeError('maxStreamsPerConnection must be a whole number ≥ 1')
  const admission = new StreamAdmission({
    limits: { ...DEFAULT_CALLER_LIMITS, ...cfg.callerLimits },
    maxStreamsPerConnection,
    repeated,
    logger,
  })
  const limits = admission.limits
  const jwtLeeway = cfg.jwtLeewaySeconds
  if (jwtLeeway !== undefined && !(jwtLeeway >= 0 && jwtLeeway <= MAX_JWT_LEEWAY_SECONDS))
    throw new TypeError(`jwtLeewaySeconds must be a number from 0 to ${MAX_JWT_LEEWAY_SECONDS}`)
  const streams = new Set<() => void>()
  const grpcServer = new GrpcServer({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    // Sent in the server's first SETTINGS frame; nghttp2 refuses (REFUSED_STREAM) a stream past it.
    'grpc.max_concurrent_streams': maxStreamsPerConnection,
    // No channelz: its per-connection and per-call bookkeeping is a cost every new workload
    // process pays, and nothing here serves channelz.
    'grpc.enable_channelz': 0,
    // The security header, checked once for every service on this socket before any handler runs.
    interceptors: [requireSecurityHeader],
  })
  grpcServer.addService(
    loadWorkloadApi().service,
    createWorkloadApiHandlers({
      source: withWitSvids(cfg.cache, cfg.wits),
      callers: { identify: (key): Promise<WorkloadProcess> => registry.identify(key) },
      trustDomain,
      logger,
      clock: cfg.clock ?? (() => new Date()),
      trackStream: (end) => {
        streams.add(end)
        return () => streams.delete(end)
      },
      admitStream: (key, method, session) => admission.admit(key, method, session),
      maxStreamBacklogBytes: cfg.maxStreamBacklogBytes ?? DEFAULT_MAX_STREAM_BACKLOG_BYTES,
      repeated,
      ...(jwtLeeway !== undefined ? { jwtLeewaySeconds: jwtLeeway } : {}),
      ...(cfg.revocations ? { revocations: cfg.revocations } : {}),
      ...(cfg.onCallEnded ? { onCallEnded: cfg.onCallEnded } : {}),
      ...(cfg.policy ? { policy: cfg.policy } : {}),
    }),
  )
  if (cfg.tasks !== undefined) {
    grpcServer.addService(
      loadTaskApi().service,
      createTaskApiHandlers({
        tasks: cfg.tasks,
        callers: { identify: (key): Promise<WorkloadProcess> => registry.identify(key) },
        logger,
      }),
    )
  }
  if (cfg.authorize !== undefined) {
    grpcServer.addService(
      loadAuthzApi().service,
      createAuthorizeHandlers({
        ...cfg.authorize,
        callers: { identify: (key): Promise<WorkloadProcess> => registry.identify(key) },
        logger,
        clock: cfg.clock ?? (() => new Date()),
        ...(jwtLeeway !== undefined ? { jwtLeewaySeconds: jwtLeeway } : {}),
      }),
    )
  }
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure())
  const sockets = new Map<string, Socket>()

  const netServer = createServer((socket) => {
    socket.on('error', (err) => logger.debug({ err: err.message }, 'Workload API connection error'))
    let peer: PeerCredentials
    try {
      peer = readPeer(socket)
    } catch (err) {
      logger.warn({ err: errorText(err) }, 'cannot read peer credentials; closing connection')
      socket.destroy()
      return
    }
    const key = registry.add(peer)
    const refusal = limits.admitConnection(key, peer)
    if (refusal !== undefined) {
      const limit =
        refusal === 'uid' ? limits.limits.maxConnectionsPerUid : limits.limits.maxConnectionsPerProcess
      repeated.warn(
        `uid:${peer.uid}`,
        { pid: peer.pid, uid: peer.uid, limit, per: refusal },
        `Workload API connection refused: the ${refusal === 'uid' ? 'uid' : 'process'} is at its connection limit`,
      )
      registry.remove(key)
      socket.destroy()
      return
    }
    sockets.set(key, socket)
    Object.defineProperty(socket, 'remoteAddress', { value: key, configurable: true })
    socket.once('close', () => {
      sockets.delete(key)
      admission.forget(key)
      registry.remove(key)
    })
    injector.injectConnection(socket)
    // Attest while the client finishes its HTTP/2 handshake; after the server's SETTINGS frame,
    // which grpc-js has queued by now and Node writes before running JS immediates.
    setImmediate(() => registry.prefetch(key))
  })

  await prepareSocketPath(socketPath)
  await new Promise<void>((resolve, reject) => {
    netServer.once('error', reject)
    netServer.listen(socketPath, () => {
      netServer.off('error', reject)
      resolve()
    })
  })
  netServer.on('error', (err) => logger.error({ err: err.message }, 'Workload API listener failed'))
  await chmod(socketPath, 0o777)
  const socketIno = (await stat(socketPath)).ino
  logger.info({ socket_path: socketPath }, 'Workload API listening')

  let closing: Promise<void> | undefined
  return {
    socketPath,
    connections: () => registry.size,
    close() {
      closing ??= (async () => {
        const listenerClosed = new Promise<void>((resolve) => netServer.close(() => resolve()))
        for (const end of [...streams]) end()
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            grpcServer.forceShutdown()
            resolve()
          }, SHUTDOWN_GRACE_MS)
          grpcServer.tryShutdown(() => {
            clearTimeout(timer)
            resolve()
          })
        })
        injector.destroy()
        for (const socket of sockets.values()) socket.destroy()
        await listenerClosed
        await removeOwnSocket(socketPath, socketIno)
        repeated.close()
        logger.info({ socket_path: socketPath }, 'Workload API stopped')
      })()
      return closing
    },
  }
}

/** Creates the parent directory (0755) if missing and removes a stale socket; refuses to remove anything else. */
async function prepareSocketPath(socketPath: string): Promise<void> {
  const dir = dirname(socketPath)
  const created = await mkdir(dir, { recursive: true, mode: 0o755 })
  if (created !== undefined) await chmod(dir, 0o755)
  try {
    const st = await lstat(socketPath)
    if (!st.isSocket()) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `${socketPath} exists and is not a socket; refusing to replace it`,
      )
    }
    await unlink(socketPath)
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err
  }
}

async function removeOwnSocket(socketPath: string, ino: number): Promise<void> {
  try {
    const st = await lstat(socketPath)
    if (st.isSocket() && st.ino === ino) await unlink(socketPath)
  } catch {
    // Already gone.
  }
}

/** The cache as the handlers' source, with FetchWITSVID's subscriptions when `wits` is given. */
function withWitSvids(cache: WorkloadApiCache, wits: WorkloadApiServerConfig['wits']): IdentitySource {
  if (wits === undefined) return cache
  return {
    subscribe: (p) => cache.subscribe(p),
    subscribeBundles: (p) => cache.subscribeBundles(p),
    fetchJwtSvids: (p, audience, spiffeId) => cache.fetchJwtSvids(p, audience, spiffeId),
    bundlesFor: (p) => cache.bundlesFor(p),
    subscribeWit: (p) => wits.subscribe(p),
  }
}
