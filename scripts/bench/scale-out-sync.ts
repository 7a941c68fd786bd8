/**
 * Part `sync` of `npm run bench -- scale-out`: AGENTS simulated agents (this process; each its
 * own agent SVID from a join token, its own mTLS channel) with ENTRIES registration entries
 * each, spread half/half over two sigil-servers on one PostgreSQL, calling
 * SyncAuthorizedEntries every INTERVAL seconds as a real agent's sync loop does (sending the
 * digest, revocation sequence and CRL digest of its last answer, so an unchanged agent gets the
 * short answer), their first calls spread over the interval. Measured over DURATION seconds:
 * sync latency, database load (pg_stat_database transactions and rows; the servers' DataStore
 * calls from /metrics), the servers', PostgreSQL's and this load generator's CPU. Not simulated:
 * the agents' WatchAgentUpdates push streams and SVID renewals. Trust: local processes only.
 */
import type { ServiceError } from '@grpc/grpc-js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { type AgentCredential, agentApiClient, attestWithJoinToken } from './agent-api-client.js'
import { latencySummary } from './closed-loop.js'
import {
  type ClusterServer,
  ClusterWindow,
  joinToken,
  type WindowFigures,
  withCluster,
} from './scale-out-cluster.js'

const TD = 'spiffe://example.org'

/** Sizes of the sync part. */
export interface SyncOptions {
  readonly agents: number
  readonly entries: number
  /** Measured seconds. */
  readonly duration: number
  /** Seconds between two syncs of one agent. */
  readonly interval: number
}

/** What the sync part measured. */
export interface SyncResult {
  readonly agents: number
  readonly entriesPerAgent: number
  readonly intervalS: number
  readonly syncs: number
  readonly syncsPerS: number
  readonly errors: number
  readonly firstError: string | null
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Syncs answered `unchanged` (digest matched) in the window. */
  readonly unchanged: number
  /** Entries the agents held at the end (should be agents × entries). */
  readonly entriesHeld: number
  readonly setupS: number
  readonly joined: boolean
  readonly window: WindowFigures
}

/** One simulated agent: its channel and what its last sync told it. */
class SimAgent {
  readonly client: AgentAPIClient
  digest = ''
  revocationSequence = 0
  crlsDigest = ''
  entries = 0

  constructor(server: ClusterServer, rootPem: string, cred: AgentCredential) {
    this.client = agentApiClient(server.agentApiAddress, rootPem, cred)
  }

  /** One sync; resolves whether the answer was `unchanged`. */
  sync(): Promise<boolean> {
    return new Promise((resolve, reject) =>
      this.client.SyncAuthorizedEntries(
        {
          known_entries_digest: this.digest,
          known_revocation_sequence: this.revocationSequence,
          known_crls_digest: this.crlsDigest,
        },
        { deadline: Date.now() + 30_000 },
        (err: ServiceError | null, res?: SyncAuthorizedEntriesResponse__Output) => {
          if (err || !res) return reject(err ?? new Error('SyncAuthorizedEntries: no answer'))
          if (!res.unchanged) this.entries = res.entries.length
          this.digest = res.entries_digest
          this.crlsDigest = res.crls_digest
          if (res.revocations) this.revocationSequence = Number(res.revocations.sequence)
          resolve(res.unchanged)
        },
      ),
    )
  }
}

/** Runs `fn` over `items`, `concurrency` at a time. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (t: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return out
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Runs the part on a fresh PostgreSQL with two servers.
 *
 * @example
 * const r = await syncPart({ agents: 1000, entries: 10, duration: 60, interval: 5 }, say)
 */
export function syncPart(opts: SyncOptions, say: (line: string) => void): Promise<SyncResult> {
  return withCluster(say, async (cluster) => {
    const t0 = performance.now()
    const a = await cluster.addServer()
    const b = await cluster.addServer()
    const servers = [a, b]
    const ids = Array.from({ length: opts.agents }, (_, i) => `${TD}/sim/agent-${i}`)
    const specs = ids.flatMap((parentId, i) =>
      Array.from({ length: opts.entries }, (_, j) => ({
        spiffeId: `${TD}/sim/agent-${i}/w${j}`,
        parentId,
        selectors: [`unix:uid:${30_000 + j}`],
      })),
    )
    // half the entries through each server: both write the shared database
    const mid = Math.floor(specs.length / 2)
    await Promise.all([a.createEntries(specs.slice(0, mid), 8), b.createEntries(specs.slice(mid), 8)])
    say(`scale-out sync: ${specs.length} entries created; attesting ${opts.agents} agents…`)
    // with --join-datastore the bundle of either server holds both CAs; without it each server's own
    const roots = servers.map((s) => s.bundlePem)
    const agents = await pool(ids, 8, async (id, i) => {
      const server = servers[i % 2] as ClusterServer
      const root = roots[i % 2] as string
      const cred = await attestWithJoinToken(server.agentApiAddress, root, await joinToken(server, id))
      return new SimAgent(server, root, cred)
    })
    cluster.scope.defer(() => {
      for (const s of agents) s.client.close()
    })
    // first (full) sync of every agent, and its TLS connection
    await pool(agents, 32, (s) => s.sync())
    const setupS = (performance.now() - t0) / 1000
    say(
      `scale-out sync: ${opts.agents} agents attested and synced in ${setupS.toFixed(1)} s; measuring ${opts.duration} s…`,
    )

    const samples: number[] = []
    let errors = 0
    let unchanged = 0
    let firstError: string | null = null
    const window = new ClusterWindow(cluster, servers)
    await window.start()
    const start = performance.now()
    const end = start + opts.duration * 1000
    const intervalMs = opts.interval * 1000
    await Promise.all(
      agents.map(async (s, i) => {
        // the agents' sync loops, out of phase as real agents started at different times are
        await sleep((i / agents.length) * intervalMs)
        for (let due = performance.now(); due < end; due += intervalMs) {
          const t = performance.now()
          try {
            if (await s.sync()) unchanged++
            samples.push(performance.now() - t)
          } catch (e) {
            errors++
            firstError ??= (e as Error).message
          }
          if (due + intervalMs >= end) break
          await sleep(Math.max(0, due + intervalMs - performance.now()))
        }
      }),
    )
    const figures = await window.end()
    const { p50Ms, p99Ms } = latencySummary(samples)
    return {
      agents: opts.agents,
      entriesPerAgent: opts.entries,
      intervalS: opts.interval,
      syncs: samples.length,
      syncsPerS: Math.round((samples.length / opts.duration) * 10) / 10,
      errors,
      firstError,
      p50Ms: Math.round(p50Ms * 10) / 10,
      p99Ms: Math.round(p99Ms * 10) / 10,
      maxMs: Math.round(Math.max(0, ...samples) * 10) / 10,
      unchanged,
      entriesHeld: agents.reduce((n, s) => n + s.entries, 0),
      setupS: Math.round(setupS * 10) / 10,
      joined: cluster.joined,
      window: figures,
    }
  })
}
