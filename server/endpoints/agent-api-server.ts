/**
 * The agent API endpoint: gRPC over TLS on a TCP address. The server presents its own
 * X509-SVID (ServerIdentity) and asks for, but does not require, a client certificate:
 * AttestAgent runs without one, every other RPC is authenticated by the handlers from the
 * agent SVID the client presented (server/api/agent/). Client certificates are checked at
 * the TLS layer against the trust bundle's X.509 roots; both the server SVID and the roots
 * are swapped in place when they change (no restart, existing connections keep theirs).
 * Requests larger than `maxMessageBytes` fail RESOURCE_EXHAUSTED inside grpc-js, before any
 * handler runs.
 */

import { experimental, Server } from '@grpc/grpc-js'
import { SigilError } from '../../certs/errors.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { loadAgentApi } from '../../proto/loader.js'
import type { AgentApiDeps } from '../api/agent/agent-api-deps.js'
import {
  type AgentApiCa,
  type AgentApiDataStore,
  createAgentApiHandlers,
} from '../api/agent/agent-api-handlers.js'
import type { AgentCrlSource, AgentRevocationSource } from '../api/agent/revocation-updates.js'
import type { ApprovalService } from '../approval/approval-service.js'
import type { AuditSink } from '../audit/audit-trail.js'
import { JoinTokenAttestor } from '../nodeattestation/join-token-attestor.js'
import type { NodeAttestor } from '../nodeattestation/node-attestor.js'
import { X509popAttestor } from '../nodeattestation/x509pop-attestor.js'
import type { ServerIdentity } from '../svid/server-identity.js'
import type { TaskService } from '../task/task-service.js'
import { AgentApiTlsProvider } from './agent-api-tls.js'

/** Default largest request accepted. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
/** Default time close() lets in-flight calls finish before cutting them off. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000
/** Default period of the check for a changed trust bundle. */
export const DEFAULT_TLS_REFRESH_MS = 1000
/** Default limit on one AttestAgent stream. */
export const DEFAULT_ATTEST_TIMEOUT_MS = 30_000

/** Everything the agent API endpoint needs. */
export interface AgentApiServerConfig {
  /** Listen address; port 0 picks a free port (see {@link AgentApiServer.port}). */
  readonly address: { readonly host: string; readonly port: number }
  readonly trustDomain: TrustDomain
  readonly ca: AgentApiCa
  readonly datastore: AgentApiDataStore
  readonly identity: Pick<ServerIdentity, 'init' | 'current' | 'onChange'>
  readonly logger: Log
  readonly clock: () => Date
  readonly agentSvidTtlSeconds: number
  readonly defaultX509SvidTtlSeconds: number
  readonly defaultJwtSvidTtlSeconds: number
  /** x509pop trust anchors (DER); undefined or empty turns x509pop off. */
  readonly x509popCaCerts?: readonly Buffer[]
  /** The revocation list pushed to agents. */
  readonly revocations: AgentRevocationSource
  /** The CRLs pushed to agents. */
  readonly crls: AgentCrlSource
  /** Policy: checked on every signing request, pushed to agents (issue 14). */
  readonly policies?: AgentApiDeps['policies']
  readonly maxMessageBytes?: number
  readonly shutdownGraceMs?: number
  readonly tlsRefreshMs?: number
  readonly attestTimeoutMs?: number
  /** Task decisions (BeginTask, FetchTaskJwtSvid, EndTask); absent: those fail UNAVAILABLE. */
  readonly tasks?: TaskService
  /** The audit trail (issuance and signing refusals). */
  readonly audit?: AuditSink
  /** Human approvals (HoldForApproval); absent: that fails UNAVAILABLE. */
  readonly approvals?: ApprovalService
  /** Entry changes through any server on the datastore (nudges agents to sync at once). */
  readonly changes?: AgentApiDeps['changes']
}

/** A running agent API endpoint. */
export interface AgentApiServer {
  /** The bound port (the chosen one when the configured port was 0). */
  readonly port: number
  /** Stops accepting calls, lets in-flight calls finish, forces the rest after the grace time. */
  close(): Promise<void>
}

/**
 * Starts the agent API endpoint.
 *
 * @example
 * const api = await startAgentApiServer({ address: { host: '127.0.0.1', port: 0 }, trustDomain, ca,
 *   datastore, identity, logger, clock, agentSvidTtlSeconds: 3600, defaultX509SvidTtlSeconds: 3600,
 *   defaultJwtSvidTtlSeconds: 300 })
 * console.log(api.port)
 * await api.close()
 */
export async function startAgentApiServer(cfg: AgentApiServerConfig): Promise<AgentApiServer> {
  for (const name of [
    'agentSvidTtlSeconds',
    'defaultX509SvidTtlSeconds',
    'defaultJwtSvidTtlSeconds',
  ] as const) {
    if (!Number.isSafeInteger(cfg[name]) || cfg[name] <= 0)
      throw new TypeError(`${name} must be a positive integer`)
  }
  const maxMessageBytes = cfg.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const graceMs = cfg.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS
  const { host, port } = cfg.address
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535)
    throw new TypeError('address.port must be 0-65535')

  const attestors = new Map<string, NodeAttestor>()
  const joinToken = new JoinTokenAttestor({
    trustDomain: cfg.trustDomain,
    store: cfg.datastore,
    clock: cfg.clock,
  })
  attestors.set(joinToken.type, joinToken)
  if (cfg.x509popCaCerts && cfg.x509popCaCerts.length > 0) {
    const x509pop = new X509popAttestor({
      trustDomain: cfg.trustDomain,
      caCerts: cfg.x509popCaCerts,
      clock: cfg.clock,
    })
    attestors.set(x509pop.type, x509pop)
  }
  const { handlers, updates } = createAgentApiHandlers({
    trustDomain: cfg.trustDomain,
    ca: cfg.ca,
    datastore: cfg.datastore,
    attestors,
    logger: cfg.logger,
    clock: cfg.clock,
    agentSvidTtlSeconds: cfg.agentSvidTtlSeconds,
    defaultX509SvidTtlSeconds: cfg.defaultX509SvidTtlSeconds,
    defaultJwtSvidTtlSeconds: cfg.defaultJwtSvidTtlSeconds,
    attestTimeoutMs: cfg.attestTimeoutMs ?? DEFAULT_ATTEST_TIMEOUT_MS,
    ...(cfg.tasks ? { tasks: cfg.tasks } : {}),
    ...(cfg.approvals ? { approvals: cfg.approvals } : {}),
    ...(cfg.changes ? { changes: cfg.changes } : {}),
    revocations: cfg.revocations,
    crls: cfg.crls,
    ...(cfg.policies ? { policies: cfg.policies } : {}),
    ...(cfg.audit ? { audit: cfg.audit } : {}),
  })

  await cfg.identity.init()
  const tls = new AgentApiTlsProvider()
  const svid = cfg.identity.current()
  tls.setIdentity(svid.chainDer, svid.privateKey)
  tls.setRoots(cfg.ca.currentBundle().x509Authorities)
  const unsubscribe = cfg.identity.onChange((s) => tls.setIdentity(s.chainDer, s.privateKey))
  const refresh = setInterval(() => {
    try {
      tls.setRoots(cfg.ca.currentBundle().x509Authorities)
    } catch (err) {
      cfg.logger.warn({ err: errorText(err) }, 'agent API: bundle refresh failed')
    }
  }, cfg.tlsRefreshMs ?? DEFAULT_TLS_REFRESH_MS)
  refresh.unref()

  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': -1,
  })
  server.addService(loadAgentApi().service, handlers)
  const credentials = experimental.createCertificateProviderServerCredentials(tls, tls, false)
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  let boundPort: number
  try {
    boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (err, p) => (err ? reject(err) : resolve(p)))
    })
  } catch (cause) {
    clearInterval(refresh)
    unsubscribe()
    server.forceShutdown()
    throw new SigilError('ERR_UNAVAILABLE', `agent API cannot listen on ${target}: ${listenReason(cause)}`, {
      cause,
    })
  }
  cfg.logger.info(
    { address: `${host}:${boundPort}`, attestation_types: [...attestors.keys()] },
    'agent API listening',
  )

  let closing: Promise<void> | undefined
  return {
    port: boundPort,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(refresh)
        unsubscribe()
        // push streams never end on their own: end them so shutdown does not wait the grace period
        updates.endAll()
        const force = setTimeout(() => {
          cfg.logger.warn({ grace_ms: graceMs }, 'agent API: forcing shutdown of calls still running')
          server.forceShutdown()
          resolve()
        }, graceMs)
        server.tryShutdown(() => {
          clearTimeout(force)
          resolve()
        })
      })
      return closing
    },
  }
}

/** The reason in a failed bind, e.g. `address already in use (EADDRINUSE)`; grpc-js wraps Node's listen error. */
function listenReason(cause: unknown): string {
  const text = errorText(cause)
  const m = /listen (E[A-Z]+): ([a-z ]*[a-z])/.exec(text)
  return m ? `${m[2]} (${m[1]})` : text
}
