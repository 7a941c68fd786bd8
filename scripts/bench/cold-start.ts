/**
 * `npm run bench -- cold-start`: a new process to its first X509-SVID, one process after
 * another, against real `sigil-server` and `sigil-agent` processes (an entry for this uid).
 * Each process (cold-start-client.ts) times itself from creating its channel (connect) to the
 * first FetchX509SVID message: connection, workload attestation of the new PID, key
 * generation, CSR, server signing and the response; process spawn and module loading are
 * excluded. A few warm-up processes run first and are not counted.
 *
 * Env: SIGIL_BENCH_COLD_STARTS (counted processes, default 200), SIGIL_BENCH_COLD_WARMUP
 * (default 5).
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { latencySummary } from './closed-loop.js'
import { waitForJsonLine } from './json-lines.js'
import { machineLoad, processCpuSeconds } from './proc-stats.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'
import { eventually, WorkloadClient } from './workload-client.js'

const PROCESSES = Number(process.env.SIGIL_BENCH_COLD_STARTS ?? 200)
const WARMUP = Number(process.env.SIGIL_BENCH_COLD_WARMUP ?? 5)
const GOAL_P50_MS = 5
const GOAL_P99_MS = 20

interface ColdStart {
  readonly ms: number
  readonly connectMs: number
}

export const benchmark: Benchmark = () =>
  BenchScope.run(async (scope) => {
    process.stdout.write(
      `cold-start: ${cpus().length} cores, Node ${process.version}; ${PROCESSES} processes (+${WARMUP} warm-up)\n`,
    )
    const dir = scope.tempDir()
    const server = await startBenchServer(scope, dir)
    const agent = await startBenchAgent(scope, dir, server)
    const uid = process.getuid?.() ?? 0
    await server.createEntries([
      { spiffeId: 'spiffe://example.org/bench/cold-start', selectors: [`unix:uid:${uid}`] },
    ])
    const probe = new WorkloadClient(agent.socketPath)
    await eventually(() => probe.fetchX509First(), 'the entry reaching the agent')
    probe.close()

    const script = join(import.meta.dirname, 'cold-start-client.js')
    const startOne = async (): Promise<ColdStart> => {
      const child = scope.spawn(process.execPath, [script, agent.socketPath])
      const exited = new Promise((r) => child.once('exit', r))
      const line = await waitForJsonLine(child, () => true, 'cold-start client', 30_000)
      await exited
      if (typeof line.ms !== 'number' || line.svids !== 1) {
        throw new Error(`cold-start client failed: ${JSON.stringify(line)}`)
      }
      return { ms: line.ms, connectMs: Number(line.connect_ms) }
    }
    for (let i = 0; i < WARMUP; i++) await startOne()
    const agentCpu0 = processCpuSeconds(agent.pid)
    const serverCpu0 = processCpuSeconds(server.pid)
    const runs: ColdStart[] = []
    for (let i = 0; i < PROCESSES; i++) runs.push(await startOne())
    const agentCpuMs = ((processCpuSeconds(agent.pid) - agentCpu0) * 1000) / PROCESSES
    const serverCpuMs = ((processCpuSeconds(server.pid) - serverCpu0) * 1000) / PROCESSES

    const load = machineLoad()
    const total = latencySummary(runs.map((r) => r.ms))
    const connect = latencySummary(runs.map((r) => r.connectMs))
    const max = Math.max(...runs.map((r) => r.ms))
    const met = total.p50Ms <= GOAL_P50_MS && total.p99Ms <= GOAL_P99_MS
    const ms = (n: number) => `${n.toFixed(2)} ms`
    return {
      json: {
        cold_start_p50_ms: total.p50Ms,
        cold_start_p99_ms: total.p99Ms,
        cold_start_max_ms: Number(max.toFixed(3)),
        connect_p50_ms: connect.p50Ms,
        connect_p99_ms: connect.p99Ms,
        agent_cpu_ms_per_start: Number(agentCpuMs.toFixed(2)),
        server_cpu_ms_per_start: Number(serverCpuMs.toFixed(2)),
        goal_met: met,
        processes: PROCESSES,
        ...load,
      },
      rows: [
        ['cold start p50 / p99', `${ms(total.p50Ms)} / ${ms(total.p99Ms)}`],
        ['cold start max', ms(max)],
        ['  of which connect p50 / p99', `${ms(connect.p50Ms)} / ${ms(connect.p99Ms)}`],
        ['agent / server CPU per start', `${ms(agentCpuMs)} / ${ms(serverCpuMs)}`],
        ['machine load 1m / CPU pressure 60s', `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`],
        [`goal: p50 <= ${GOAL_P50_MS} ms, p99 <= ${GOAL_P99_MS} ms`, met ? 'met' : 'MISSED'],
      ],
      note: `${PROCESSES} sequential new processes (after ${WARMUP} warm-up), each timed from its own connect() to its first SVID; spawn and module loading excluded`,
    }
  })
