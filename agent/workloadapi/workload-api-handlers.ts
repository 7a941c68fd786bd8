/**
 * The SPIFFE Workload API handlers (SPIFFE.md §5, §6). The security header is checked before
 * any handler runs, by the server's interceptor (security-header.ts). Each call: (1) the caller,
 * identified from the kernel's peer credentials and /proc, else PERMISSION_DENIED; (2) the
 * identity cache, through the small interfaces declared here.
 * Streams send a complete message as soon as the caller's state is known and again on every
 * change; they end with PERMISSION_DENIED when the caller has (or is left with) no identity,
 * with RESOURCE_EXHAUSTED when the caller is at its stream limit or does not read what it was
 * sent (see stream-backlog.ts), and with OK only when the client cancels or the server shuts down.
 */

import type { Http2Session } from 'node:http2'
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerUnaryCall,
  ServerWritableStream,
} from '@grpc/grpc-js'
import { status } from '@grpc/grpc-js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { DEFAULT_JWT_LEEWAY_SECONDS, validateJwtSvid } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { SpiffeWorkloadAPIHandlers } from '../../proto/generated/SpiffeWorkloadAPI.js'
import type { IdentitySnapshot, IdentityUpdate } from '../cache/identity-subscription.js'
import type { WitIdentitySnapshot } from '../cache/wit-svid-source.js'
import type { WorkloadProcess } from '../cache/workload-process.js'
import { toStruct } from './claims-struct.js'
import { type RevocationLookup, refuseRevokedClaims } from './revoked-claims.js'
import {
  DEFAULT_MAX_STREAM_BACKLOG_BYTES,
  http2StreamOf,
  resetStream,
  StreamBacklog,
} from './stream-backlog.js'
import {
  bundleMapKey,
  jwtBundlesResponse,
  witBundlesResponse,
  witSvidResponse,
  x509BundlesResponse,
  x509SvidResponse,
} from './workload-api-messages.js'
import {
  AUDIENCE_REQUIRED,
  NO_IDENTITY,
  serviceError,
  statusOf,
  WorkloadApiStatus,
} from './workload-api-status.js'

/** A stream of one caller's snapshots (the cache's `IdentitySubscription` fits). */
export interface IdentityUpdates {
  next(): Promise<IdentityUpdate | undefined>
  close(): void
}

/** A JWT-SVID for the caller. */
export interface CallerJwtSvid {
  readonly spiffeId: string
  readonly token: string
  readonly hint: string
}

/** The identity cache as the handlers use it. */
export interface IdentitySource {
  subscribe(process: WorkloadProcess): IdentityUpdates
  subscribeBundles(process: WorkloadProcess): IdentityUpdates
  fetchJwtSvids(
    process: WorkloadProcess,
    audience: readonly string[],
    spiffeId?: string,
  ): Promise<readonly CallerJwtSvid[]>
  bundlesFor(
    process: WorkloadProcess,
  ): { readonly bundle: TrustBundle; readonly federatedBundles: ReadonlyMap<string, TrustBundle> } | undefined
  /**
   * FetchWITSVID: the process's snapshots with its WIT-SVIDs (`WitIdentitySnapshot`). Without it
   * the WIT-SVID profile answers UNIMPLEMENTED.
   */
  subscribeWit?(process: WorkloadProcess): IdentityUpdates
}

/**
 * Agent-side policy (issue 14; agent/policy/agent-policy.ts fits): absent, or with no policy in
 * force, every call is decided by the entries alone.
 */
export interface WorkloadPolicy {
  /** The snapshot with only the SVIDs policy allows; throws (PERMISSION_DENIED) when it allows none. */
  filterX509(process: WorkloadProcess, snapshot: IdentitySnapshot): IdentitySnapshot
  /** Throws (PERMISSION_DENIED naming the policies) unless every identity and audience is allowed. */
  checkJwt(
    process: WorkloadProcess,
    audience: readonly string[],
    spiffeId: string | undefined,
    signal?: AbortSignal,
  ): Promise<void>
}

/** Finds the attested caller of a call from its connection key (`call.getPeer()`). */
export interface CallerIdentifier {
  identify(connectionKey: string): Promise<WorkloadProcess>
}

/** Log lines a caller can provoke once per call, collapsed per key (common/logging's `LogRateLimiter` fits). */
export interface RepeatedLogger {
  warn(key: string, obj: object, msg: string): void
}

/** Details of RESOURCE_EXHAUSTED when a process is at its stream limit. */
export const STREAM_LIMIT = 'too many open streams for this process'

/** What the handlers need. */
export interface WorkloadApiHandlerDeps {
  readonly source: IdentitySource
  readonly callers: CallerIdentifier
  readonly trustDomain: TrustDomain
  readonly logger: Log
  readonly clock: () => Date
  /** Registers a way to end an open stream with OK at shutdown; returns the unregister function. */
  readonly trackStream: (end: () => void) => () => void
  /**
   * Counts one more stream for the caller on connection `connectionKey` (whose HTTP/2 session
   * is `session`, when reachable); returns its release, or undefined when the caller is at its
   * limit (the stream ends RESOURCE_EXHAUSTED). Default: no limit.
   */
  readonly admitStream?: (
    connectionKey: string,
    method: string,
    session: Http2Session | undefined,
  ) => (() => void) | undefined
  /** Unsent bytes a stream may hold before it is reset; default 256 KiB. */
  readonly maxStreamBacklogBytes?: number
  /** Rate-limited warnings; default: every line to `logger`. */
  readonly repeated?: RepeatedLogger
  /** ValidateJWTSVID's leeway on `exp`, `nbf`, `iat` in seconds; default {@link DEFAULT_JWT_LEEWAY_SECONDS}. */
  readonly jwtLeewaySeconds?: number
  /** Revoked credentials: ValidateJWTSVID refuses a revoked `jti` or `txn` of our trust domain. */
  readonly revocations?: RevocationLookup
  /** Told when a call ends (metrics): the RPC name and its gRPC status (CANCELLED when the caller left). */
  readonly onCallEnded?: (method: string, code: status) => void
  /** Policy evaluated on every call (issue 14). */
  readonly policy?: WorkloadPolicy
}

/** How one server stream behaves. */
interface StreamOptions<Res> {
  /** The RPC name, for logs and the stream limit. */
  readonly method: string
  /** The caller's updates that feed the stream. */
  readonly subscribe: (process: WorkloadProcess) => IdentityUpdates
  /** The message for a snapshot, or undefined to send nothing for it. */
  readonly toMessage: (s: IdentitySnapshot) => Res | undefined
  /** End PERMISSION_DENIED also when a snapshot holds no X509-SVID (not only when the caller has no identity). */
  readonly requireSvids?: boolean
  /** Narrows each snapshot before `toMessage` (policy); may throw to end the stream. */
  readonly filter?: (process: WorkloadProcess, s: IdentitySnapshot) => IdentitySnapshot
  /** Debug line after each message: the SPIFFE IDs of the SVIDs it carried. */
  readonly logSentSvids?: string
}

/**
 * Builds the handlers for `server.addService(loadWorkloadApi().service, handlers)`.
 *
 * @example
 * server.addService(api.service, createWorkloadApiHandlers({ source: cache, callers, trustDomain, logger, clock, trackStream }))
 */
export function createWorkloadApiHandlers(deps: WorkloadApiHandlerDeps): SpiffeWorkloadAPIHandlers {
  const { source, logger } = deps
  const repeated: RepeatedLogger = deps.repeated ?? { warn: (_key, obj, msg) => logger.warn(obj, msg) }
  const backlogBytes = deps.maxStreamBacklogBytes ?? DEFAULT_MAX_STREAM_BACKLOG_BYTES

  /** Ends a stream with the error's status; returns that status. */
  function fail(call: ServerWritableStream<unknown, unknown>, err: unknown, method: string): status {
    const s = statusOf(err)
    if (s.unexpected) logger.error({ err: errorText(err), method }, 'Workload API call failed')
    if (!call.cancelled && !call.writableEnded) call.emit('error', serviceError(s))
    return s.code
  }

  function unary<Req, Res>(
    method: string,
    run: (call: ServerUnaryCall<Req, Res>) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      run(call).then(
        (res) => {
          deps.onCallEnded?.(method, status.OK)
          callback(null, res)
        },
        (err: unknown) => {
          const s = statusOf(err)
          if (s.unexpected) logger.error({ err: errorText(err), method }, 'Workload API call failed')
          deps.onCallEnded?.(method, s.code)
          callback(serviceError(s))
        },
      )
    }
  }

  /**
   * Runs a stream: sends `toMessage(snapshot)` for each update (skipping undefined), ends with
   * PERMISSION_DENIED on "no identity", with OK when the subscription is closed.
   */
  function stream<Req, Res>(opts: StreamOptions<Res>): handleServerStreamingCall<Req, Res> {
    const { method, subscribe, toMessage } = opts
    return (call) => {
      void (async () => {
        let updates: IdentityUpdates | undefined
        let untrack = () => {}
        let release = () => {}
        let ended: status | undefined
        try {
          if (deps.admitStream !== undefined) {
            const admitted = deps.admitStream(call.getPeer(), method, http2StreamOf(call)?.session)
            if (admitted === undefined) throw new WorkloadApiStatus(status.RESOURCE_EXHAUSTED, STREAM_LIMIT)
            release = admitted
          }
          const process = await deps.callers.identify(call.getPeer())
          if (call.cancelled) return
          const sub = subscribe(process)
          updates = sub
          untrack = deps.trackStream(() => sub.close())
          call.on('cancelled', () => sub.close())
          logger.debug({ pid: process.pid, method }, 'Workload API stream opened')
          const backlog = new StreamBacklog(backlogBytes)
          for (;;) {
            const u = await sub.next()
            if (u === undefined) {
              if (!call.cancelled && !call.writableEnded) call.end()
              return
            }
            if (u.kind === 'no-identity' || (opts.requireSvids === true && u.snapshot.svids.length === 0)) {
              repeated.warn(`pid:${process.pid}`, { pid: process.pid, method }, NO_IDENTITY)
              throw new WorkloadApiStatus(status.PERMISSION_DENIED, NO_IDENTITY)
            }
            const msg = toMessage(opts.filter === undefined ? u.snapshot : opts.filter(process, u.snapshot))
            if (msg === undefined) continue
            if (opts.logSentSvids !== undefined) {
              logger.debug(
                { pid: process.pid, spiffe_id: u.snapshot.svids.map((s) => s.spiffeId) },
                opts.logSentSvids,
              )
            }
            if (!backlog.write(call as ServerWritableStream<unknown, unknown>, msg as object)) {
              repeated.warn(
                `pid:${process.pid}`,
                { pid: process.pid, method, unsent_bytes: backlog.pendingBytes, limit: backlog.maxBytes },
                'Workload API stream reset: the client is not reading it',
              )
              if (resetStream(call as ServerWritableStream<unknown, unknown>)) return
              throw new WorkloadApiStatus(status.RESOURCE_EXHAUSTED, 'the client is not reading its stream')
            }
            if (call.cancelled) return
          }
        } catch (err) {
          ended = fail(call as ServerWritableStream<unknown, unknown>, err, method)
        } finally {
          updates?.close()
          untrack()
          release()
          deps.onCallEnded?.(method, ended ?? (call.cancelled ? status.CANCELLED : status.OK))
        }
      })()
    }
  }

  /** A bundle stream that skips a message equal to the previous one of the same call. */
  function bundleStream<Res extends { bundles?: Record<string, Buffer | Uint8Array | string> }>(
    method: string,
    build: (s: IdentitySnapshot) => Res,
  ): handleServerStreamingCall<unknown, Res> {
    return (call) => {
      let previous: string | undefined
      let previousCrls: readonly Buffer[] | undefined
      const run = stream<unknown, Res>({
        method,
        subscribe: (p) => source.subscribeBundles(p),
        toMessage: (s) => {
          const msg = build(s)
          const key = bundleMapKey(msg.bundles)
          // a new CRL set is a new array (the cache replaces it whole)
          if (key === previous && s.crls === previousCrls) return undefined
          previous = key
          previousCrls = s.crls
          return msg
        },
      })
      run(call)
    }
  }

  return {
    FetchX509SVID: stream({
      method: 'FetchX509SVID',
      subscribe: (p) => source.subscribe(p),
      toMessage: (s) => x509SvidResponse(s),
      ...(deps.policy === undefined
        ? {}
        : { filter: (p: WorkloadProcess, s: IdentitySnapshot) => deps.policy!.filterX509(p, s) }),
      requireSvids: true,
      logSentSvids: 'X509-SVIDs sent',
    }),

    FetchX509Bundles: bundleStream('FetchX509Bundles', x509BundlesResponse),

    FetchJWTBundles: bundleStream('FetchJWTBundles', jwtBundlesResponse),

    FetchJWTSVID: unary('FetchJWTSVID', async (call) => {
      const audience = call.request.audience ?? []
      if (audience.length === 0 || audience.some((a) => a === '')) {
        throw new WorkloadApiStatus(status.INVALID_ARGUMENT, AUDIENCE_REQUIRED)
      }
      const requested = call.request.spiffe_id ?? ''
      let spiffeId: string | undefined
      if (requested !== '') {
        try {
          spiffeId = SpiffeId.parse(requested).toString()
        } catch {
          throw new WorkloadApiStatus(status.INVALID_ARGUMENT, 'spiffe_id is not a valid SPIFFE ID')
        }
      }
      const process = await deps.callers.identify(call.getPeer())
      // a held call waits for an operator; a caller that goes away ends the wait
      const gone = new AbortController()
      call.once('cancelled', () => gone.abort())
      await deps.policy?.checkJwt(process, audience, spiffeId, gone.signal)
      const svids = await source.fetchJwtSvids(process, audience, spiffeId)
      logger.debug({ pid: process.pid, spiffe_id: svids.map((s) => s.spiffeId) }, 'JWT-SVIDs sent')
      return { svids: svids.map((s) => ({ spiffe_id: s.spiffeId, svid: s.token, hint: s.hint })) }
    }),

    ValidateJWTSVID: unary('ValidateJWTSVID', async (call) => {
      const audience = call.request.audience ?? ''
      const token = call.request.svid ?? ''
      if (audience === '') throw new WorkloadApiStatus(status.INVALID_ARGUMENT, AUDIENCE_REQUIRED)
      if (token === '') throw new WorkloadApiStatus(status.INVALID_ARGUMENT, 'svid must be specified')
      const process = await deps.callers.identify(call.getPeer())
      const visible = source.bundlesFor(process)
      if (visible === undefined)
        throw new WorkloadApiStatus(status.UNAVAILABLE, 'the agent has no trust bundle yet')
      const own = visible.bundle.trustDomain
      const validated = await validateJwtSvid(token, {
        audience,
        now: deps.clock(),
        leewaySeconds: deps.jwtLeewaySeconds ?? DEFAULT_JWT_LEEWAY_SECONDS,
        bundleFor: (td) => (td.equals(own) ? visible.bundle : visible.federatedBundles.get(td.name)),
      })
      if (deps.revocations && validated.spiffeId.memberOf(own))
        refuseRevokedClaims(deps.revocations, validated.claims)
      const claims: Record<string, unknown> = validated.spiffeId.memberOf(own)
        ? { ...validated.claims, aud: validated.audience }
        : { sub: validated.claims.sub, aud: validated.audience, exp: validated.claims.exp }
      return { spiffe_id: validated.spiffeId.toString(), claims: toStruct(claims) }
    }),

    FetchWITSVID: (call) => {
      const subscribeWit = source.subscribeWit?.bind(source)
      if (subscribeWit === undefined) {
        call.emit(
          'error',
          serviceError({ code: status.UNIMPLEMENTED, details: 'WIT-SVIDs are not supported' }),
        )
        return
      }
      const requested = call.request?.spiffe_id ?? ''
      if (requested !== '') {
        try {
          SpiffeId.parse(requested)
        } catch {
          call.emit(
            'error',
            serviceError({ code: status.INVALID_ARGUMENT, details: 'spiffe_id is not a valid SPIFFE ID' }),
          )
          return
        }
      }
      stream({
        method: 'FetchWITSVID',
        subscribe: subscribeWit,
        toMessage: (s) => witSvidResponse(s as WitIdentitySnapshot, requested),
        requireSvids: true,
        logSentSvids: 'WIT-SVIDs sent',
      })(call)
    },

    FetchWITBundles: (call) => {
      if (source.subscribeWit === undefined) {
        call.emit(
          'error',
          serviceError({ code: status.UNIMPLEMENTED, details: 'WIT bundles are not supported' }),
        )
        return
      }
      bundleStream('FetchWITBundles', witBundlesResponse)(call)
    },
  }
}
