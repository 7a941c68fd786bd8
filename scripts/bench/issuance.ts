/**
 * `npm run bench -- issuance`: the real `sigil-server` process signing X509-SVIDs for CSRs
 * through its agent API (mTLS, an attested agent, entries parented to it): batches of 1 and 50
 * from several concurrent callers, each on its own TLS connection. The rate is SVIDs per
 * second of server CPU time (utime + stime from /proc, all threads), i.e. per server core,
 * and includes TLS, gRPC, authorization, CSR parsing and verification, signing and the
 * issuance records in SQLite. Beside it, in the same run: `openssl speed ecdsap256` (one core;
 * its sign rate is the goal's reference, and one sign + one verify per SVID, for the SVID and
 * the CSR's proof of possession, is the ceiling any issuer can reach), and parseCsr + mint
 * in this process (what Node's crypto allows before any RPC or storage cost).
 * CSRs (one key each) are generated before the clock starts and reused round-robin.
 *
 * Env: SIGIL_BENCH_SECONDS (per measurement, default 5), SIGIL_BENCH_CALLERS (default 4),
 * SIGIL_BENCH_CSRS (distinct CSRs, default 1000), SIGIL_BENCH_BATCHES (default 1,50).
 */
import { cpus } from 'node:os'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { createCsr, parseCsr } from '../../certs/x509svid/csr.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { agentApiClient, attestWithJoinToken, batchNewX509Svid } from './agent-api-client.js'
import { benchMinter } from './bench-minter.js'
import { BenchScope } from './bench-scope.js'
import { type Benchmark, opensslP256Speed, opsPerSecond, rate } from './benchmark.js'
import { machineLoad, processCpuSeconds } from './proc-stats.js'
import { startBenchServer } from './sigil-node.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 5)
const CALLERS = Number(process.env.SIGIL_BENCH_CALLERS ?? 4)
const CSRS = Number(process.env.SIGIL_BENCH_CSRS ?? 1000)
/** Batch sizes to measure (SIGIL_BENCH_BATCHES=50 narrows a profiling run). */
const BATCHES = (process.env.SIGIL_BENCH_BATCHES ?? '1,50').split(',').map(Number)
const GOAL_RATIO = 0.25

/** What one batch size achieved. */
interface IssuanceRun {
  readonly svids: number
  readonly wallSeconds: number
  readonly serverCpuSeconds: number
  readonly benchCpuSeconds: number
  /** SVIDs per second of server CPU time. */
  readonly perCore: number
  /** SVIDs per second of wall time. */
  readonly perWall: number
}

const NOT_RUN: IssuanceRun = {
  svids: 0,
  wallSeconds: Number.NaN,
  serverCpuSeconds: Number.NaN,
  benchCpuSeconds: Number.NaN,
  perCore: Number.NaN,
  perWall: Number.NaN,
}

async function measure(
  serverPid: number,
  clients: readonly AgentAPIClient[],
  entryIds: readonly string[],
  csrs: readonly Buffer[],
  batch: number,
): Promise<IssuanceRun> {
  let cursor = 0
  const call = async (client: AgentAPIClient): Promise<number> => {
    const start = cursor
    cursor += batch
    const params = Array.from({ length: batch }, (_, j) => ({
      entry_id: entryIds[(start + j) % entryIds.length] as string,
      csr: csrs[(start + j) % csrs.length] as Buffer,
    }))
    const got = await batchNewX509Svid(client, params)
    if (got !== batch) throw new Error(`asked for ${batch} SVIDs, got ${got}`)
    return got
  }
  const warmup = Math.max(2, Math.ceil(100 / batch))
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < warmup; i++) await call(c)
    }),
  )
  const cpu0 = processCpuSeconds(serverPid)
  const bench0 = process.cpuUsage()
  const t0 = performance.now()
  const end = t0 + SECONDS * 1000
  let svids = 0
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) {
        const got = await call(c) // not `svids += await …`: that reads svids before the await
        svids += got
      }
    }),
  )
  const wallSeconds = (performance.now() - t0) / 1000
  const serverCpuSeconds = processCpuSeconds(serverPid) - cpu0
  const bench = process.cpuUsage(bench0)
  return {
    svids,
    wallSeconds,
    serverCpuSeconds,
    benchCpuSeconds: (bench.user + bench.system) / 1e6,
    perCore: svids / serverCpuSeconds,
    perWall: svids / wallSeconds,
  }
}

/**
 * The same CSR check and signing in this process, without gRPC, TLS, authorization or SQLite:
 * parseCsr (DER, key import, signature check) + mint, one core. What Node's crypto allows.
 */
async function certsCorePerSecond(csrs: readonly Buffer[]): Promise<number> {
  const minter = await benchMinter()
  const spiffeId = SpiffeId.parse('spiffe://example.org/bench/issuance/core')
  let i = 0
  return opsPerSecond(async () => {
    const { publicKey } = await parseCsr(csrs[i++ % csrs.length] as Buffer)
    minter.mint({ spiffeId, publicKey, ttlSeconds: 3600 })
  }, SECONDS)
}

export const benchmark: Benchmark = () =>
  BenchScope.run(async (scope) => {
    process.stdout.write(
      `issuance: ${cpus().length} cores, Node ${process.version}; ${CALLERS} callers, ${SECONDS}s per batch size\n`,
    )
    const dir = scope.tempDir()
    const server = await startBenchServer(scope, dir)
    const entryIds = await server.createEntries(
      Array.from({ length: 50 }, (_, i) => ({
        spiffeId: `spiffe://example.org/bench/issuance/w${i}`,
        selectors: [`unix:uid:${20_000 + i}`],
      })),
    )
    const cred = await attestWithJoinToken(server.agentApiAddress, server.bundlePem, await server.joinToken())
    const clients = Array.from({ length: CALLERS }, () =>
      agentApiClient(server.agentApiAddress, server.bundlePem, cred),
    )
    scope.defer(() => {
      for (const c of clients) c.close()
    })
    const csrs: Buffer[] = []
    for (let i = 0; i < CSRS; i++) csrs.push(await createCsr(await generateKeyPair('ec-p256')))

    const runs = new Map<number, IssuanceRun>()
    for (const batch of BATCHES) runs.set(batch, await measure(server.pid, clients, entryIds, csrs, batch))
    const load = machineLoad()
    await scope.stop(server.child)
    const speed = opensslP256Speed(SECONDS)
    const openssl = speed.signPerS
    // Each SVID costs at least one P-256 sign (the SVID) and one P-256 verify (the CSR's
    // proof of possession): the most any issuer can do per core, as a share of the sign rate.
    const ceiling = 1 / (1 / speed.signPerS + 1 / speed.verifyPerS)
    const core = await certsCorePerSecond(csrs)

    const b1 = runs.get(1) ?? NOT_RUN
    const b50 = runs.get(50) ?? NOT_RUN
    const ratio = b50.perCore / openssl
    const pct = (n: number) => `${((100 * n) / openssl).toFixed(1)}% of openssl`
    const row = (b: number, r: IssuanceRun): [string, string][] => [
      [`batch ${b}: SVIDs per server core`, `${rate(r.perCore)}  ${pct(r.perCore)}`],
      [
        `batch ${b}: SVIDs wall`,
        `${rate(r.perWall)}  (server ${(r.serverCpuSeconds / r.wallSeconds).toFixed(2)} cores, bench ${(r.benchCpuSeconds / r.wallSeconds).toFixed(2)})`,
      ],
    ]
    const round3 = (n: number) => Number(n.toFixed(3))
    return {
      json: {
        x509_svids_per_s: Math.round(b50.perCore),
        openssl_p256_sign_per_s: Math.round(openssl),
        ratio: round3(ratio),
        goal_ratio: GOAL_RATIO,
        openssl_p256_verify_per_s: Math.round(speed.verifyPerS),
        openssl_sign_plus_verify_per_s: Math.round(ceiling),
        ceiling_ratio: round3(ceiling / openssl),
        share_of_ceiling: round3(b50.perCore / ceiling),
        certs_core_per_s: Math.round(core),
        certs_core_ratio: round3(core / openssl),
        share_of_certs_core: round3(b50.perCore / core),
        goal_met: ratio >= GOAL_RATIO,
        x509_svids_per_s_batch1: Math.round(b1.perCore),
        ratio_batch1: round3(b1.perCore / openssl),
        wall_svids_per_s_batch50: Math.round(b50.perWall),
        wall_svids_per_s_batch1: Math.round(b1.perWall),
        server_cores_busy_batch50: round3(b50.serverCpuSeconds / b50.wallSeconds),
        bench_cores_busy_batch50: round3(b50.benchCpuSeconds / b50.wallSeconds),
        svids_issued: b1.svids + b50.svids,
        callers: CALLERS,
        seconds: SECONDS,
        csr_pool: CSRS,
        ...load,
      },
      rows: [
        ['openssl speed ecdsap256 (sign, 1 core)', rate(openssl)],
        ['openssl speed ecdsap256 (verify, 1 core)', rate(speed.verifyPerS)],
        [
          'openssl: 1 sign + 1 verify (SVID + CSR check)',
          `${rate(ceiling)}  ${pct(ceiling)} (the ceiling); we reach ${((100 * b50.perCore) / ceiling).toFixed(0)}% of it`,
        ],
        [
          'parseCsr + mint in-process (Node crypto, 1 core)',
          `${rate(core)}  ${pct(core)}; the server reaches ${((100 * b50.perCore) / core).toFixed(0)}% of it`,
        ],
        ...row(50, b50),
        ...row(1, b1),
        ['machine load 1m / CPU pressure 60s', `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`],
        [`goal: batch 50 >= ${GOAL_RATIO * 100}% of openssl`, ratio >= GOAL_RATIO ? 'met' : 'MISSED'],
      ],
      note: `real sigil-server process, ${CALLERS} callers in the bench process (own TLS channels, competing for the same ${cpus().length} cores); per core = SVIDs / server CPU seconds from /proc; ${CSRS} pre-generated CSRs`,
    }
  })
