/**
 * sigil-agent's composition root: builds every component from one AgentConfig, starts them in
 * order under one AbortSignal, and closes them in reverse order; the first fatal failure stops
 * everything. Order: the identity files and the node credential are checked first (a missing
 * credential or trust bundle refuses to start); then the identity cache and the Workload API
 * socket come up, so workloads can connect at once and are held until their SVIDs exist; in the
 * background the agent attests (or reuses its stored SVID), retrying while the server is
 * unreachable, and runs the sync loop. SIGTERM is the `run` command's business. With several
 * servers (`--server-address a:port,b:port`) the agent attests once and fails over between them
 * (agent/sync/server-endpoints.ts); server nudges on the push stream trigger a sync at once.
 *
 * Trust: the server is authenticated by its SVID under the stored bundle, else the
 * `--trust-bundle` file, else (insecure bootstrap, development only) not at all until the first
 * attestation. Workloads are identified only by the kernel (see agent/workloadapi/).
 */
import { readFile } from 'node:fs/promises'
import { decodePemBundle } from '../certs/bundle/pem-bundle.js'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { isSigilError, SigilError } from '../certs/errors.js'
import { Lifecycle } from '../common/lifecycle/lifecycle.js'
import type { Logger } from '../common/logging/logger.js'
import { startMetricsListener } from '../common/metrics/metrics-listener.js'
import { KnownEntries } from './authz/known-entries.js'
import { loadPolicyFile } from './authz/policy-source.js'
import { RevocationSet } from './cache/revocation-set.js'
import { TaintedAuthorities } from './cache/tainted-authorities.js'
import { WitSvidSource } from './cache/wit-svid-source.js'
import { type CacheStats, WorkloadIdentityCache } from './cache/workload-identity-cache.js'
import type { AgentConfig } from './config/load-agent-config.js'
import { AgentMetrics } from './metrics/agent-metrics.js'
import { pidfdIsAlive } from './peercred/peer-credentials.js'
import { AgentPolicy } from './policy/agent-policy.js'
import { approvalHold } from './policy/approval-hold.js'
import { AgentEnrollment } from './sync/agent-enrollment.js'
import { AgentIdentityStore } from './sync/agent-identity-store.js'
import { AgentUpdateWatch, type UpdateWatchHealth } from './sync/agent-update-watch.js'
import { ExitedSvidReporter } from './sync/exited-svid-reporter.js'
import { loadNodeCredential } from './sync/node-credential.js'
import { ServerClient } from './sync/server-client.js'
import { type EndpointStatus, ServerEndpoints } from './sync/server-endpoints.js'
import { type SyncHealth, SyncLoop } from './sync/sync-loop.js'
import { TaskManager } from './task/task-manager.js'
import { startWorkloadApiServer } from './workloadapi/workload-api-server.js'
import { WorkloadAttestor } from './workloadattestation/workload-attestor.js'

/** What {@link RunningAgent.health} reports. */
export interface AgentHealth {
  readonly sync: SyncHealth
  /** The server's push stream (revocations); the sync is the fallback while it is down. */
  readonly updates: UpdateWatchHealth
  /** The revocation list's sequence number and size at this agent. */
  readonly revocations: { readonly sequence: number; readonly size: number }
  readonly cache: CacheStats
  /** Every server of `--server-address` (home first) and whether it answers. */
  readonly servers: readonly EndpointStatus[]
  readonly agentSpiffeId: string | undefined
  readonly agentSvidExpiresAt: Date | undefined
}

/** A started agent. */
export interface RunningAgent {
  readonly socketPath: string
  /** The port of the metrics listener, when `--metrics-address` is set. */
  readonly metricsPort: number | undefined
  /** Resolves after the first successful sync (rejects never; see `stopped` for failures). */
  readonly ready: Promise<void>
  /** Resolves when the agent has stopped: `undefined` after close(), the error after a fatal failure. */
  readonly stopped: Promise<Error | undefined>
  health(): AgentHealth
  close(): Promise<void>
}

/**
 * Starts the agent. Rejects `ERR_CONFIG_INVALID` when it cannot start at all (no trust bundle,
 * no usable SVID and no credential, unreadable files).
 *
 * @example
 * const agent = await startAgent(config, { logger: createLogger('sigil-agent', config.logLevel) })
 * process.once('SIGTERM', () => void agent.close())
 * const error = await agent.stopped
 */
export async function startAgent(
  config: AgentConfig,
  deps: { logger: Logger; clock?: () => Date },
): Promise<RunningAgent> {
  const { logger } = deps
  const clock = deps.clock ?? (() => new Date())
  const life = new Lifecycle(logger)
  const shutdown = (error: Error | undefined): Promise<void> => (error ? life.fail(error) : life.close())

  try {
    const store = new AgentIdentityStore(config.dataDir, config.trustDomain)
    await store.ensureDir()
    const credential = loadNodeCredential(config)
    const bundle = await initialBundle(config, store, logger)
    const revocations = new RevocationSet({ clockMs: () => clock().getTime() })
    const metrics = new AgentMetrics()
    const endpoints = new ServerEndpoints({
      addresses: config.serverAddresses,
      clockMs: () => clock().getTime(),
      onFailover: (from, reason, to) => {
        metrics.failover(reason)
        logger.warn(
          { server: from.address, reason, ...(to ? { next_server: to.address } : {}) },
          to ? 'server not answering: failing over' : 'server not answering',
        )
      },
      onRecovered: (endpoint) => logger.info({ server: endpoint.address }, 'server answering again'),
    })
    const client = new ServerClient({
      revocations,
      endpoints,
      trustDomain: config.trustDomain,
      ...(bundle ? { bundle } : {}),
      insecureBootstrap: config.insecureBootstrap,
      clock,
    })
    life.onClose('server-client', () => client.close())
    const enrollment = new AgentEnrollment({ store, client, credential, logger, clock })
    const plan = await enrollment.prepare()

    const cache = new WorkloadIdentityCache({
      issuer: metrics.timedIssuer(client),
      onX509SvidInstalled: (kind) => metrics.installed(kind),
      logger,
      keyType: config.workloadKeyType,
      rotationFraction: config.rotationFraction,
      spareSvids: config.spareSvids,
      clock,
    })
    life.onClose('cache', () => cache.close())
    // policy (issue 14): pushed by the server, evaluated here on every Workload API and Task API call;
    // a refused caller's open tasks drift (ended, their credentials revoked)
    let tasksRef: TaskManager | undefined
    const policy = new AgentPolicy({
      entriesFor: (p) => cache.entriesFor(p),
      // the agent's node selectors are the server's to know; its attestation type when this run has a credential
      agent: () =>
        client.identity
          ? { spiffeId: client.identity.spiffeId.toString(), attestationType: credential?.type ?? '' }
          : undefined,
      logger,
      clock,
      onDenied: (key, reason) => void tasksRef?.driftProcess(key, reason),
      // a call held by an @approval policy waits for an operator (--approval-timeout)
      onHold: approvalHold({
        server: () => client,
        timeoutSeconds: config.approvalTimeoutSeconds,
        logger,
      }),
    })
    const tasks = new TaskManager({ server: () => client, processes: cache, logger, clock, policy })
    tasksRef = tasks
    life.onClose('tasks', () => tasks.close())
    const wits = new WitSvidSource({
      issuer: client,
      identities: cache,
      clock,
      logger,
      rotationFraction: config.rotationFraction,
    })
    const stopDropping = revocations.onChange(() => {
      cache.dropRevokedJwtSvids((jti) => revocations.isRevoked('jwt_jti', jti))
      wits.dropRevoked((jti) => revocations.isRevoked('jwt_jti', jti))
      cache.dropRevokedX509Svids((serial) => revocations.isRevoked('x509_serial', serial))
    })
    const stopCrls = revocations.onCrls((crls) => cache.setCrls(crls))
    // `localauthority taint`: re-issue at once what a tainted authority signed
    const tainted = new TaintedAuthorities()
    const stopTaint = tainted.onChange(() => {
      const renewed = cache.renewTainted(tainted)
      logger.info(
        { x509_svids: renewed.x509, jwt_svids: renewed.jwt, tainted_authorities: tainted.size },
        'authorities tainted: re-issuing the SVIDs they signed',
      )
    })
    const exitReporter = new ExitedSvidReporter({ server: () => client, logger, clock })
    const stopExits = cache.onExitedSvids((svids) => exitReporter.report(svids))
    life.onClose('revocations', () => {
      stopDropping()
      stopCrls()
      stopTaint()
      stopExits()
      exitReporter.close()
    })
    // Authorize: the policy set pushed by the server (the one the Workload and Task APIs use);
    // --policy-file (development and tests only) replaces it
    const policies = config.policyFile
      ? await loadPolicyFile(config.policyFile)
      : { current: () => policy.point.current }
    const knownEntries = new KnownEntries()
    const workloadApi = await startWorkloadApiServer({
      tasks,
      authorize: {
        identities: cache,
        policies,
        entries: knownEntries,
        agentId: () => client.identity?.spiffeId.toString(),
        revocations,
        approvals: () => client,
        approvalTimeoutSeconds: config.approvalTimeoutSeconds,
      },
      socketPath: config.socketPath,
      cache,
      wits,
      attestor: new WorkloadAttestor({ pidfdIsAlive: (fd) => pidfdIsAlive(fd) }),
      trustDomain: config.trustDomain,
      logger,
      clock,
      maxStreamsPerConnection: config.maxStreamsPerConnection,
      callerLimits: {
        maxStreamsPerProcess: config.maxStreamsPerProcess,
        maxStreamsPerUid: config.maxStreamsPerUid,
        maxConnectionsPerProcess: config.maxConnectionsPerProcess,
        maxConnectionsPerUid: config.maxConnectionsPerUid,
      },
      maxStreamBacklogBytes: config.maxStreamBacklogBytes,
      jwtLeewaySeconds: config.jwtLeewaySeconds,
      revocations,
      policy,
      onCallEnded: (method, code) => metrics.workloadApiCall(method, code),
    })
    life.onClose('workload-api', () => workloadApi.close())

    let savedBundle = bundle
    const loop = new SyncLoop({
      connection: client,
      intervalMs: config.syncIntervalMs,
      rotationFraction: config.rotationFraction,
      logger,
      clock,
      onSynced: (seconds, ok) => metrics.synced(seconds, ok),
      isTainted: (identity) => tainted.signedLeaf(identity.chainDer[0]),
      onState: async (state) => {
        cache.update(state)
        knownEntries.update(state.entries)
        if (!savedBundle?.equals(state.bundle)) {
          try {
            await store.saveBundle(state.bundle)
            savedBundle = state.bundle
          } catch (err) {
            logger.error({ err: (err as Error).message }, 'cannot store the trust bundle')
          }
        }
      },
      onRenewed: (identity) => store.saveIdentity(identity, enrollment.credentialTag),
      onRefused: async (err) => {
        if (!enrollment.canAttest()) {
          void shutdown(
            new SigilError(
              'ERR_NOT_AUTHORIZED',
              `the server refused this agent (${err.message}); it was evicted or banned, or its SVID is stale. ` +
                'Give a new join token (--join-token-file or SIGIL_JOIN_TOKEN) or an x509pop credential to attest again',
            ),
          )
          return
        }
        logger.warn({}, 'the server refused this agent: attesting again')
        try {
          await enrollment.attest(life.signal, 'the server refused the agent SVID')
        } catch (e) {
          // Refused again (banned, bad credential): retrying would only hammer the server.
          if (isSigilError(e, 'ERR_ATTESTATION_FAILED', 'ERR_CONFIG_INVALID')) void shutdown(e)
          throw e
        }
      },
    })

    life.background(
      'sync',
      (async () => {
        if ('attestBecause' in plan) await enrollment.attest(life.signal, plan.attestBecause)
        await loop.run(life.signal)
      })(),
      'the agent cannot obtain its identity; stopping',
    )
    // the push stream: revocations reach this agent within a round trip; the sync loop is the fallback
    const updates = new AgentUpdateWatch({
      connection: client,
      revocations,
      tainted,
      logger,
      onPolicy: (p) => policy.apply(p),
      onSyncNudge: (nudge) => {
        metrics.nudged(nudge.kind)
        logger.debug(
          nudge.kind === 'entries_changed'
            ? { kind: nudge.kind, entries_version: nudge.entriesVersion }
            : { kind: nudge.kind, sequence_number: nudge.sequenceNumber },
          'sync nudged by the server',
        )
        void loop.syncSoon()
      },
    })
    life.background('agent-updates', updates.run(life.signal))
    void loop.firstSync.then(() =>
      logger.info(
        { socket_path: config.socketPath, server: config.serverAddress },
        'agent synced with the server',
      ),
    )

    metrics.setSources({
      cache: () => cache.stats(),
      agentSvidExpiry: () => client.identity?.notAfter,
      revocationSequence: () => revocations.sequence,
      healthyServers: () => endpoints.healthyCount(),
    })
    let metricsPort: number | undefined
    if (config.metricsAddress) {
      const listener = await startMetricsListener({
        address: config.metricsAddress,
        registry: metrics.registry,
        ready: async () => agentNotReady(client.identity, clock()),
        logger,
      })
      life.onClose('metrics', () => listener.close())
      metricsPort = listener.port
    }

    logger.info(
      {
        trust_domain: config.trustDomain.name,
        metrics_port: metricsPort ?? 'off',
        server: config.serverAddress,
        socket_path: config.socketPath,
        data_dir: config.dataDir,
      },
      'sigil-agent started',
    )
    return {
      socketPath: config.socketPath,
      metricsPort,
      ready: loop.firstSync,
      stopped: life.stopped,
      health: () => ({
        sync: loop.health(),
        updates: updates.health(),
        revocations: { sequence: revocations.sequence, size: revocations.size },
        cache: cache.stats(),
        servers: endpoints.status(),
        agentSpiffeId: client.identity?.spiffeId.toString(),
        agentSvidExpiresAt: client.identity?.notAfter,
      }),
      close: () => shutdown(undefined),
    }
  } catch (err) {
    await shutdown(err as Error)
    throw err
  }
}

/** Why the agent is not ready (`/ready` 503), or undefined: it is attested and its SVID is valid now. */
function agentNotReady(
  identity: { readonly notBefore: Date; readonly notAfter: Date } | undefined,
  now: Date,
): string | undefined {
  if (identity === undefined) return 'not attested yet'
  if (now >= identity.notAfter) return 'the agent SVID has expired'
  if (now < identity.notBefore) return 'the agent SVID is not valid yet'
  return undefined
}

/** The bundle to authenticate the server with: stored, else `--trust-bundle`, else none (insecure bootstrap). */
async function initialBundle(
  config: AgentConfig,
  store: AgentIdentityStore,
  logger: Logger,
): Promise<TrustBundle | undefined> {
  try {
    const stored = await store.loadBundle()
    if (stored) return stored
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'the stored trust bundle is unusable; ignoring it')
  }
  if (config.trustBundle) {
    try {
      return decodePemBundle(config.trustDomain, await readFile(config.trustBundle))
    } catch (cause) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `trust-bundle: cannot read a PEM bundle from ${config.trustBundle}: ${(cause as Error).message}`,
        { cause },
      )
    }
  }
  if (config.insecureBootstrap) {
    logger.warn(
      { insecure_bootstrap: true },
      'INSECURE BOOTSTRAP: the server is not authenticated on first contact; anyone on the network path can impersonate it',
    )
    return undefined
  }
  throw new SigilError(
    'ERR_CONFIG_INVALID',
    "trust-bundle: no trust bundle to authenticate the server: give --trust-bundle FILE (from 'sigil-server bundle show'), or --insecure-bootstrap for development only",
  )
}
