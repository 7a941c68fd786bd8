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
 * Noisy neighbour: one client's first-message latency with the agent idle, then while another
 * process (another uid when run as root) floods the agent with FLOOD_CONNECTIONS × FLOOD_STREAMS
 * FetchX509SVID streams it never reads (flood-client.ts, issue 11's report: 4 × 5,000), and the
 * agent's peak RSS during the flood. Goals: victim p99 ≤ 2× idle p99, peak RSS ≤ 150 MB.
 * Env: SIGIL_BENCH_SECONDS (per measurement, default 3), SIGIL_BENCH_CONCURRENCY (default 1,16,64),
 * SIGIL_BENCH_FLOOD (connections×streams, default 4x5000).
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { closedLoop, type LoopResult, latencySummary } from './closed-loop.js'
import { GrpcEchoClient, UdsEchoClient } from './echo-service.js'
import { waitForJsonLine } from './json-lines.js'
import { machineLoad, processCpuSeconds, processRssMb } from './proc-stats.js'
import { RecycledClients, STREAMS_PER_CONNECTION } from './recycled-clients.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'
import { eventually, WorkloadClient, x509ResponseBytes } from './workload-client.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)
const CONCURRENCY = (process.env.SIGIL_BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number)
const GOAL_FACTOR = 1.5
const AUDIENCE = ['bench']
const [FLOOD_CONNECTIONS, FLOOD_STREAMS] = (process.env.SIGIL_BENCH_FLOOD ?? '4x5000')
  .split('x')
  .map(Number) as [number, number]
const FLOOD_P99_FACTOR = 2
/** The longest the victim is measured while waiting for the flood to settle. */
const FLOOD_MAX_MS = 15_000
const FLOOD_RSS_GOAL_MB = 150
/** The flooder's uid when the bench runs as root (it gets its own entry). */
const FLOOD_UID = 4301

const ms = (n: number) => `${n.toFixed(3)} ms`

export const benchmark: Benchmark = () =>
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
      ...(uid === 0
        ? [{ spiffeId: 'spiffe://example.org/bench/flooder', selectors: [`unix:uid:${FLOOD_UID}`] }]
        : []),
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
    const noisy = await noisyNeighbour(scope, agent.socketPath, agent.pid, uid === 0 ? FLOOD_UID : undefined)
    json.noisy_neighbour = noisy.json
    rows.push(...noisy.rows)

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

/**
 * Victim latency idle and under a never-reading flood from another process, and the agent's
 * peak RSS during the flood.
 */
async function noisyNeighbour(
  scope: BenchScope,
  socketPath: string,
  agentPid: number,
  floodUid: number | undefined,
): Promise<{ json: Record<string, unknown>; rows: [string, string][] }> {
  const victim = await RecycledClients.open(
    1,
    () => new WorkloadClient(socketPath),
    (w) => w.fetchX509First(),
  )
  try {
    const op = async (i: number) => {
      const msg = await victim.get(i).fetchX509First()
      if (msg.svids.length === 0) throw new Error('FetchX509SVID sent no SVID')
    }
    const idle = await closedLoop(1, SECONDS, op, { before: (i) => victim.before(i) })
    const rssIdle = processRssMb(agentPid)
    let peakRss = rssIdle
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, processRssMb(agentPid))
    }, 50)
    const flood = scope.spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'flood-client.js'),
        socketPath,
        String(FLOOD_CONNECTIONS),
        String(FLOOD_STREAMS),
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        ...(floodUid !== undefined ? { uid: floodUid, gid: floodUid } : {}),
      },
    )
    let last: { opened: number; pending: number; codes: Record<string, number> } | undefined
    createInterface({ input: flood.stdout! }).on('line', (line) => {
      last = JSON.parse(line)
    })
    await waitForJsonLine(flood, (l) => l.opened === FLOOD_CONNECTIONS * FLOOD_STREAMS, 'the flood')
    // No warm-up: the measurement starts while the agent is refusing the flood's streams, and
    // lasts until the flood has settled (no stream of it ended for a second: the agent holds its
    // per-process share, the rest wait in the flooder's own HTTP/2 queue), at least SECONDS.
    const samples: number[] = []
    const cpu0 = processCpuSeconds(agentPid)
    const start = performance.now()
    let settledMs: number | undefined
    let seen = { pending: -1, at: start }
    while (performance.now() - start < FLOOD_MAX_MS) {
      const now = performance.now()
      if (last !== undefined && last.pending !== seen.pending) seen = { pending: last.pending, at: now }
      const ended = seen.pending >= 0 && seen.pending < FLOOD_CONNECTIONS * FLOOD_STREAMS
      if (settledMs === undefined && ended && now - seen.at >= 1000) settledMs = seen.at - start
      if (settledMs !== undefined && performance.now() - start >= SECONDS * 1000) break
      await victim.before(0)
      const t0 = performance.now()
      await op(0)
      samples.push(performance.now() - t0)
    }
    const during = latencySummary(samples)
    const agentCores = (processCpuSeconds(agentPid) - cpu0) / ((performance.now() - start) / 1000)
    clearInterval(sampler)
    peakRss = Math.max(peakRss, processRssMb(agentPid))
    flood.stdin?.end()
    const factor = during.p99Ms / idle.p99Ms
    const codes = last?.codes ?? {}
    const json = {
      victim_idle_p50_ms: idle.p50Ms,
      victim_idle_p99_ms: idle.p99Ms,
      victim_flood_p50_ms: during.p50Ms,
      victim_flood_p99_ms: during.p99Ms,
      victim_p99_over_idle: Number(factor.toFixed(2)),
      agent_rss_idle_mb: Number(rssIdle.toFixed(1)),
      agent_rss_peak_flood_mb: Number(peakRss.toFixed(1)),
      flood_streams: FLOOD_CONNECTIONS * FLOOD_STREAMS,
      flood_connections: FLOOD_CONNECTIONS,
      flood_still_open: last?.pending ?? null,
      flood_settled_after_ms: settledMs === undefined ? null : Math.round(settledMs),
      victim_flood_ops: samples.length,
      agent_cores_busy_flood: Number(agentCores.toFixed(2)),
      flood_codes: codes,
      flood_other_uid: floodUid !== undefined,
      goal_met: factor <= FLOOD_P99_FACTOR && peakRss <= FLOOD_RSS_GOAL_MB,
    }
    const label = `noisy neighbour (${FLOOD_CONNECTIONS}×${FLOOD_STREAMS} never-read streams)`
    return {
      json,
      rows: [
        [`${label}: victim p50 / p99 idle`, `${ms(idle.p50Ms)} / ${ms(idle.p99Ms)}`],
        [`${label}: victim p50 / p99 flood`, `${ms(during.p50Ms)} / ${ms(during.p99Ms)}`],
        [
          `${label}: goal victim p99 <= ${FLOOD_P99_FACTOR}x idle`,
          `${factor.toFixed(2)}x ${factor <= FLOOD_P99_FACTOR ? 'met' : 'MISSED'}`,
        ],
        [
          `${label}: agent RSS idle / peak (goal <= ${FLOOD_RSS_GOAL_MB} MB)`,
          `${rssIdle.toFixed(0)} / ${peakRss.toFixed(0)} MB ${peakRss <= FLOOD_RSS_GOAL_MB ? 'met' : 'MISSED'}`,
        ],
        [
          `${label}: flood streams still open / refused`,
          `${last?.pending ?? '?'} / ${JSON.stringify(codes)} (${
            settledMs === undefined
              ? `not settled in ${FLOOD_MAX_MS / 1000}s`
              : `settled after ${(settledMs / 1000).toFixed(1)}s`
          }; ${samples.length} victim calls; agent ${agentCores.toFixed(2)} cores)`,
        ],
      ],
    }
  } finally {
    victim.close()
  }
}
