/**
 * `npm run bench -- cold-start`: a new process to its first X509-SVID, one process after
 * another, against real `sigil-server` and `sigil-agent` processes (an entry for this uid).
 * Each process times itself from its connect() to the first FetchX509SVID message: connection,
 * workload attestation of the new PID, key generation, CSR, server signing and the response;
 * process spawn and runtime start-up are excluded. Two clients run, one after the other:
 * - Go (go/cold_start_client.go, grpc-go as go-spiffe uses it), built at bench time in GOPATH
 *   mode against Debian's Go packages (scripts/lib/go-build.ts). Most SPIFFE workloads are
 *   native (Go, Envoy), so its figures are the goal's (`cold_start_p50_ms`/`_p99_ms`).
 * - Node (cold-start-client.ts, grpc-js), whose first call also pays the client's own cold JIT
 *   (`node_client_cold_start_*`). Without the Go toolchain, its figures are the goal's and the
 *   output says so (`client: "node"`, `go_client_unavailable`).
 * A few warm-up processes of each client run first and are not counted. The agent's and the
 * server's CPU per start are measured over the goal client's run (and the Node client's).
 * The agent runs with its default configuration, which keeps a spare SVID for recently used
 * entries (agent/cache/spare-svids.ts): after warm-up every new process is served one, signed
 * before it started with a key nobody else got. The goal client then runs once more against a
 * second agent started with `--spare-svids 0`, where every start waits for the server
 * (`no_spares_*`): the first process of an entry, or any process with spares off.
 *
 * Env: SIGIL_BENCH_COLD_STARTS (counted processes per client, default 200),
 * SIGIL_BENCH_COLD_WARMUP (default 50: the agent is a long-running daemon, so its JIT is warm in
 * normal operation; the first few hundred starts of a fresh agent are slower).
 */
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { buildGoWorkloadClient, missingGoPackages } from '../lib/go-build.js'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { latencySummary } from './closed-loop.js'
import { waitForJsonLine } from './json-lines.js'
import { machineLoad, processCpuSeconds } from './proc-stats.js'
import { type BenchAgent, type BenchServer, startBenchAgent, startBenchServer } from './sigil-node.js'
import { eventually, WorkloadClient } from './workload-client.js'

const PROCESSES = Number(process.env.SIGIL_BENCH_COLD_STARTS ?? 200)
const WARMUP = Number(process.env.SIGIL_BENCH_COLD_WARMUP ?? 50)
const GOAL_P50_MS = 5
const GOAL_P99_MS = 20
const ROOT = resolve(import.meta.dirname, '../../..')
const GO_SOURCE = join(ROOT, 'scripts/bench/go/cold_start_client.go')

interface ColdStart {
  readonly ms: number
  readonly connectMs: number
}

/** One client's run: latencies and the daemons' CPU per start. */
interface ClientRun {
  readonly total: { p50Ms: number; p99Ms: number }
  readonly connect: { p50Ms: number; p99Ms: number }
  readonly maxMs: number
  readonly agentCpuMs: number
  readonly serverCpuMs: number
}

/** Runs `command args... SOCKET` WARMUP + PROCESSES times, one after another. */
async function runClient(
  scope: BenchScope,
  server: BenchServer,
  agent: BenchAgent,
  command: string,
  args: readonly string[],
): Promise<ClientRun> {
  const startOne = async (): Promise<ColdStart> => {
    const child = scope.spawn(command, [...args, agent.socketPath])
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
  return {
    total: latencySummary(runs.map((r) => r.ms)),
    connect: latencySummary(runs.map((r) => r.connectMs)),
    maxMs: Math.max(...runs.map((r) => r.ms)),
    agentCpuMs: ((processCpuSeconds(agent.pid) - agentCpu0) * 1000) / PROCESSES,
    serverCpuMs: ((processCpuSeconds(server.pid) - serverCpu0) * 1000) / PROCESSES,
  }
}

/** Builds the Go client; resolves its path, or why there is none. */
async function goClient(scope: BenchScope): Promise<{ bin: string } | { unavailable: string }> {
  const missing = missingGoPackages()
  if (missing.length > 0) return { unavailable: `missing Debian packages: ${missing.join(' ')}` }
  try {
    const bin = await buildGoWorkloadClient({
      root: ROOT,
      source: GO_SOURCE,
      dir: scope.tempDir('sigil-bench-go-'),
      goPackage: 'sigilbench',
    })
    return { bin }
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message.slice(0, 500) : String(err) }
  }
}

const ms = (n: number) => `${n.toFixed(2)} ms`
const fixed = (n: number, d = 2) => Number(n.toFixed(d))

export const benchmark: Benchmark = () =>
  BenchScope.run(async (scope) => {
    process.stdout.write(
      `cold-start: ${cpus().length} cores, Node ${process.version}; ${PROCESSES} processes per client (+${WARMUP} warm-up)\n`,
    )
    const go = await goClient(scope)
    if ('unavailable' in go) {
      process.stdout.write(
        `cold-start: no Go client (${go.unavailable}); the Node client's figures are the goal's\n`,
      )
    }
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

    const goRun = 'bin' in go ? await runClient(scope, server, agent, go.bin, []) : undefined
    const nodeScript = join(import.meta.dirname, 'cold-start-client.js')
    const nodeRun = await runClient(scope, server, agent, process.execPath, [nodeScript])
    const goal = goRun ?? nodeRun
    const client = goRun ? 'go' : 'node'
    await agent.stop()
    const bare = await startBenchAgent(scope, scope.tempDir(), server, { extraArgs: ['--spare-svids', '0'] })
    const bareProbe = new WorkloadClient(bare.socketPath)
    await eventually(() => bareProbe.fetchX509First(), 'the entry reaching the second agent')
    bareProbe.close()
    const noSpares =
      'bin' in go
        ? await runClient(scope, server, bare, go.bin, [])
        : await runClient(scope, server, bare, process.execPath, [nodeScript])

    const load = machineLoad()
    const met = goal.total.p50Ms <= GOAL_P50_MS && goal.total.p99Ms <= GOAL_P99_MS
    const rows: [string, string][] = []
    const clientRows = (name: string, r: ClientRun) => {
      rows.push([`${name}: cold start p50 / p99`, `${ms(r.total.p50Ms)} / ${ms(r.total.p99Ms)}`])
      rows.push([`${name}: cold start max`, ms(r.maxMs)])
      rows.push([`${name}:   of which connect p50 / p99`, `${ms(r.connect.p50Ms)} / ${ms(r.connect.p99Ms)}`])
      rows.push([`${name}: agent / server CPU per start`, `${ms(r.agentCpuMs)} / ${ms(r.serverCpuMs)}`])
    }
    if (goRun) clientRows('Go client (goal)', goRun)
    else rows.push(['Go client', 'unavailable (see above)'])
    clientRows(goRun ? 'Node client' : 'Node client (goal)', nodeRun)
    clientRows(`${client === 'go' ? 'Go' : 'Node'} client, --spare-svids 0`, noSpares)
    rows.push([
      'machine load 1m / CPU pressure 60s',
      `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`,
    ])
    rows.push([
      `goal (${client} client): p50 <= ${GOAL_P50_MS} ms, p99 <= ${GOAL_P99_MS} ms`,
      met ? 'met' : 'MISSED',
    ])
    return {
      json: {
        client,
        ...('unavailable' in go ? { go_client_unavailable: go.unavailable } : {}),
        cold_start_p50_ms: goal.total.p50Ms,
        cold_start_p99_ms: goal.total.p99Ms,
        cold_start_max_ms: fixed(goal.maxMs, 3),
        connect_p50_ms: goal.connect.p50Ms,
        connect_p99_ms: goal.connect.p99Ms,
        agent_cpu_ms_per_start: fixed(goal.agentCpuMs),
        server_cpu_ms_per_start: fixed(goal.serverCpuMs),
        node_client_cold_start_p50_ms: nodeRun.total.p50Ms,
        node_client_cold_start_p99_ms: nodeRun.total.p99Ms,
        node_client_connect_p50_ms: nodeRun.connect.p50Ms,
        node_client_agent_cpu_ms_per_start: fixed(nodeRun.agentCpuMs),
        node_client_server_cpu_ms_per_start: fixed(nodeRun.serverCpuMs),
        no_spares_cold_start_p50_ms: noSpares.total.p50Ms,
        no_spares_cold_start_p99_ms: noSpares.total.p99Ms,
        no_spares_agent_cpu_ms_per_start: fixed(noSpares.agentCpuMs),
        no_spares_server_cpu_ms_per_start: fixed(noSpares.serverCpuMs),
        goal_met: met,
        processes: PROCESSES,
        ...load,
      },
      rows,
      note: `${PROCESSES} sequential new processes per client (after ${WARMUP} warm-up), each timed from its own connect() to its first SVID; spawn and runtime start-up excluded; the goal's figures are the ${client} client's against the default agent (spare SVIDs on); "--spare-svids 0" rows: a second agent where every start waits for the server`,
    }
  })
