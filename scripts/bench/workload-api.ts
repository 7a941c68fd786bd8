/**
 * `npm run bench -- workload-api`: Workload API round trips on the real agent's socket (real
 * `sigil-server` and `sigil-agent` processes, an entry for this process's uid) with 1, 16 and
 * 64 concurrent clients, each on its own connection: the first message of a NEW FetchX509SVID
 * stream while the caller's identity is cached (a long-lived stream holds it), and FetchJWTSVID
 * (cached token). Beside them, in the same run and at the same concurrency: a bare Unix-socket
 * echo of the same payload size and a bare @grpc/grpc-js server-streaming echo over a Unix
 * socket (time to the first message of a new stream), both served by a separate process.
 *
 * The clients run in the bench process, which competes with the agent for the cores.
 *
 * Then the noisy-neighbour rows (noisy-neighbour.ts), on a fresh server and agent of their own
 * once the daemons above have stopped; `--only noisy` runs just those.
 * Env: SIGIL_BENCH_SECONDS (per measurement, default 3), SIGIL_BENCH_CONCURRENCY (default 1,16,64),
 * SIGIL_BENCH_FLOOD (connections×streams, default 4x5000).
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import { BenchScope } from './bench-scope.js'
import type { Benchmark, BenchResult } from './benchmark.js'
import { closedLoop, type LoopResult } from './closed-loop.js'
import { GrpcEchoClient, UdsEchoClient } from './echo-service.js'
import { waitForJsonLine } from './json-lines.js'
import { noisyNeighbour } from './noisy-neighbour.js'
import { machineLoad, processCpuSeconds } from './proc-stats.js'
import { RecycledClients, STREAMS_PER_CONNECTION } from './recycled-clients.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'
import { eventually, WorkloadClient, x509ResponseBytes } from './workload-client.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)
const CONCURRENCY = (process.env.SIGIL_BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number)
const GOAL_FACTOR = 1.5
const AUDIENCE = ['bench']

const ms = (n: number) => `${n.toFixed(3)} ms`

/** `--only noisy`: just the noisy-neighbour rows. */
export const parts = ['noisy'] as const

export const benchmark: Benchmark = async (opts = {}) => {
  const latency = opts.only === 'noisy' ? undefined : await latencyRows()
  const noisy = await noisyNeighbour()
  if (latency === undefined)
    return { json: { noisy_neighbour: noisy.json }, rows: noisy.rows, note: NOISY_NOTE }
  return {
    json: { ...latency.json, noisy_neighbour: noisy.json },
    rows: [...latency.rows, ...noisy.rows],
    note: `${latency.note}. ${NOISY_NOTE}`,
  }
}

const NOISY_NOTE =
  'noisy neighbour: a fresh server and agent; the victim in the bench process, the flood in its own process (another uid when root)'

/** The 1/16/64-client rows, on daemons that stop before the noisy-neighbour rows start. */
const latencyRows = (): Promise<Required<BenchResult>> =>
  BenchScope.run(async (scope) => {
    process.stdout.write(
      `workload-api: ${cpus().length} cores, Node ${process.version}; ${SECONDS}s per measurement\n`,
    )
    const dir = scope.tempDir()
    const server = await startBenchServer(scope, dir)
    const agent = await startBenchAgent(scope, dir, server)
    const uid = process.getuid?.() ?? 0
    await server.createEntries([
      { spiffeId: 'spiffe://example.org/bench/workload', selectors: [`unix:uid:${uid}`] },
    ])
    const holder = new WorkloadClient(agent.socketPath)
    scope.defer(() => holder.close())
    const first = await eventually(() => holder.fetchX509First(), 'the first X509-SVID')
    const unwatch = holder.watchX509(
      () => {},
      (err) => process.stderr.write(`holder stream failed: ${err.message}\n`),
    )
    scope.defer(unwatch)
    await eventually(() => holder.fetchJwt(AUDIENCE), 'the first JWT-SVID')
    const payloadBytes = x509ResponseBytes(first)

    const udsPath = join(dir, 'echo.sock')
    const grpcPath = join(dir, 'grpc-echo.sock')
    const echo = scope.spawn(process.execPath, [
      join(import.meta.dirname, 'echo-server.js'),
      udsPath,
      grpcPath,
    ])
    await waitForJsonLine(echo, (l) => l.ready === true, 'echo server')

    const json: Record<string, unknown> = {}
    const rows: [string, string][] = []
    for (const c of CONCURRENCY) {
      const uds = await Promise.all(
        Array.from({ length: c }, () => UdsEchoClient.open(udsPath, payloadBytes)),
      )
      const grpcEcho = await RecycledClients.open(
        c,
        () => new GrpcEchoClient(grpcPath, payloadBytes),
        (g) => g.firstMessage(),
      )
      const workload = await RecycledClients.open(
        c,
        () => new WorkloadClient(agent.socketPath),
        (w) => w.fetchX509First(),
      )
      try {
        const udsR = await closedLoop(c, SECONDS, (i) => (uds[i] as UdsEchoClient).roundTrip())
        const grpcR = await closedLoop(c, SECONDS, (i) => grpcEcho.get(i).firstMessage(), {
          before: (i) => grpcEcho.before(i),
        })
        const agentCpu0 = processCpuSeconds(agent.pid)
        const t0 = performance.now()
        const x509R = await closedLoop(
          c,
          SECONDS,
          async (i) => {
            const msg = await workload.get(i).fetchX509First()
            if (msg.svids.length === 0) throw new Error('FetchX509SVID sent no SVID')
          },
          { before: (i) => workload.before(i) },
        )
        const agentCores = (processCpuSeconds(agent.pid) - agentCpu0) / ((performance.now() - t0) / 1000)
        const jwtR = await closedLoop(c, SECONDS, (i) => workload.get(i).fetchJwt(AUDIENCE))
        const factor = x509R.p50Ms / grpcR.p50Ms
        json[String(c)] = entry(x509R, jwtR, grpcR, udsR, factor, agentCores)
        rows.push(
          [`${c} clients: FetchX509SVID first msg p50 / p99`, `${ms(x509R.p50Ms)} / ${ms(x509R.p99Ms)}`],
          [
            `${c} clients: FetchX509SVID streams/s`,
            `${Math.round(x509R.perSecond)}/s  (agent ${agentCores.toFixed(2)} cores)`,
          ],
          [
            `${c} clients: FetchJWTSVID p50 / p99`,
            `${ms(jwtR.p50Ms)} / ${ms(jwtR.p99Ms)}  ${Math.round(jwtR.perSecond)}/s`,
          ],
          [`${c} clients: grpc-js stream echo p50 / p99`, `${ms(grpcR.p50Ms)} / ${ms(grpcR.p99Ms)}`],
          [`${c} clients: Unix-socket echo p50 / p99`, `${ms(udsR.p50Ms)} / ${ms(udsR.p99Ms)}`],
          [
            `${c} clients: goal x509 p50 <= ${GOAL_FACTOR}x grpc echo`,
            `${factor.toFixed(2)}x ${factor <= GOAL_FACTOR ? 'met' : 'MISSED'}`,
          ],
        )
      } finally {
        for (const u of uds) u.close()
        grpcEcho.close()
        workload.close()
      }
    }
    const load = machineLoad()
    rows.push([
      'machine load 1m / CPU pressure 60s',
      `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`,
    ])
    Object.assign(json, load)
    json.payload_bytes = payloadBytes
    json.seconds = SECONDS
    return {
      json,
      rows,
      note: `real agent + server processes; ${payloadBytes}-byte X509SVIDResponse; clients (one connection each) run in the bench process and compete with the agent for the ${cpus().length} cores; echo baselines served by a separate process; each connection is replaced (untimed) every ${STREAMS_PER_CONNECTION} cancelled streams (Node's HTTP/2 rapid-reset guard)`,
    }
  })

function entry(
  x509: LoopResult,
  jwt: LoopResult,
  grpc: LoopResult,
  uds: LoopResult,
  factor: number,
  agentCores: number,
): Record<string, number | boolean> {
  return {
    fetch_x509_p50_ms: x509.p50Ms,
    fetch_x509_p99_ms: x509.p99Ms,
    fetch_x509_per_s: Math.round(x509.perSecond),
    fetch_jwt_p50_ms: jwt.p50Ms,
    grpc_echo_p50_ms: grpc.p50Ms,
    uds_echo_p50_ms: uds.p50Ms,
    fetch_jwt_p99_ms: jwt.p99Ms,
    fetch_jwt_per_s: Math.round(jwt.perSecond),
    grpc_echo_p99_ms: grpc.p99Ms,
    grpc_echo_per_s: Math.round(grpc.perSecond),
    uds_echo_p99_ms: uds.p99Ms,
    uds_echo_per_s: Math.round(uds.perSecond),
    x509_over_grpc_echo: Number(factor.toFixed(2)),
    goal_met: factor <= GOAL_FACTOR,
    agent_cores_busy_x509: Number(agentCores.toFixed(2)),
  }
}
