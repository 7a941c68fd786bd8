/**
 * Part `issuance` of `npm run bench -- scale-out`: X509-SVID signing through the agent API
 * (BatchNewX509Svid over mTLS, as attested agents do) against one sigil-server on PostgreSQL,
 * then against two servers on the same database with the same total number of closed-loop
 * callers split half/half. Per window: SVIDs per second (wall), each server's CPU, PostgreSQL's
 * CPU (postmaster + backends) and this load generator's CPU, all on the same cores. Trust:
 * local processes only.
 */
import { generateKeyPair } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { agentApiClient, attestWithJoinToken, batchNewX509Svid } from './agent-api-client.js'
import {
  type Cluster,
  type ClusterServer,
  ClusterWindow,
  joinToken,
  type WindowFigures,
  withCluster,
} from './scale-out-cluster.js'

const TD = 'spiffe://example.org'
const ENTRIES_PER_AGENT = 50

/** Sizes of the issuance part. */
export interface IssuanceOptions {
  /** Measured seconds per configuration. */
  readonly seconds: number
  /** Closed-loop callers in total (each its own TLS channel). */
  readonly callers: number
  /** CSRs per BatchNewX509Svid call. */
  readonly batch: number
  /** Distinct pre-generated CSRs (one key each), reused round-robin. */
  readonly csrs: number
}

/** One configuration's result. */
export interface IssuanceRun {
  readonly servers: number
  readonly svids: number
  readonly svidsPerS: number
  readonly errors: number
  readonly window: WindowFigures
}

/** Both configurations. */
export interface IssuanceResult {
  readonly one: IssuanceRun
  readonly two: IssuanceRun
  /** Whether server B joined with `--join-datastore` (else its own CA via `--allow-new-ca`). */
  readonly joined: boolean
}

/** A simulated agent attested at one server, its entries, and callers' channels to that server. */
interface Caller {
  readonly client: AgentAPIClient
  readonly entryIds: readonly string[]
}

async function attestedCallers(
  cluster: Cluster,
  server: ClusterServer,
  agentId: string,
  entryIds: readonly string[],
  n: number,
): Promise<Caller[]> {
  const cred = await attestWithJoinToken(
    server.agentApiAddress,
    server.bundlePem,
    await joinToken(server, agentId),
  )
  const callers = Array.from({ length: n }, () => ({
    client: agentApiClient(server.agentApiAddress, server.bundlePem, cred),
    entryIds,
  }))
  cluster.scope.defer(() => {
    for (const c of callers) c.client.close()
  })
  return callers
}

async function closedLoop(
  cluster: Cluster,
  measured: readonly ClusterServer[],
  callers: readonly Caller[],
  csrs: readonly Buffer[],
  opts: IssuanceOptions,
): Promise<IssuanceRun> {
  let cursor = 0
  let errors = 0
  const call = async (c: Caller): Promise<number> => {
    const start = cursor
    cursor += opts.batch
    const params = Array.from({ length: opts.batch }, (_, j) => ({
      entry_id: c.entryIds[(start + j) % c.entryIds.length] as string,
      csr: csrs[(start + j) % csrs.length] as Buffer,
    }))
    try {
      return await batchNewX509Svid(c.client, params)
    } catch {
      errors++
      return 0
    }
  }
  // warm-up: TLS handshakes, JIT, the servers' caches
  await Promise.all(callers.map(async (c) => [await call(c), await call(c), await call(c)]))
  errors = 0
  const window = new ClusterWindow(cluster, measured)
  await window.start()
  const end = performance.now() + opts.seconds * 1000
  let svids = 0
  await Promise.all(
    callers.map(async (c) => {
      while (performance.now() < end) {
        const got = await call(c)
        svids += got
      }
    }),
  )
  const figures = await window.end()
  return {
    servers: measured.length,
    svids,
    svidsPerS: Math.round(svids / figures.seconds),
    errors,
    window: figures,
  }
}

/**
 * Runs the part on a fresh PostgreSQL.
 *
 * @example
 * const r = await issuancePart({ seconds: 10, callers: 8, batch: 10, csrs: 200 }, say)
 */
export function issuancePart(opts: IssuanceOptions, say: (line: string) => void): Promise<IssuanceResult> {
  return withCluster(say, async (cluster) => {
    const a = await cluster.addServer()
    const agentA = `${TD}/bench-node-a`
    const agentB = `${TD}/bench-node-b`
    const entries = (parentId: string, tag: string) =>
      Array.from({ length: ENTRIES_PER_AGENT }, (_, i) => ({
        spiffeId: `${TD}/bench/scale-out/${tag}/w${i}`,
        parentId,
        selectors: [`unix:uid:${20_000 + i}`],
      }))
    const idsA = await a.createEntries(entries(agentA, 'a'))
    const idsB = await a.createEntries(entries(agentB, 'b'))
    const csrs: Buffer[] = []
    for (let i = 0; i < opts.csrs; i++) csrs.push(await createCsr(await generateKeyPair('ec-p256')))

    say(`scale-out issuance: 1 server, ${opts.callers} callers, batch ${opts.batch}, ${opts.seconds} s`)
    const onA = await attestedCallers(cluster, a, agentA, idsA, opts.callers)
    const one = await closedLoop(cluster, [a], onA, csrs, opts)

    const b = await cluster.addServer()
    const half = Math.max(1, Math.floor(opts.callers / 2))
    const onB = await attestedCallers(cluster, b, agentB, idsB, opts.callers - half)
    say(
      `scale-out issuance: 2 servers (B ${cluster.joined ? 'joined' : 'with its own CA: no --join-datastore yet'}), ${half} + ${opts.callers - half} callers`,
    )
    const two = await closedLoop(cluster, [a, b], [...onA.slice(0, half), ...onB], csrs, opts)
    return { one, two, joined: cluster.joined }
  })
}
