/**
 * sigil-agent's Prometheus metrics: one prom-client Registry per agent (never the global one).
 * Label values are closed sets; label children are created up front (Workload API children once
 * per method and status, then reused), so recording allocates nothing. No SPIFFE ID, pid, key or
 * token is ever a label.
 */
import { status } from '@grpc/grpc-js'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SvidIssuer } from '../cache/authorized-state.js'
import type { CacheStats } from '../cache/cache-options.js'
import type { Installed } from '../cache/held-svids.js'
import { FAILOVER_REASONS, type FailoverReason } from '../sync/server-endpoints.js'

type Kind = 'x509' | 'jwt'
type Result = 'ok' | 'error'

/** Round-trip buckets (seconds) for calls to the server: 1 ms to 10 s. */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** gRPC status names by number, for the `code` label (`OK`, `PERMISSION_DENIED`, ...). */
const STATUS_NAMES: readonly string[] = Object.entries(status)
  .filter(([, v]) => typeof v === 'number')
  .sort(([, a], [, b]) => (a as number) - (b as number))
  .map(([k]) => k)

/** Read-only views the gauges ask at scrape time. */
export interface AgentMetricsSources {
  cache(): CacheStats
  /** The agent SVID's notAfter; undefined before attestation. */
  agentSvidExpiry(): Date | undefined
  revocationSequence(): number
  /** Servers not marked down (absent: not counted). */
  healthyServers?(): number
}

/** The kinds of server nudges counted. */
type NudgeKind = 'entries_changed' | 'bundle_changed'

/**
 * The agent's metrics. Create once in the composition root.
 *
 * @example
 * const metrics = new AgentMetrics()
 * const cache = new WorkloadIdentityCache({ issuer: metrics.timedIssuer(client), ... })
 */
export class AgentMetrics {
  readonly registry = new Registry()
  readonly #requests: Record<Kind, Record<Result, Counter.Internal>>
  readonly #requestSeconds: Record<Kind, Histogram.Internal<'kind'>>
  readonly #workloadCalls: Counter<'method' | 'code'>
  /** Children by method, then by status number: created on first use, reused after. */
  readonly #callChildren = new Map<string, Counter.Internal[]>()
  readonly #installs: Record<Installed, Counter.Internal>
  readonly #sync: Record<Result, Histogram.Internal<'result'>>
  readonly #failovers: Record<FailoverReason, Counter.Internal>
  readonly #nudges: Record<NudgeKind, Counter.Internal>
  #sources: AgentMetricsSources | undefined

  constructor() {
    const registers = [this.registry]
    const requests = new Counter({
      name: 'sigil_agent_svid_requests_total',
      help: 'SVID signing requests to the server, by kind and result (an x509 request is one batch)',
      labelNames: ['kind', 'result'],
      registers,
    })
    const requestSeconds = new Histogram({
      name: 'sigil_agent_svid_request_duration_seconds',
      help: 'Round trip of SVID signing requests to the server, by kind',
      labelNames: ['kind'],
      buckets: RPC_BUCKETS,
      registers,
    })
    this.#requests = {
      x509: { ok: requests.labels('x509', 'ok'), error: requests.labels('x509', 'error') },
      jwt: { ok: requests.labels('jwt', 'ok'), error: requests.labels('jwt', 'error') },
    }
    this.#requestSeconds = { x509: requestSeconds.labels('x509'), jwt: requestSeconds.labels('jwt') }
    // zero series from the start, so a rate() has a first sample
    for (const kind of ['x509', 'jwt'] as const) {
      for (const result of ['ok', 'error'] as const) this.#requests[kind][result].inc(0)
      requestSeconds.zero({ kind })
    }
    this.#workloadCalls = new Counter({
      name: 'sigil_agent_workload_api_calls_total',
      help: 'Workload API calls that ended, by RPC and gRPC status (streams count when they end; CANCELLED: the caller left)',
      labelNames: ['method', 'code'],
      registers,
    })
    const installs = new Counter({
      name: 'sigil_agent_x509_svids_installed_total',
      help: 'Workload and spare X509-SVIDs installed, by kind (new: first for an entry or a changed entry; renewed: a renewal; late: a renewal signed after the old SVID used more than half the time between its planned renewal and its expiry)',
      labelNames: ['kind'],
      registers,
    })
    this.#installs = {
      new: installs.labels('new'),
      renewed: installs.labels('renewed'),
      late: installs.labels('late'),
    }
    for (const child of Object.values(this.#installs)) child.inc(0)
    const sync = new Histogram({
      name: 'sigil_agent_sync_duration_seconds',
      help: 'Round trip of the authorized-entry sync with the server, by result',
      labelNames: ['result'],
      buckets: RPC_BUCKETS,
      registers,
    })
    this.#sync = { ok: sync.labels('ok'), error: sync.labels('error') }
    sync.zero({ result: 'ok' })
    sync.zero({ result: 'error' })
    const failovers = new Counter({
      name: 'sigil_agent_server_failovers_total',
      help: 'Times a server this agent was calling stopped answering, by reason; its calls moved to the next server of --server-address (if there is one)',
      labelNames: ['reason'],
      registers,
    })
    this.#failovers = Object.fromEntries(
      FAILOVER_REASONS.map((r) => [r, failovers.labels(r)] as const),
    ) as Record<FailoverReason, Counter.Internal>
    for (const child of Object.values(this.#failovers)) child.inc(0)
    const nudges = new Counter({
      name: 'sigil_agent_sync_nudges_total',
      help: 'Nudges pushed by the server (entries or bundle changed), each asking for a sync at once; a burst runs at most one sync in flight plus one queued',
      labelNames: ['kind'],
      registers,
    })
    this.#nudges = {
      entries_changed: nudges.labels('entries_changed'),
      bundle_changed: nudges.labels('bundle_changed'),
    }
    for (const child of Object.values(this.#nudges)) child.inc(0)

    const cache = (): CacheStats | undefined => this.#sources?.cache()
    const gauge = (name: string, help: string, read: () => number | undefined): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read() ?? 0)
        },
      })
    }
    gauge('sigil_agent_x509_svids', 'Workload X509-SVIDs held for live processes', () => cache()?.x509Svids)
    gauge(
      'sigil_agent_spare_x509_svids',
      'Spare X509-SVIDs signed ahead for new processes',
      () => cache()?.spareX509Svids,
    )
    gauge('sigil_agent_jwt_svids', 'JWT-SVIDs cached', () => cache()?.jwtSvids)
    gauge(
      'sigil_agent_workload_processes',
      'Workload processes the agent holds identities for',
      () => cache()?.processes,
    )
    gauge(
      'sigil_agent_workload_subscriptions',
      'Open Workload API subscriptions (streams)',
      () => cache()?.subscriptions,
    )
    gauge(
      'sigil_agent_svid_expiry_timestamp_seconds',
      "The agent's own X509-SVID notAfter, unix seconds (0 before attestation)",
      () => {
        const at = this.#sources?.agentSvidExpiry()
        return at === undefined ? 0 : at.getTime() / 1000
      },
    )
    gauge(
      'sigil_agent_healthy_servers',
      'Servers of --server-address not marked down (one not called yet counts until a call to it fails)',
      () => this.#sources?.healthyServers?.(),
    )
    gauge(
      'sigil_agent_revocation_sequence',
      'The highest revocation sequence number the agent has seen',
      () => this.#sources?.revocationSequence(),
    )
  }

  /** Connects the scrape-time gauges to the running components. */
  setSources(sources: AgentMetricsSources): void {
    this.#sources = sources
  }

  /** The issuer with each request timed and counted. */
  timedIssuer(inner: SvidIssuer): SvidIssuer {
    const timed = async <T>(kind: Kind, call: () => Promise<T>): Promise<T> => {
      const start = process.hrtime.bigint()
      try {
        const result = await call()
        this.#requests[kind].ok.inc()
        return result
      } catch (err) {
        this.#requests[kind].error.inc()
        throw err
      } finally {
        this.#requestSeconds[kind].observe(Number(process.hrtime.bigint() - start) / 1e9)
      }
    }
    return {
      newX509Svids: (requests) => timed('x509', () => inner.newX509Svids(requests)),
      newJwtSvid: (entryId, audience) => timed('jwt', () => inner.newJwtSvid(entryId, audience)),
    }
  }

  /** Counts one ended Workload API call. */
  workloadApiCall(method: string, code: number): void {
    let children = this.#callChildren.get(method)
    if (children === undefined) {
      children = []
      this.#callChildren.set(method, children)
    }
    children[code] ??= this.#workloadCalls.labels(method, STATUS_NAMES[code] ?? String(code))
    children[code].inc()
  }

  /** Counts one installed X509-SVID. */
  installed(kind: Installed): void {
    this.#installs[kind].inc()
  }

  /** Counts one server that stopped answering. */
  failover(reason: FailoverReason): void {
    this.#failovers[reason].inc()
  }

  /** Counts one nudge from the server. */
  nudged(kind: NudgeKind): void {
    this.#nudges[kind].inc()
  }

  /** Records one sync round trip. */
  synced(seconds: number, ok: boolean): void {
    this.#sync[ok ? 'ok' : 'error'].observe(seconds)
  }
}
