/**
 * sigil-server's Prometheus metrics: one prom-client Registry per server (never the global
 * one, so two servers in one process or a test never share counters). Label values are closed
 * sets and every label child is created up front, so recording is a property read and an add.
 * Nothing here carries a SPIFFE ID, key or token.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { TASK_OUTCOMES } from '../datastore/records.js'

/** What the server signs: X509-SVIDs (workload, agent and its own) and JWT-SVIDs (incl. Txn-Tokens). */
export type IssuedKind = 'x509' | 'jwt'

/** Latency buckets (seconds) for signing and datastore queries: 0.1 ms to 2.5 s. */
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5]

/** Read-only views the gauges ask at scrape time. */
export interface ServerMetricsSources {
  /** Active X.509 CA and JWT key notAfter (undefined before the CA is ready). */
  activeKeyExpiry(): { x509: Date | undefined; jwt: Date | undefined }
  /** The revocation list's highest sequence number and how many revocations it holds. */
  revocations(): { sequence: number; size: number }
  /** The policy version in force (0: none). */
  policyVersion?(): number
}

/**
 * The server's metrics. Create once in the composition root; hand the recorders to components.
 *
 * @example
 * const metrics = new ServerMetrics()
 * metrics.observeIssued('x509', 0.0004)
 * const text = await metrics.registry.metrics()
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly #issued: Record<IssuedKind, Counter.Internal>
  readonly #issueSeconds: Record<IssuedKind, Histogram.Internal<'kind'>>
  readonly datastoreSeconds: Histogram<'method'>
  readonly datastoreErrors: Counter<'method'>
  readonly tasksBegun: Counter
  readonly tasksEnded: Counter<'outcome'>
  readonly revocationsAdded: Counter
  /** Federation (issue 16 item 3): refreshes of foreign bundles, by outcome. */
  /** Every audited decision by kind and decision (policy, approval, task, revocation, admin). */
  readonly decisions: Counter<'kind' | 'decision'>
  readonly federationRefreshes: Counter<'outcome'>
  #sources: ServerMetricsSources | undefined

  constructor() {
    const registers = [this.registry]
    const issued = new Counter({
      name: 'sigil_server_svids_issued_total',
      help: 'SVIDs signed by this server, by kind (x509: workload, agent and server X509-SVIDs; jwt: JWT-SVIDs and Txn-Tokens)',
      labelNames: ['kind'],
      registers,
    })
    const issueSeconds = new Histogram({
      name: 'sigil_server_svid_issue_duration_seconds',
      help: 'Time to sign one SVID, by kind',
      labelNames: ['kind'],
      buckets: FAST_BUCKETS,
      registers,
    })
    this.#issued = { x509: issued.labels('x509'), jwt: issued.labels('jwt') }
    this.#issueSeconds = { x509: issueSeconds.labels('x509'), jwt: issueSeconds.labels('jwt') }
    // zero series from the start, so a rate() has a first sample
    for (const kind of ['x509', 'jwt'] as const) {
      this.#issued[kind].inc(0)
      issueSeconds.zero({ kind })
    }
    this.datastoreSeconds = new Histogram({
      name: 'sigil_server_datastore_query_duration_seconds',
      help: 'Datastore call latency, by DataStore method',
      labelNames: ['method'],
      buckets: FAST_BUCKETS,
      registers,
    })
    this.datastoreErrors = new Counter({
      name: 'sigil_server_datastore_errors_total',
      help: 'Datastore calls that failed, by DataStore method (expected refusals such as an existing entry included)',
      labelNames: ['method'],
      registers,
    })
    this.tasksBegun = new Counter({
      name: 'sigil_server_tasks_begun_total',
      help: 'Tasks begun',
      registers,
    })
    this.tasksEnded = new Counter({
      name: 'sigil_server_tasks_ended_total',
      help: 'Tasks ended, by outcome',
      labelNames: ['outcome'],
      registers,
    })
    for (const outcome of TASK_OUTCOMES) this.tasksEnded.labels(outcome).inc(0)
    this.revocationsAdded = new Counter({
      name: 'sigil_server_revocations_total',
      help: 'Revocations recorded (credentials, task tokens)',
      registers,
    })
    this.decisions = new Counter({
      name: 'sigil_server_decisions_total',
      help: 'Decisions recorded in the audit trail, by kind (x509_svid_issued, signing_refused, policy_decision, approval_requested/granted/denied/expired, task_begun/ended/drift, revocation, admin_operation, …) and decision (allow, deny, hold, info)',
      labelNames: ['kind', 'decision'],
      registers,
    })
    this.federationRefreshes = new Counter({
      name: 'sigil_server_federation_refreshes_total',
      help: 'Fetches of foreign trust bundles, by outcome (stored: a newer bundle; unchanged; failed: refused, the last good bundle kept)',
      labelNames: ['outcome'],
      registers,
    })
    for (const outcome of ['stored', 'unchanged', 'failed']) this.federationRefreshes.labels(outcome).inc(0)
    const sources = (): ServerMetricsSources | undefined => this.#sources
    new Gauge({
      name: 'sigil_server_ca_expiry_timestamp_seconds',
      help: 'notAfter of the active signing key, by kind (x509: the X.509 CA; jwt: the JWT key), unix seconds',
      labelNames: ['kind'],
      registers,
      collect() {
        const expiry = sources()?.activeKeyExpiry()
        this.reset()
        if (expiry?.x509) this.labels('x509').set(expiry.x509.getTime() / 1000)
        if (expiry?.jwt) this.labels('jwt').set(expiry.jwt.getTime() / 1000)
      },
    })
    new Gauge({
      name: 'sigil_server_revocation_sequence',
      help: "The revocation list's highest sequence number",
      registers,
      collect() {
        this.set(sources()?.revocations().sequence ?? 0)
      },
    })
    new Gauge({
      name: 'sigil_server_policy_version',
      help: 'The Cedar policy version in force (0: no policy set; servers on one datastore converge within seconds)',
      registers,
      collect() {
        this.set(sources()?.policyVersion?.() ?? 0)
      },
    })
    new Gauge({
      name: 'sigil_server_revocations_held',
      help: 'Revocations the server holds (pruned after the credential expires)',
      registers,
      collect() {
        this.set(sources()?.revocations().size ?? 0)
      },
    })
  }

  /** Connects the scrape-time gauges to the running components. */
  setSources(sources: ServerMetricsSources): void {
    this.#sources = sources
  }

  /** Records one signed SVID and how long signing took. */
  observeIssued(kind: IssuedKind, seconds: number): void {
    this.#issued[kind].inc()
    this.#issueSeconds[kind].observe(seconds)
  }
}
