/**
 * The federation refresher: keeps each foreign trust domain's bundle current by fetching it
 * from the bundle endpoint of its federation relationship, when due (the bundle's refresh
 * hint, clamped) or when an operator asks (`federation refresh`). Agents then receive it with
 * their next sync, for the entries that federate with that domain.
 *
 * Trust and failure: a fetch that fails, serves garbage, a bundle for another trust domain, an
 * empty bundle or an older `spiffe_sequence` changes nothing stored — the last good bundle
 * stays — and is recorded on the relationship (`last_error`) and logged once per attempt. The
 * loop never throws. One fetch per trust domain at a time; a second request joins the first.
 */
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { runEvery } from '../../common/loop/run-every.js'
import type { DataStore, FederationRelationship } from '../datastore/datastore.js'
import { acceptFederatedBundle } from './accept-federated-bundle.js'
import { type EndpointTrust, fetchBundleDocument } from './bundle-endpoint-fetch.js'
import { DEFAULT_REFRESH_LIMITS, isRefreshDue, refreshIntervalMs } from './refresh-schedule.js'

/** The datastore calls the refresher makes. */
export type FederationStore = Pick<
  DataStore,
  | 'listFederationRelationships'
  | 'getFederationRelationship'
  | 'recordFederationRefresh'
  | 'storeFederatedBundle'
  | 'getBundle'
>

/** Bounds of fetching and scheduling. */
export interface FederationRefreshLimits {
  /** Shortest pause between fetches of one domain, whatever its hint (default 30 s). */
  readonly minIntervalMs: number
  /** Longest pause (default 1 h). */
  readonly maxIntervalMs: number
  /** One fetch must end within this (default 10 s). */
  readonly timeoutMs: number
  /** Largest bundle document accepted (default 1 MiB). */
  readonly maxBytes: number
  /** How often the loop looks for due relationships (default 1 s). */
  readonly tickMs: number
}

/** The default {@link FederationRefreshLimits}. */
export const DEFAULT_FEDERATION_LIMITS: FederationRefreshLimits = {
  ...DEFAULT_REFRESH_LIMITS,
  timeoutMs: 10_000,
  maxBytes: 1024 * 1024,
  tickMs: 1000,
}

/** What the refresher needs. */
export interface FederationRefresherConfig {
  readonly datastore: FederationStore
  /** The server's own trust domain and its current bundle (an https_spiffe endpoint of our own domain). */
  readonly trustDomain: TrustDomain
  readonly ownBundle: () => TrustBundle
  readonly logger: Log
  readonly clock?: () => Date
  readonly limits?: Partial<FederationRefreshLimits>
  /** Extra PEM CA certificates trusted for https_web endpoints, besides the system roots. */
  readonly webCaPem?: readonly string[]
  /** Called after every refresh with its outcome (metrics). */
  readonly onRefreshed?: (outcome: RefreshOutcome['outcome']) => void
}

/** The result of one refresh. */
export interface RefreshOutcome {
  readonly trustDomain: string
  /** `stored`: a newer bundle; `unchanged`: the same one; `failed`: see `error` (nothing changed). */
  readonly outcome: 'stored' | 'unchanged' | 'failed'
  /** The sequence number of the bundle held after the attempt (0 when none). */
  readonly sequenceNumber: number
  readonly error: string
  readonly nextRefreshAt: Date
}

/**
 * Fetches foreign bundles for the federation relationships in the datastore.
 *
 * @example
 * const refresher = new FederationRefresher({ datastore, trustDomain, ownBundle: () => ca.currentBundle(), logger })
 * void refresher.run(signal)
 * await refresher.refresh('other.org') // `federation refresh`
 */
export class FederationRefresher {
  readonly #c: FederationRefresherConfig
  readonly #limits: FederationRefreshLimits
  readonly #clock: () => Date
  readonly #inFlight = new Map<string, Promise<RefreshOutcome>>()
  /** The running loop's signal: shutting down aborts fetches in flight. */
  #signal: AbortSignal | undefined

  constructor(config: FederationRefresherConfig) {
    if (typeof config?.datastore?.storeFederatedBundle !== 'function')
      throw new TypeError('datastore is required')
    if (!(config.trustDomain instanceof TrustDomain)) throw new TypeError('trustDomain must be a TrustDomain')
    this.#c = config
    this.#limits = { ...DEFAULT_FEDERATION_LIMITS, ...config.limits }
    this.#clock = config.clock ?? (() => new Date())
  }

  /** Fetches every due relationship's bundle every tick until `signal` aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal
    await runEvery(signal, () => this.refreshDue(), {
      intervalMs: this.#limits.tickMs,
      maxBackoffMs: Math.max(this.#limits.tickMs, 30_000),
      onError: (e) => this.#c.logger.warn({ err: errorText(e) }, 'federation: listing relationships failed'),
    })
  }

  /** Refreshes every relationship due now (concurrently); resolves their outcomes. */
  async refreshDue(): Promise<RefreshOutcome[]> {
    const now = this.#clock()
    const due = (await this.#c.datastore.listFederationRelationships()).filter((r) =>
      isRefreshDue(r.nextRefreshAt, now),
    )
    return Promise.all(due.map((r) => this.refresh(r.trustDomain)))
  }

  /**
   * Fetches one trust domain's bundle now. Resolves the outcome (a failed fetch is an outcome,
   * not a rejection); rejects `ERR_NOT_FOUND` when there is no relationship with the domain.
   */
  refresh(trustDomain: string): Promise<RefreshOutcome> {
    const running = this.#inFlight.get(trustDomain)
    if (running !== undefined) return running
    const p = this.#refreshOnce(trustDomain).finally(() => this.#inFlight.delete(trustDomain))
    this.#inFlight.set(trustDomain, p)
    return p
  }

  async #refreshOnce(trustDomain: string): Promise<RefreshOutcome> {
    const ds = this.#c.datastore
    const relationship = await ds.getFederationRelationship(trustDomain)
    if (relationship === undefined) {
      throw new SigilError('ERR_NOT_FOUND', `no federation relationship with trust domain ${trustDomain}`)
    }
    const td = TrustDomain.parse(trustDomain)
    const held = await this.#storedBundle(td)
    let outcome: RefreshOutcome['outcome']
    let error = ''
    let current = held
    try {
      const trust = await this.#endpointTrust(relationship)
      const limits = this.#signal === undefined ? this.#limits : { ...this.#limits, signal: this.#signal }
      const body = await fetchBundleDocument(
        new URL(relationship.bundleEndpointUrl),
        trust,
        limits,
        this.#clock(),
      )
      const fetched = acceptFederatedBundle(td, body)
      const { outcome: stored } = await ds.storeFederatedBundle(trustDomain, {
        spiffeBundleJson: encodeSpiffeBundle(fetched),
        sequenceNumber: fetched.sequenceNumber,
      })
      if (stored === 'stale') {
        throw new SigilError(
          'ERR_BUNDLE_INVALID',
          `served spiffe_sequence ${fetched.sequenceNumber}, not newer than the stored ${held?.sequenceNumber ?? 0} (with other content): kept the stored bundle`,
        )
      }
      outcome = stored
      current = fetched
    } catch (e) {
      outcome = 'failed'
      error = errorText(e).slice(0, 500)
    }
    const now = this.#clock()
    const nextRefreshAt = new Date(
      now.getTime() + refreshIntervalMs(current?.refreshHintSeconds, this.#limits),
    )
    try {
      await ds.recordFederationRefresh(trustDomain, { at: now, nextRefreshAt, error })
    } catch (e) {
      // deleted meanwhile, or storage trouble: the outcome still stands; the loop retries storage
      this.#c.logger.warn(
        { trust_domain: trustDomain, err: errorText(e) },
        'federation: recording a refresh failed',
      )
    }
    const sequenceNumber = current?.sequenceNumber ?? 0
    if (outcome === 'failed') {
      this.#c.logger.warn(
        {
          trust_domain: trustDomain,
          url: relationship.bundleEndpointUrl,
          err: error,
          sequence_number: sequenceNumber,
        },
        'federation: bundle refresh failed; keeping the last good bundle',
      )
    } else if (outcome === 'stored') {
      this.#c.logger.info(
        { trust_domain: trustDomain, sequence_number: sequenceNumber },
        'federation: stored a newer bundle',
      )
    }
    this.#c.onRefreshed?.(outcome)
    return { trustDomain, outcome, sequenceNumber, error, nextRefreshAt }
  }

  /** The stored bundle of a trust domain, decoded (undefined when none or unreadable). */
  async #storedBundle(td: TrustDomain): Promise<TrustBundle | undefined> {
    const record = await this.#c.datastore.getBundle(td.name)
    if (record === undefined) return undefined
    try {
      return decodeSpiffeBundle(td, record.spiffeBundleJson)
    } catch {
      return undefined
    }
  }

  async #endpointTrust(r: FederationRelationship): Promise<EndpointTrust> {
    if (r.bundleEndpointProfile === 'https_web') {
      return { profile: 'https_web', extraCaPem: this.#c.webCaPem ?? [] }
    }
    const endpointSpiffeId = SpiffeId.parse(r.endpointSpiffeId)
    const endpointTd = endpointSpiffeId.trustDomain
    const endpointBundle = endpointTd.equals(this.#c.trustDomain)
      ? this.#c.ownBundle()
      : await this.#storedBundle(endpointTd)
    if (endpointBundle === undefined || endpointBundle.x509Authorities.length === 0) {
      throw new SigilError(
        'ERR_BUNDLE_NOT_FOUND',
        `no X.509 bundle of ${endpointTd.name} to authenticate the https_spiffe endpoint ${endpointSpiffeId} (bootstrap it with federation create/update --trust-domain-bundle or bundle set)`,
      )
    }
    return { profile: 'https_spiffe', endpointSpiffeId, endpointBundle }
  }
}
