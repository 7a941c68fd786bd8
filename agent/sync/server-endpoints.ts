/**
 * The servers an agent may call (`--server-address a:port,b:port,…`), which of them answer, and
 * which one each call goes to. Every server shares one datastore and one trust bundle, so any of
 * them serves this agent with the SVID it already has: switching needs no re-attestation.
 *
 * Choice: sticky with failover. Each agent picks a home server at random at start and sends
 * every call there; when the home stops answering (UNAVAILABLE, DEADLINE_EXCEEDED, connection
 * refused, a transport or TLS failure) it is marked down with exponential backoff (1 s to 30 s,
 * ±20 %) and calls go to the next server of the list, in list order after the home. When the
 * home's backoff has passed, the periodic sync tries it first again (calls on a workload's
 * critical path keep to servers that answer), and once it answers every call goes home (the
 * push stream too: `whenRecovered`). Why
 * not round-robin per call: one connection and one push stream per agent instead of one per
 * server; the server's per-agent authorized-entry cache stays warm on one server; and thousands
 * of agents each picking a random home spread evenly without any coordination.
 *
 * A name resolving to several addresses is one server per address (`dns.lookup`, all
 * addresses), resolved again after one of them stops answering and every 30 s; while a name
 * does not resolve, its last addresses are kept (or the name itself is dialled, and grpc-js
 * resolves it). Backoff only orders the servers, it never withholds a call: when every server is
 * down, a call still goes to the one due first, so one address behaves exactly as before.
 *
 * Trust: an address says only where to connect; every server is authenticated by its SVID
 * against the agent's bundle (server-tls.ts), so a wrong or hostile DNS answer costs
 * availability, never identity.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { status as Status } from '@grpc/grpc-js'
import { isSigilError } from '../../certs/errors.js'
import { retryDelayMs } from '../../common/loop/backoff.js'
import { grpcStatusOf } from './grpc-error.js'
import { splitHostPort } from './insecure-bootstrap-probe.js'

/** First pause before a server that stopped answering is preferred again. */
export const ENDPOINT_RETRY_INITIAL_MS = 1_000
/** Longest such pause. */
export const ENDPOINT_RETRY_MAX_MS = 30_000
/** How long a name's addresses are used before it is resolved again. */
export const RESOLVE_INTERVAL_MS = 30_000

/** Why a server was marked down (the closed label set of the failover counter). */
export type FailoverReason = 'unavailable' | 'deadline_exceeded' | 'connection_refused' | 'transport'

/** Every {@link FailoverReason}. */
export const FAILOVER_REASONS: readonly FailoverReason[] = [
  'unavailable',
  'deadline_exceeded',
  'connection_refused',
  'transport',
]

/**
 * Why `err` (a failed call to a server) means the server is not answering, or undefined when
 * the server answered (a refusal, an invalid argument, an internal error) or the failure was
 * ours (a closed client, a bad answer). Only these move calls to another server.
 *
 * @example
 * failoverReason(fromGrpcError({ code: 14, details: 'connect ECONNREFUSED' }, 'sync')) // 'connection_refused'
 */
export function failoverReason(err: unknown): FailoverReason | undefined {
  if (!isSigilError(err, 'ERR_UNAVAILABLE') || err.cause === undefined) return undefined
  const cause = err.cause
  const status = grpcStatusOf(cause)
  const text = `${(cause as { details?: unknown }).details ?? ''} ${(cause as { message?: unknown }).message ?? ''}`
  const refused = /ECONNREFUSED/.test(text) || (cause as { code?: unknown }).code === 'ECONNREFUSED'
  if (status === Status.DEADLINE_EXCEEDED) return 'deadline_exceeded'
  if (status === Status.UNAVAILABLE) return refused ? 'connection_refused' : 'unavailable'
  if (status === undefined) return refused ? 'connection_refused' : 'transport'
  return undefined
}

/** One server address the agent dials. */
export interface ServerEndpoint {
  /** `host:port` dialled: an IP address when it came from resolving a name. */
  readonly address: string
  /** The `--server-address` item it came from. */
  readonly configured: string
}

/** What health reports for one server. */
export interface EndpointStatus extends ServerEndpoint {
  /** `unknown`: not called yet; `up`: its last call was answered; `down`: it stopped answering. */
  readonly state: 'unknown' | 'up' | 'down'
  readonly consecutiveFailures: number
  /** When a down server is preferred again (ms since the epoch). */
  readonly retryAt: number | undefined
  /** True for the server this agent prefers (its home). */
  readonly home: boolean
}

/** Which calls may go to a server whose retry is due before one that answers. */
export type CallPurpose = 'call' | 'sync'

/** How to build {@link ServerEndpoints}. */
export interface ServerEndpointsOptions {
  /** `--server-address` items (checked `host:port`). */
  readonly addresses: readonly string[]
  /** Every address of a name; default `dns.lookup(host, { all: true })`. */
  readonly lookup?: (host: string) => Promise<readonly string[]>
  readonly clockMs?: () => number
  /** In [0, 1): picks the home server and jitters the backoff. */
  readonly random?: () => number
  readonly initialBackoffMs?: number
  readonly maxBackoffMs?: number
  readonly resolveIntervalMs?: number
  /** A server that was answering stopped (`to`: where calls go now, if anywhere else). */
  readonly onFailover?: (from: ServerEndpoint, reason: FailoverReason, to: ServerEndpoint | undefined) => void
  /** A server marked down answered again. */
  readonly onRecovered?: (endpoint: ServerEndpoint) => void
}

interface Endpoint extends ServerEndpoint {
  state: 'unknown' | 'up' | 'down'
  failures: number
  retryAt: number
}

interface Item {
  readonly configured: string
  readonly host: string
  readonly port: number
  /** A DNS name (not an IP literal): resolved. */
  readonly named: boolean
  endpoints: Endpoint[]
  resolvedAt: number
  stale: boolean
}

/**
 * The agent's servers and their health.
 *
 * @example
 * const endpoints = new ServerEndpoints({ addresses: ['10.0.0.5:8081', 'sigil.internal:8081'] })
 * const [first] = await endpoints.candidates('call')
 */
export class ServerEndpoints {
  readonly #items: Item[]
  readonly #lookup: (host: string) => Promise<readonly string[]>
  readonly #clockMs: () => number
  readonly #random: () => number
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #resolveMs: number
  readonly #opts: ServerEndpointsOptions
  /** Picks the home: in [0, 1), the share of the list before it. */
  readonly #home: number
  #resolving: Promise<void> | undefined
  readonly #recoveredListeners = new Set<(endpoint: ServerEndpoint) => void>()

  constructor(opts: ServerEndpointsOptions) {
    if (opts.addresses.length === 0) throw new TypeError('at least one server address is required')
    this.#opts = opts
    this.#lookup =
      opts.lookup ?? (async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address))
    this.#clockMs = opts.clockMs ?? Date.now
    this.#random = opts.random ?? Math.random
    this.#initialMs = opts.initialBackoffMs ?? ENDPOINT_RETRY_INITIAL_MS
    this.#maxMs = opts.maxBackoffMs ?? ENDPOINT_RETRY_MAX_MS
    this.#resolveMs = opts.resolveIntervalMs ?? RESOLVE_INTERVAL_MS
    this.#home = this.#random()
    this.#items = opts.addresses.map((configured) => {
      const { host, port } = splitHostPort(configured)
      const named = isIP(host) === 0
      return {
        configured,
        host,
        port,
        named,
        // a literal is dialled as written; a name, until resolved, as written too
        endpoints: [newEndpoint(configured, configured)],
        resolvedAt: named ? Number.NEGATIVE_INFINITY : 0,
        stale: named,
      }
    })
  }

  /** Every server, in preference order (home first), with its state. */
  status(): EndpointStatus[] {
    return this.#preferred().map((e, i) => ({
      address: e.address,
      configured: e.configured,
      state: e.state,
      consecutiveFailures: e.failures,
      retryAt: e.state === 'down' ? e.retryAt : undefined,
      home: i === 0,
    }))
  }

  /** Servers not marked down (one not called yet counts until a call to it fails). */
  healthyCount(): number {
    return this.#all().filter((e) => e.state !== 'down').length
  }

  /**
   * The servers to try for one call, best first (names resolved first when due): servers that
   * answer in preference order, then down servers whose retry is due, then the others by the
   * time their retry falls due. For `sync`, a down server whose retry is due ranks with those
   * that answer, so the periodic sync is what finds a server back.
   */
  async candidates(purpose: CallPurpose): Promise<ServerEndpoint[]> {
    await this.#refresh()
    const now = this.#clockMs()
    const answering: Endpoint[] = []
    const due: Endpoint[] = []
    const waiting: Endpoint[] = []
    for (const e of this.#preferred()) {
      if (e.state !== 'down') answering.push(e)
      else if (e.retryAt <= now) (purpose === 'sync' ? answering : due).push(e)
      else waiting.push(e)
    }
    waiting.sort((a, b) => a.retryAt - b.retryAt)
    return [...answering, ...due, ...waiting]
  }

  /** A call to `endpoint` was answered. */
  markUp(endpoint: ServerEndpoint): void {
    const e = this.#find(endpoint)
    if (!e) return
    const wasDown = e.state === 'down'
    e.state = 'up'
    e.failures = 0
    if (!wasDown) return
    this.#opts.onRecovered?.(endpoint)
    for (const listener of this.#recoveredListeners) listener(endpoint)
  }

  /** Calls `listener` whenever a server marked down answers again; returns the unsubscribe. */
  whenRecovered(listener: (endpoint: ServerEndpoint) => void): () => void {
    this.#recoveredListeners.add(listener)
    return () => this.#recoveredListeners.delete(listener)
  }

  /** True when `a` comes before `b` in the preference order (the home first). */
  ranksBefore(a: ServerEndpoint, b: ServerEndpoint): boolean {
    const order = this.#preferred()
    const i = order.findIndex((e) => e.address === a.address && e.configured === a.configured)
    const j = order.findIndex((e) => e.address === b.address && e.configured === b.configured)
    return i !== -1 && (j === -1 || i < j)
  }

  /** True when `endpoint` is marked down (a call to it is a probe). */
  isDown(endpoint: ServerEndpoint): boolean {
    return this.#find(endpoint)?.state === 'down'
  }

  /**
   * `endpoint` did not answer: down with backoff, its name resolved again before the next call.
   * A server already down whose retry is not due yet is left as it is (calls that were in
   * flight together count once).
   */
  markDown(endpoint: ServerEndpoint, reason: FailoverReason): void {
    const e = this.#find(endpoint)
    if (!e) return
    const now = this.#clockMs()
    if (e.state === 'down' && e.retryAt > now) return
    const wasAnswering = e.state !== 'down'
    e.failures++
    e.state = 'down'
    e.retryAt = now + retryDelayMs(e.failures, this.#initialMs, this.#maxMs, this.#random())
    const item = this.#items.find((i) => i.configured === e.configured)
    if (item?.named) item.stale = true
    if (wasAnswering) {
      const next = this.#preferred().find((o) => o !== e && o.state !== 'down')
      this.#opts.onFailover?.(endpoint, reason, next)
    }
  }

  #all(): Endpoint[] {
    return this.#items.flatMap((i) => i.endpoints)
  }

  /** All endpoints, rotated so that the home comes first. */
  #preferred(): Endpoint[] {
    const all = this.#all()
    const start = Math.min(all.length - 1, Math.floor(this.#home * all.length))
    return [...all.slice(start), ...all.slice(0, start)]
  }

  #find(endpoint: ServerEndpoint): Endpoint | undefined {
    return this.#all().find((e) => e.address === endpoint.address && e.configured === endpoint.configured)
  }

  #refresh(): Promise<void> {
    const now = this.#clockMs()
    const due = this.#items.filter((i) => i.named && (i.stale || now - i.resolvedAt >= this.#resolveMs))
    if (due.length === 0) return Promise.resolve()
    this.#resolving ??= Promise.all(due.map((i) => this.#resolve(i))).then(
      () => {
        this.#resolving = undefined
      },
      () => {
        this.#resolving = undefined
      },
    )
    return this.#resolving
  }

  async #resolve(item: Item): Promise<void> {
    let addresses: string[]
    try {
      addresses = [...new Set(await this.#lookup(item.host))].filter((a) => isIP(a) !== 0)
    } catch {
      addresses = []
    }
    item.resolvedAt = this.#clockMs()
    item.stale = false
    // nothing resolved: keep what was there (the last addresses, or the name itself)
    if (addresses.length === 0) return
    const byAddress = new Map(item.endpoints.map((e) => [e.address, e]))
    item.endpoints = addresses.map((ip) => {
      const address = isIP(ip) === 6 ? `[${ip}]:${item.port}` : `${ip}:${item.port}`
      return byAddress.get(address) ?? newEndpoint(address, item.configured)
    })
  }
}

function newEndpoint(address: string, configured: string): Endpoint {
  return { address, configured, state: 'unknown', failures: 0, retryAt: 0 }
}
