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
 * The baseline, measured first in the same run with the goal's client: a bare @grpc/grpc-js
 * server (bare-workload-server.ts) answering FetchX509SVID with the agent's own first response
 * (no peer credentials, attestation, key or signing), i.e. what a new connection and its first
 * message cost on this gRPC stack (`bare_grpc_*`).
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
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { buildGoWorkloadClient, missingGoPackages } from '../lib/go-build.js'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { latencySummary } from './closed-loop.js'
import { waitForJsonLine } from './json-lines.js'
import { machineLoad, processCpuSeconds } from './proc-stats.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'
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

/** What a client connects to: the Workload API socket and the processes whose CPU is counted. */
interface Target {
  readonly socketPath: string
  /** The process serving the socket (the agent, or the bare baseline server). */
  readonly pid: number
  /** The agent's server, if any. */
  readonly serverPid?: number
}

/** Runs `command args... SOCKET` WARMUP + PROCESSES times, one after another. */
async function runClient(
  scope: BenchScope,
  target: Target,
  command: string,
  args: readonly string[],
): Promise<ClientRun> {
  const cpu = (pid: number | undefined) => (pid === undefined ? 0 : processCpuSeconds(pid))
  const startOne = async (): Promise<ColdStart> => {
    const child = scope.spawn(command, [...args, target.socketPath])
    const exited = new Promise((r) => child.once('exit', r))
    const line = await waitForJsonLine(child, () => true, 'cold-start client', 30_000)
    await exited
    if (typeof line.ms !== 'number' || line.svids !== 1) {
      throw new Error(`cold-start client failed: ${JSON.stringify(line)}`)
    }
    return { ms: line.ms, connectMs: Number(line.connect_ms) }
  }
  for (let i = 0; i < WARMUP; i++) await startOne()
  const agentCpu0 = cpu(target.pid)
  const serverCpu0 = cpu(target.serverPid)
  const runs: ColdStart[] = []
  for (let i = 0; i < PROCESSES; i++) runs.push(await startOne())
  return {
    total: latencySummary(runs.map((r) => r.ms)),
    connect: latencySummary(runs.map((r) => r.connectMs)),
    maxMs: Math.max(...runs.map((r) => r.ms)),
    agentCpuMs: ((cpu(target.pid) - agentCpu0) * 1000) / PROCESSES,
    serverCpuMs: ((cpu(target.serverPid) - serverCpu0) * 1000) / PROCESSES,
  }
}

/** Starts the baseline: a bare grpc-js server answering FetchX509SVID with `response` (bare-workload-server.ts). */
async function startBareServer(scope: BenchScope, response: unknown): Promise<Target> {
  const dir = scope.tempDir('sigil-bench-bare-')
  const responsePath = join(dir, 'response.json')
  writeFileSync(responsePath, JSON.stringify(response))
  const socketPath = join(dir, 'bare.sock')
  const child = scope.spawn(process.execPath, [
    join(import.meta.dirname, 'bare-workload-server.js'),
    socketPath,
    responsePath,
  ])
  await waitForJsonLine(child, (l) => l.ready === true, 'bare workload server', 30_000)
  return { socketPath, pid: child.pid as number }
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
    const response = await eventually(() => probe.fetchX509First(), 'the entry reaching the agent')
    probe.close()
    const nodeScript = join(import.meta.dirname, 'cold-start-client.js')
    const goalClient = (target: Target) =>
      'bin' in go
        ? runClient(scope, target, go.bin, [])
        : runClient(scope, target, process.execPath, [nodeScript])

    const baseline = await goalClient(await startBareServer(scope, response))
    const withAgent = { socketPath: agent.socketPath, pid: agent.pid, serverPid: server.pid }
    const goRun = 'bin' in go ? await goalClient(withAgent) : undefined
    const nodeRun = await runClient(scope, withAgent, process.execPath, [nodeScript])
    const goal = goRun ?? nodeRun
    const client = goRun ? 'go' : 'node'
    await agent.stop()
    const bare = await startBenchAgent(scope, scope.tempDir(), server, { extraArgs: ['--spare-svids', '0'] })
    const bareProbe = new WorkloadClient(bare.socketPath)
    await eventually(() => bareProbe.fetchX509First(), 'the entry reaching the second agent')
    bareProbe.close()
    const noSpares = await goalClient({ socketPath: bare.socketPath, pid: bare.pid, serverPid: server.pid })

    const load = machineLoad()
    const met = goal.total.p50Ms <= GOAL_P50_MS && goal.total.p99Ms <= GOAL_P99_MS
    const rows: [string, string][] = []
    const clientRows = (name: string, r: ClientRun) => {
      rows.push([`${name}: cold start p50 / p99`, `${ms(r.total.p50Ms)} / ${ms(r.total.p99Ms)}`])
      rows.push([`${name}: cold start max`, ms(r.maxMs)])
      rows.push([`${name}:   of which connect p50 / p99`, `${ms(r.connect.p50Ms)} / ${ms(r.connect.p99Ms)}`])
      rows.push([`${name}: agent / server CPU per start`, `${ms(r.agentCpuMs)} / ${ms(r.serverCpuMs)}`])
    }
    clientRows(`${client === 'go' ? 'Go' : 'Node'} client, bare grpc-js server (baseline)`, baseline)
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
        bare_grpc_cold_start_p50_ms: baseline.total.p50Ms,
        bare_grpc_cold_start_p99_ms: baseline.total.p99Ms,
        no_spares_cold_start_p50_ms: noSpares.total.p50Ms,
        no_spares_cold_start_p99_ms: noSpares.total.p99Ms,
        no_spares_agent_cpu_ms_per_start: fixed(noSpares.agentCpuMs),
        no_spares_server_cpu_ms_per_start: fixed(noSpares.serverCpuMs),
        goal_met: met,
        processes: PROCESSES,
        ...load,
      },
      rows,
      note: `${PROCESSES} sequential new processes per client (after ${WARMUP} warm-up), each timed from its own connect() to its first SVID; spawn and runtime start-up excluded; the goal's figures are the ${client} client's against the default agent (spare SVIDs on); baseline: the same client against a bare grpc-js server sending the agent's response; "--spare-svids 0" rows: a second agent where every start waits for the server`,
    }
  })
