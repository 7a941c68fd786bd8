/**
 * sigil-server's composition root: builds every component from one ServerConfig, starts
 * them in order under one AbortSignal, and closes them in reverse order. The first fatal
 * failure stops everything. Before the CA starts, ca-state-check.ts makes sure the key store and
 * the datastore belong together (a lost or swapped half is a fatal error). Trust: the admin API is reachable only through a 0600 Unix
 * socket in a 0700 directory; the agent API authenticates agents by node attestation and
 * then by their X509-SVIDs; the bundle endpoint is public by design.
 */
import { readFileSync } from 'node:fs'
import { isSigilError, SigilError } from '../certs/errors.js'
import { importPrivateKey } from '../certs/keys/keys.js'
import { certificatesToPem, pemToCertificates } from '../certs/x509svid/pem.js'
import { errorText } from '../common/errors/error-text.js'
import { Lifecycle } from '../common/lifecycle/lifecycle.js'
import type { Logger } from '../common/logging/logger.js'
import { runEvery } from '../common/loop/run-every.js'
import { startMetricsListener } from '../common/metrics/metrics-listener.js'
import type { LogLevelControl } from './api/admin/logger-level.js'
import { ApprovalService } from './approval/approval-service.js'
import { AuditTrail } from './audit/audit-trail.js'
import { CaManager } from './ca/ca-manager.js'
import { checkCaState } from './ca/ca-state-check.js'
import { KeyStore } from './ca/key-store.js'
import { ChangeFanout } from './cluster/change-fanout.js'
import type { ServerConfig } from './config/load-server-config.js'
import { instrumentDataStore } from './datastore/instrumented-data-store.js'
import { describeDatastore, openDataStore } from './datastore/open-data-store.js'
import { probeStorage } from './datastore/storage-probe.js'
import { startAdminApiServer } from './endpoints/admin-api-server.js'
import { startAgentApiServer } from './endpoints/agent-api-server.js'
import { startBundleEndpoint } from './endpoints/bundle-endpoint.js'
import { formatHost } from './endpoints/https-listener.js'
import type { OidcDiscoveryConfig } from './endpoints/oidc-discovery.js'
import { startOidcDiscoveryEndpoint } from './endpoints/oidc-discovery-endpoint.js'
import { FederationRefresher } from './federation/federation-refresher.js'
import { ServerMetrics } from './metrics/server-metrics.js'
import { PolicyStore } from './policy/policy-store.js'
import { CrlPublisher } from './revocation/crl-publisher.js'
import { RevocationList } from './revocation/revocation-list.js'
import { ServerIdentity } from './svid/server-identity.js'
import { connectTaskRevocation, revokedIn } from './task/task-revocation.js'
import { TaskService } from './task/task-service.js'

/** How often the server ends overdue tasks itself (the agent normally does it at the deadline). */
const TASK_EXPIRY_SWEEP_MS = 5_000

/** What a started server exposes to its caller (the `run` command, tests). */
export interface RunningServer {
  readonly agentApiPort: number
  readonly bundleEndpointPort: number | undefined
  /** The port of the OIDC discovery listener of its own, when `--oidc-discovery-address` is set. */
  readonly oidcDiscoveryPort: number | undefined
  /** The port of the metrics listener, when `--metrics-address` is set. */
  readonly metricsPort: number | undefined
  readonly adminSocket: string
  /** Task decisions; `tasks.onTaskEnded(listener)` is the hook revocation hangs on. */
  readonly tasks: TaskService
  /** Resolves when the server has stopped: `undefined` after close(), the error after a fatal failure. */
  readonly stopped: Promise<Error | undefined>
  close(): Promise<void>
}

/**
 * Starts every component of the server.
 *
 * @example
 * const server = await startServer(config, { logger: createLogger('sigil-server', 'info') })
 * process.on('SIGTERM', () => server.close())
 */
export async function startServer(
  config: ServerConfig,
  deps: { logger: Logger; clock?: () => Date },
): Promise<RunningServer> {
  const { logger } = deps
  const clock = deps.clock ?? (() => new Date())
  const life = new Lifecycle(logger)

  try {
    const datastorePath = describeDatastore(config.datastore)
    const metrics = new ServerMetrics()
    const datastore = instrumentDataStore(
      await openDataStore(config.datastore, {
        onConnectionError: (e) =>
          logger.warn({ err: errorText(e) }, 'datastore connection lost; reconnecting'),
      }),
      metrics,
    )
    life.onClose('datastore', () => datastore.close())
    // the audit trail: hash-chained records of every decision, durable, plus one log line each
    const audit = new AuditTrail({
      datastore,
      logger,
      clock,
      onEvent: (e) => metrics.decisions.labels(e.kind, e.decision).inc(),
    })
    life.onClose('audit', () => audit.drain())

    // the key store and the datastore must belong together before the CA may create anything
    const keyStore = new KeyStore(config.dataDir)
    const caState = await checkCaState({
      trustDomain: config.trustDomain,
      journal: await keyStore.load(),
      keyStorePath: keyStore.path,
      datastore,
      datastorePath,
      allowNewCa: config.allowNewCa,
      allowEmptyDatastore: config.allowEmptyDatastore,
      joinDatastore: config.joinDatastore,
      logger,
    })

    const ca = new CaManager({
      trustDomain: config.trustDomain,
      dataDir: config.dataDir,
      caTtlSeconds: config.caTtlSeconds,
      caKeyType: config.caKeyType,
      jwtKeyType: config.jwtKeyType,
      ...(config.jwtIssuer ? { jwtIssuer: config.jwtIssuer } : {}),
      ...(config.upstreamCaCert && config.upstreamCaKey
        ? { upstream: loadUpstream(config.upstreamCaCert, config.upstreamCaKey) }
        : {}),
      bundleStore: datastore,
      replaceForeignAuthorities: caState.replaceForeignAuthorities,
      onSigned: (kind, seconds) => metrics.observeIssued(kind, seconds),
      refreshHintSeconds: config.bundleRefreshHintSeconds,
      clock,
      logger,
    })
    await ca.init()
    life.background('ca-rotation', ca.run(life.signal))

    // no SVID outlives its CA, so a revocation of an unrecorded credential is kept one CA TTL
    const revocations = await RevocationList.load({
      datastore,
      clock,
      logger,
      unknownCredentialTtlMs: config.caTtlSeconds * 1000,
    })
    life.background('revocation-prune', revocations.run(life.signal))
    revocations.subscribe(({ added }) => {
      for (const r of added) {
        audit.note({
          kind: 'revocation',
          decision: 'info',
          ...(r.kind === 'txn' ? { taskId: r.value } : { serialOrJti: r.value }),
          details: {
            kind: r.kind,
            value: r.value,
            reason: r.reason,
            sequence: r.sequence,
            expires_at: r.expiresAt,
          },
        })
      }
    })
    const crls = new CrlPublisher({
      ca,
      revocations,
      clock,
      logger,
      ...(config.upstreamCrl ? { upstreamCrlFile: config.upstreamCrl } : {}),
    })
    if (config.upstreamCrl) {
      try {
        await crls.reloadUpstream()
      } catch (cause) {
        throw new SigilError(
          'ERR_CONFIG_INVALID',
          `upstream-crl: cannot read ${config.upstreamCrl}: ${errorText(cause)}`,
          {
            cause,
          },
        )
      }
    }
    crls.rebuild()
    life.background('crl', crls.run(life.signal))

    const identity = new ServerIdentity({ trustDomain: config.trustDomain, ca, clock, logger })
    await identity.init()
    life.background('server-identity', identity.run(life.signal))

    const tasks = new TaskService({
      trustDomain: config.trustDomain,
      ca,
      datastore,
      logger,
      clock,
      defaultJwtSvidTtlSeconds: config.jwtSvidTtlSeconds,
      isRevoked: revokedIn(revocations),
      audit,
    })
    // no credential survives its task: ending one revokes its Txn-Token and all issued for it
    const revokeTask = connectTaskRevocation(tasks, revocations, datastore)
    // the agent ends tasks at their deadline; this is the backstop when it cannot (down, partitioned)
    life.background(
      'task-expiry',
      runEvery(life.signal, () => tasks.expireOverdue(), {
        intervalMs: TASK_EXPIRY_SWEEP_MS,
        maxBackoffMs: 60_000,
        onError: (e) => logger.warn({ err: errorText(e) }, 'task expiry sweep failed'),
      }),
    )

    // policy (issue 14): the set in force, checked on every signing request and pushed to agents;
    // a version set through another server on the same datastore comes in through the change fan-out
    const policies = await PolicyStore.open({ datastore, logger })

    // human approvals: holds left pending by an earlier run have expired
    const approvals = new ApprovalService({ datastore, logger, clock, audit })
    await approvals.expireStale()
    // signing requests: an approved approval (the agent held the call and got it) covers the request
    policies.point.onHold = approvals.signingHold()
    life.onClose('approvals', () => approvals.close())

    // entry expiry (`--entry-expiry`): expired entries already authorize nothing; this deletes them
    life.background(
      'entry-prune',
      runEvery(
        life.signal,
        async () => {
          const pruned = await datastore.pruneExpiredEntries(clock())
          for (const e of pruned) {
            logger.info({ entry_id: e.id, spiffe_id: e.spiffeId }, 'expired registration entry pruned')
          }
        },
        {
          intervalMs: ENTRY_PRUNE_INTERVAL_MS,
          maxBackoffMs: 60_000,
          onError: (e) => logger.warn({ err: errorText(e) }, 'expired entry prune failed'),
        },
      ),
    )

    // several servers on one datastore (issue 15): what another server changes reaches this one's
    // caches (bundle, revocations, policy, approvals) and its agents (entry nudges) within a second
    const changes = new ChangeFanout({
      datastore,
      targets: { ca, revocations, policies, approvals },
      logger,
    })
    life.onClose('change-fanout', changes.start())

    const agentApi = await startAgentApiServer({
      changes,
      policies,
      tasks,
      approvals,
      address: config.agentApiAddress,
      trustDomain: config.trustDomain,
      ca,
      datastore,
      identity,
      logger,
      clock,
      agentSvidTtlSeconds: config.agentSvidTtlSeconds,
      defaultX509SvidTtlSeconds: config.x509SvidTtlSeconds,
      defaultJwtSvidTtlSeconds: config.jwtSvidTtlSeconds,
      revocations,
      crls,
      audit,
      ...(config.x509popCa ? { x509popCaCerts: readPemCertificates(config.x509popCa, 'x509pop-ca') } : {}),
    })
    life.onClose('agent-api', () => agentApi.close())

    // federation (issue 16 item 3): foreign bundles fetched by their relationships; agents get
    // them with their next sync, for the entries that federate with those domains
    const federation = new FederationRefresher({
      datastore,
      trustDomain: config.trustDomain,
      ownBundle: () => ca.currentBundle(),
      logger,
      clock,
      limits: { minIntervalMs: config.federationMinRefreshSeconds * 1000 },
      onRefreshed: (outcome) => metrics.federationRefreshes.labels(outcome).inc(),
      ...(config.federationWebCa
        ? { webCaPem: [certificatesToPem(readPemCertificates(config.federationWebCa, 'federation-web-ca'))] }
        : {}),
    })
    life.background('federation', federation.run(life.signal))

    const adminApi = await startAdminApiServer({
      policies,
      federation,
      tasks,
      approvals,
      socketPath: config.adminSocket,
      trustDomain: config.trustDomain,
      datastore,
      ca,
      logger,
      clock,
      joinTokenTtlSeconds: config.joinTokenTtlSeconds,
      defaultX509SvidTtlSeconds: config.x509SvidTtlSeconds,
      defaultJwtSvidTtlSeconds: config.jwtSvidTtlSeconds,
      storageProbe: () => probeStorage(config.dataDir),
      revocations,
      revokeTask,
      audit,
      logLevel: logLevelControl(logger),
    })
    life.onClose('admin-api', () => adminApi.close())

    // OIDC discovery: on the bundle endpoint, and on a listener of its own when configured
    const oidcDiscovery: OidcDiscoveryConfig = {
      issuer: config.jwtIssuer,
      ...(config.oidcJwksUri ? { jwksUri: config.oidcJwksUri } : {}),
      domains: config.oidcDiscoveryDomains,
      bundle: () => ca.currentBundle(),
      logger,
    }
    const publicHosts = [config.bundleEndpointAddress?.host, config.oidcDiscoveryAddress?.host].filter(
      (h): h is string => h !== undefined,
    )
    const certSettings = {
      profile: config.bundleEndpointProfile,
      ...(config.bundleEndpointCert ? { certFile: config.bundleEndpointCert } : {}),
      ...(config.bundleEndpointKey ? { keyFile: config.bundleEndpointKey } : {}),
      dataDir: config.dataDir,
      identity,
    }
    let bundleEndpointPort: number | undefined
    if (config.bundleEndpointAddress) {
      const endpoint = await startBundleEndpoint({
        address: config.bundleEndpointAddress,
        ...certSettings,
        bundle: () => ca.currentBundle(),
        revocations: { revocations, crls: () => crls.current().crls },
        oidcDiscovery,
        devCertificateHosts: publicHosts,
        logger,
      })
      life.onClose('bundle-endpoint', () => endpoint.close())
      bundleEndpointPort = endpoint.port
    }
    let oidcDiscoveryPort: number | undefined
    if (config.oidcDiscoveryAddress) {
      const listener = await startOidcDiscoveryEndpoint({
        address: config.oidcDiscoveryAddress,
        transport: config.oidcDiscoveryPlainHttp
          ? 'plain-http'
          : { ...certSettings, trustDomain: config.trustDomain, devCertificateHosts: publicHosts },
        discovery: oidcDiscovery,
        logger,
      })
      life.onClose('oidc-discovery', () => listener.close())
      oidcDiscoveryPort = listener.port
    }

    metrics.setSources({
      activeKeyExpiry: () => ca.activeExpiry(),
      revocations: () => ({ sequence: revocations.sequence, size: revocations.size }),
      policyVersion: () => policies.point.version,
    })
    let metricsPort: number | undefined
    if (config.metricsAddress) {
      const listener = await startMetricsListener({
        address: config.metricsAddress,
        registry: metrics.registry,
        // ready: a cheap read succeeds and the CA can sign
        ready: async () => {
          try {
            await datastore.revocationSequence()
          } catch (err) {
            return `datastore unreachable (${isSigilError(err) ? err.code : 'error'})`
          }
          return ca.health().ok ? undefined : 'no usable CA'
        },
        logger,
      })
      life.onClose('metrics', () => listener.close())
      metricsPort = listener.port
    }

    logger.info(
      {
        trust_domain: config.trustDomain.name,
        metrics: config.metricsAddress
          ? `http://${formatHost(config.metricsAddress.host)}:${metricsPort}/metrics`
          : 'off',
        agent_api: `${config.agentApiAddress.host}:${agentApi.port}`,
        admin_socket: config.adminSocket,
        bundle_endpoint: config.bundleEndpointAddress
          ? `https://${config.bundleEndpointAddress.host}:${bundleEndpointPort}/`
          : 'off',
        oidc_discovery: config.oidcDiscoveryAddress
          ? `${config.oidcDiscoveryPlainHttp ? 'http' : 'https'}://${formatHost(config.oidcDiscoveryAddress.host)}:${oidcDiscoveryPort}/`
          : 'off',
        jwt_issuer: config.jwtIssuer ?? 'unset',
        datastore: datastorePath,
      },
      'sigil-server started',
    )
    return {
      agentApiPort: agentApi.port,
      bundleEndpointPort,
      oidcDiscoveryPort,
      metricsPort,
      adminSocket: config.adminSocket,
      tasks,
      stopped: life.stopped,
      close: () => life.close(),
    }
  } catch (err) {
    await life.close()
    throw err
  }
}

/** How often expired registration entries are deleted. */
export const ENTRY_PRUNE_INTERVAL_MS = 10_000

/** `logger get|set|reset` on the running pino logger (its level at start is the launch level). */
function logLevelControl(logger: Logger): LogLevelControl {
  const launchLevel = logger.level
  return {
    get level() {
      return logger.level
    },
    set level(level: string) {
      logger.level = level
    },
    launchLevel,
  }
}

function readPemCertificates(path: string, option: string): Buffer[] {
  let certs: Buffer[]
  try {
    certs = pemToCertificates(readFileSync(path, 'utf8'))
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `${option}: cannot read certificates from ${path}`, { cause })
  }
  if (certs.length === 0) throw new SigilError('ERR_CONFIG_INVALID', `${option}: no certificate in ${path}`)
  return certs
}

function loadUpstream(
  certPath: string,
  keyPath: string,
): { certDer: Buffer[]; key: ReturnType<typeof importPrivateKey> } {
  const certDer = readPemCertificates(certPath, 'upstream-ca-cert')
  let key: ReturnType<typeof importPrivateKey>
  try {
    key = importPrivateKey(readFileSync(keyPath))
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `upstream-ca-key: cannot read a private key from ${keyPath}`, {
      cause,
    })
  }
  return { certDer, key }
}
