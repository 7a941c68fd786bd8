/**
 * The noisy-neighbour part of `npm run bench -- workload-api` (alone: `npm run bench --
 * workload-api --only noisy`): on a fresh `sigil-server` and `sigil-agent` of its own (so the
 * agent's RSS is the flood's, not what earlier rows left), one victim client's first
 * `FetchX509SVID` message with the agent idle, then while another process (another uid when run
 * as root, with its own entry) floods the agent with FLOOD_CONNECTIONS × FLOOD_STREAMS
 * FetchX509SVID streams it never reads (flood-client.ts; issue 11's report: 4 × 5,000). The
 * victim runs in the bench process, the flood in its own. Recorded: victim p50/p99 idle and
 * under the flood, the agent's RSS idle, at its peak during the flood and 3 s after the flood
 * went away, the agent's CPU, how the flood's streams ended. Goals: victim p99 ≤ 2× idle p99,
 * peak RSS ≤ 150 MB.
 * Env: SIGIL_BENCH_SECONDS (per measurement, default 3), SIGIL_BENCH_FLOOD (connections×streams,
 * default 4x5000), SIGIL_BENCH_CPU_PROF=<dir> (profiles of the daemons, see sigil-node.ts).
 */
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { BenchScope } from './bench-scope.js'
import { closedLoop, latencySummary } from './closed-loop.js'
import { waitForJsonLine } from './json-lines.js'
import { machineLoad, processCpuSeconds, processRssMb } from './proc-stats.js'
import { RecycledClients } from './recycled-clients.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'
import { eventually, WorkloadClient } from './workload-client.js'

const SECONDS = Number(process.env.SIGIL_BENCH_SECONDS ?? 3)
const [FLOOD_CONNECTIONS, FLOOD_STREAMS] = (process.env.SIGIL_BENCH_FLOOD ?? '4x5000')
  .split('x')
  .map(Number) as [number, number]
const FLOOD_P99_FACTOR = 2
const FLOOD_RSS_GOAL_MB = 150
/** The longest the victim is measured while waiting for the flood to settle. */
const FLOOD_MAX_MS = 15_000
/** How long after the flood went away the agent's RSS is read again. */
const AFTER_FLOOD_MS = 3_000
/** The flooder's uid when the bench runs as root (it gets its own entry). */
const FLOOD_UID = 4301

const ms = (n: number) => `${n.toFixed(3)} ms`

/** The flood client's report line. */
interface FloodReport {
  readonly opened: number
  readonly pending: number
  readonly served: number
  readonly codes: Record<string, number>
}

/** Runs the noisy-neighbour measurement on daemons of its own; returns its JSON and table rows. */
export function noisyNeighbour(): Promise<{ json: Record<string, unknown>; rows: [string, string][] }> {
  return BenchScope.run(async (scope) => {
    const dir = scope.tempDir()
    const server = await startBenchServer(scope, dir)
    const agent = await startBenchAgent(scope, dir, server)
    const uid = process.getuid?.() ?? 0
    const floodUid = uid === 0 ? FLOOD_UID : undefined
    await server.createEntries([
      { spiffeId: 'spiffe://example.org/bench/victim', selectors: [`unix:uid:${uid}`] },
      ...(floodUid !== undefined
        ? [{ spiffeId: 'spiffe://example.org/bench/flooder', selectors: [`unix:uid:${floodUid}`] }]
        : []),
    ])
    // A long-lived stream keeps the victim's identity cached, as in the latency rows.
    const holder = new WorkloadClient(agent.socketPath)
    scope.defer(() => holder.close())
    await eventually(() => holder.fetchX509First(), 'the victim X509-SVID')
    scope.defer(
      holder.watchX509(
        () => {},
        (err) => process.stderr.write(`holder stream failed: ${err.message}\n`),
      ),
    )

    const victim = await RecycledClients.open(
      1,
      () => new WorkloadClient(agent.socketPath),
      (w) => w.fetchX509First(),
    )
    scope.defer(() => victim.close())
    const op = async () => {
      const msg = await victim.get(0).fetchX509First()
      if (msg.svids.length === 0) throw new Error('FetchX509SVID sent no SVID')
    }
    // warm-up (JIT, buffers) of the fresh agent, then the idle figures
    await closedLoop(1, 1, op, { before: () => victim.before(0) })
    const idle = await closedLoop(1, SECONDS, op, { before: () => victim.before(0) })
    const rssIdle = processRssMb(agent.pid)

    let peakRss = rssIdle
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, processRssMb(agent.pid))
    }, 50)
    const flood = scope.spawn(
      process.execPath,
      [
        join(import.meta.dirname, 'flood-client.js'),
        agent.socketPath,
        String(FLOOD_CONNECTIONS),
        String(FLOOD_STREAMS),
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        ...(floodUid !== undefined ? { uid: floodUid, gid: floodUid } : {}),
      },
    )
    let last: FloodReport | undefined
    createInterface({ input: flood.stdout! }).on('line', (line) => {
      last = JSON.parse(line) as FloodReport
    })
    const total = FLOOD_CONNECTIONS * FLOOD_STREAMS
    await waitForJsonLine(flood, (l) => l.opened === total, 'the flood')
    // No warm-up: the measurement starts while the agent is refusing the flood's streams, and
    // lasts until the flood has settled (no stream of it ended for a second: the agent holds its
    // per-process share, the rest wait in the flooder's own HTTP/2 queue), at least SECONDS.
    const samples: number[] = []
    const cpu0 = processCpuSeconds(agent.pid)
    const start = performance.now()
    let settledMs: number | undefined
    let seen = { pending: -1, at: start }
    while (performance.now() - start < FLOOD_MAX_MS) {
      const now = performance.now()
      if (last !== undefined && last.pending !== seen.pending) seen = { pending: last.pending, at: now }
      const someEnded = seen.pending >= 0 && seen.pending < total
      if (settledMs === undefined && someEnded && now - seen.at >= 1000) settledMs = seen.at - start
      if (settledMs !== undefined && now - start >= SECONDS * 1000) break
      await victim.before(0)
      const t0 = performance.now()
      await op()
      samples.push(performance.now() - t0)
    }
    const during = latencySummary(samples)
    const agentCores = (processCpuSeconds(agent.pid) - cpu0) / ((performance.now() - start) / 1000)
    clearInterval(sampler)
    peakRss = Math.max(peakRss, processRssMb(agent.pid))
    const ended = last
    const exited = once(flood, 'exit')
    flood.stdin?.end()
    await exited
    await sleep(AFTER_FLOOD_MS)
    const rssAfter = processRssMb(agent.pid)

    const factor = during.p99Ms / idle.p99Ms
    const codes = ended?.codes ?? {}
    const load = machineLoad()
    const json = {
      victim_idle_p50_ms: idle.p50Ms,
      victim_idle_p99_ms: idle.p99Ms,
      victim_flood_p50_ms: during.p50Ms,
      victim_flood_p99_ms: during.p99Ms,
      victim_p99_over_idle: Number(factor.toFixed(2)),
      agent_rss_idle_mb: Number(rssIdle.toFixed(1)),
      agent_rss_peak_flood_mb: Number(peakRss.toFixed(1)),
      agent_rss_after_flood_mb: Number(rssAfter.toFixed(1)),
      flood_streams: total,
      flood_connections: FLOOD_CONNECTIONS,
      flood_still_open: ended?.pending ?? null,
      flood_served: ended?.served ?? null,
      flood_settled_after_ms: settledMs === undefined ? null : Math.round(settledMs),
      victim_idle_ops: idle.ops,
      victim_flood_ops: samples.length,
      agent_cores_busy_flood: Number(agentCores.toFixed(2)),
      flood_codes: codes,
      flood_other_uid: floodUid !== undefined,
      fresh_agent: true,
      goal_met: factor <= FLOOD_P99_FACTOR && peakRss <= FLOOD_RSS_GOAL_MB,
      ...load,
      measured_at: new Date().toISOString(),
    }
    const label = `noisy neighbour (${FLOOD_CONNECTIONS}×${FLOOD_STREAMS} never-read streams)`
    const settled =
      settledMs === undefined
        ? `not settled in ${FLOOD_MAX_MS / 1000}s`
        : `settled after ${(settledMs / 1000).toFixed(1)}s`
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
          `${label}: fresh agent RSS idle / peak / 3s after (goal <= ${FLOOD_RSS_GOAL_MB} MB)`,
          `${rssIdle.toFixed(0)} / ${peakRss.toFixed(0)} / ${rssAfter.toFixed(0)} MB ${peakRss <= FLOOD_RSS_GOAL_MB ? 'met' : 'MISSED'}`,
        ],
        [
          `${label}: flood streams open (served by the agent) / ended`,
          `${ended?.pending ?? '?'} (${ended?.served ?? '?'}) / ${JSON.stringify(codes)} (${settled}; ${samples.length} victim calls; agent ${agentCores.toFixed(2)} cores)`,
        ],
        [
          `${label}: machine load 1m / CPU pressure 60s`,
          `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`,
        ],
      ],
    }
  })
}
