/**
 * `npm run bench -- scale`: many live X509-SVIDs on one real agent. CLIENTS workload processes
 * (scale-client.ts), each under its own uid and matched by ENTRIES entries with a TTL-second
 * X509-SVID lifetime, each holding one FetchX509SVID stream. Measures the time from "go" to
 * every client holding all its SVIDs (given up after ISSUE_TIMEOUT: then null, with how many
 * were held), then runs STEADY seconds of rotation and counts late rotations (an SVID that
 * reached a client, or was still its newest, with < 10% of its lifetime left: must be 0), the
 * agent's and server's peak RSS (whole run) and CPU (% of one core, steady phase). Runs as
 * root (setuid to the client uids).
 *
 * Env (defaults = the issue's size: 100 x 100 = 10,000 SVIDs, 60 s TTL, 3 minutes):
 * SIGIL_BENCH_SCALE_CLIENTS, SIGIL_BENCH_SCALE_ENTRIES, SIGIL_BENCH_SCALE_TTL (s),
 * SIGIL_BENCH_SCALE_STEADY (s), SIGIL_BENCH_SCALE_ISSUE_TIMEOUT (s, default 300),
 * SIGIL_BENCH_SCALE_UID_BASE (default 40000).
 */
import { cpus } from 'node:os'
import { BenchScope } from './bench-scope.js'
import type { Benchmark } from './benchmark.js'
import { machineLoad, ProcessUsage } from './proc-stats.js'
import { type ClientReport, ScaleClients } from './scale-clients.js'
import { startBenchAgent, startBenchServer } from './sigil-node.js'

const env = (name: string, fallback: number) => Number(process.env[`SIGIL_BENCH_SCALE_${name}`] ?? fallback)
const CLIENTS = env('CLIENTS', 100)
const ENTRIES = env('ENTRIES', 100)
const TTL = env('TTL', 60)
const STEADY = env('STEADY', 180)
const ISSUE_TIMEOUT_S = env('ISSUE_TIMEOUT', 300)
const UID_BASE = env('UID_BASE', 40_000)
const GOAL_AGENT_RSS_MB = 250
const READY_TIMEOUT_MS = 300_000
const SYNC_INTERVAL_S = 5

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const sum = (reports: readonly ClientReport[], f: (r: ClientReport) => number) =>
  reports.reduce((a, r) => a + f(r), 0)

export const benchmark: Benchmark = () =>
  BenchScope.run(async (scope) => {
    const total = CLIENTS * ENTRIES
    const say = (s: string) => process.stdout.write(`scale: ${s}\n`)
    say(
      `${cpus().length} cores, Node ${process.version}; ${CLIENTS} clients x ${ENTRIES} entries = ${total} SVIDs, TTL ${TTL}s, steady ${STEADY}s`,
    )
    const dir = scope.tempDir()
    const server = await startBenchServer(scope, dir)
    // The agent's default sync interval: a full entry sync every second would be a load of its own.
    const agent = await startBenchAgent(scope, dir, server, { syncInterval: `${SYNC_INTERVAL_S}s` })
    const t0Entries = performance.now()
    const specs = []
    for (let i = 0; i < CLIENTS; i++)
      for (let j = 0; j < ENTRIES; j++)
        specs.push({
          spiffeId: `spiffe://example.org/bench/scale/c${i}/e${j}`,
          selectors: [`unix:uid:${UID_BASE + i}`],
          x509SvidTtl: TTL,
        })
    await server.createEntries(specs)
    say(`${total} entries created in ${((performance.now() - t0Entries) / 1000).toFixed(1)}s`)
    const clients = await ScaleClients.start(scope, {
      n: CLIENTS,
      uidBase: UID_BASE,
      socketPath: agent.socketPath,
      expected: ENTRIES,
      readyTimeoutMs: READY_TIMEOUT_MS,
    })
    scope.defer(() => clients.close())
    // Give the agent time to sync every entry before the clock starts.
    await sleep((SYNC_INTERVAL_S + 2) * 1000)

    const agentUsage = new ProcessUsage(agent.pid)
    const serverUsage = new ProcessUsage(server.pid)
    let agentPeakMb = 0
    let serverPeakMb = 0
    const sampler = setInterval(() => {
      agentUsage.sample()
      serverUsage.sample()
      agentPeakMb = Math.max(agentPeakMb, agentUsage.peakRssMb)
      serverPeakMb = Math.max(serverPeakMb, serverUsage.peakRssMb)
    }, 2000)
    scope.defer(() => clearInterval(sampler))

    const go = Date.now()
    clients.go()
    const { completed, lastAt } = await clients.awaitComplete(ISSUE_TIMEOUT_S * 1000)
    const initialS = completed === CLIENTS && lastAt !== undefined ? (lastAt - go) / 1000 : null
    const atIssueEnd = await clients.reports()
    const issuePhaseS = (Date.now() - go) / 1000
    const agentCpuInitial = agentUsage.cpuPct()
    say(
      initialS === null
        ? `after ${ISSUE_TIMEOUT_S}s only ${completed}/${CLIENTS} clients had all their SVIDs (${sum(atIssueEnd, (r) => r.held)} held); steady state anyway...`
        : `all ${total} SVIDs held after ${initialS.toFixed(1)}s; steady state...`,
    )

    agentUsage.reset()
    serverUsage.reset()
    const clientsCpu0 = clients.cpuSeconds()
    await sleep(STEADY * 1000)
    const clientsCpu = (100 * (clients.cpuSeconds() - clientsCpu0)) / STEADY
    agentUsage.sample()
    serverUsage.sample()
    agentPeakMb = Math.max(agentPeakMb, agentUsage.peakRssMb)
    serverPeakMb = Math.max(serverPeakMb, serverUsage.peakRssMb)
    const agentCpu = agentUsage.cpuPct()
    const serverCpu = serverUsage.cpuPct()
    clearInterval(sampler)
    const load = machineLoad()
    const end = await clients.reports()

    const late = sum(end, (r) => r.lateOnArrival + r.staleHeld)
    const held = sum(end, (r) => r.held)
    const rotations = sum(end, (r) => r.received) - sum(atIssueEnd, (r) => r.received)
    const met = late === 0 && agentPeakMb <= GOAL_AGENT_RSS_MB && held === total && initialS !== null
    const mb = (n: number) => `${n.toFixed(0)} MB`
    return {
      json: {
        svids: held,
        initial_issue_s: initialS === null ? null : Number(initialS.toFixed(2)),
        late_rotations: late,
        agent_rss_mb: Math.round(agentPeakMb),
        server_rss_mb: Math.round(serverPeakMb),
        server_cpu_pct: Math.round(serverCpu),
        agent_cpu_pct: Math.round(agentCpu),
        agent_rss_mb_steady: Math.round(agentUsage.peakRssMb),
        agent_cpu_pct_initial: Math.round(agentCpuInitial),
        clients_complete: completed,
        svids_received_in_issue_phase: sum(atIssueEnd, (r) => r.received),
        issue_phase_s: Number(issuePhaseS.toFixed(1)),
        late_on_arrival: sum(end, (r) => r.lateOnArrival),
        late_while_held: sum(end, (r) => r.staleHeld),
        withdrawn_identities: sum(end, (r) => r.withdrawn),
        rotations_received_steady: rotations,
        stream_errors: sum(end, (r) => r.errors),
        stream_error_example: end.find((r) => r.lastError !== '')?.lastError ?? null,
        clients_cpu_pct: Math.round(clientsCpu),
        goal_met: met,
        clients: CLIENTS,
        entries_per_client: ENTRIES,
        ttl_s: TTL,
        steady_s: STEADY,
        ...load,
      },
      rows: [
        ['live SVIDs (held by clients at the end)', `${held} / ${total}`],
        [
          'time to issue all',
          initialS === null
            ? `not within ${ISSUE_TIMEOUT_S}s (${completed}/${CLIENTS} clients complete)`
            : `${initialS.toFixed(1)} s`,
        ],
        [`new SVIDs received in the ${STEADY}s steady phase`, String(rotations)],
        [
          'late rotations (arrived / held < 10% left)',
          `${late} (${sum(end, (r) => r.lateOnArrival)} / ${sum(end, (r) => r.staleHeld)})`,
        ],
        ['agent peak RSS / CPU (steady)', `${mb(agentPeakMb)} / ${agentCpu.toFixed(0)}%`],
        ['server peak RSS / CPU (steady)', `${mb(serverPeakMb)} / ${serverCpu.toFixed(0)}%`],
        ['identities withdrawn from a snapshot', String(sum(end, (r) => r.withdrawn))],
        ['stream errors (reopened)', String(sum(end, (r) => r.errors))],
        ['all clients CPU (steady)', `${clientsCpu.toFixed(0)}%`],
        ['machine load 1m / CPU pressure 60s', `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`],
        [`goal: all held, 0 late, agent RSS <= ${GOAL_AGENT_RSS_MB} MB`, met ? 'met' : 'MISSED'],
      ],
      note: `${CLIENTS} client processes under distinct uids, ${ENTRIES} entries each, ${TTL}s TTL; CPU in % of one core (of ${cpus().length}); RSS peaks sampled every 2s over the whole run`,
    }
  })
