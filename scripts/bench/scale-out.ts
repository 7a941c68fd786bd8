/**
 * `npm run bench -- scale-out` (issue 15): N sigil-servers on one real PostgreSQL.
 * (a) `--only issuance`: X509-SVID signing through the agent API (BatchNewX509Svid, closed
 * loop) with 1 server, then 2 servers on the same database (scale-out-issuance.ts); per-server
 * CPU, PostgreSQL CPU, load-generator CPU. The limit, measured in the same run: `openssl speed
 * ecdsap256` (one sign + one verify per SVID, the SVID and the CSR's proof of possession) times
 * the machine's cores — which the servers, PostgreSQL and the load generator all share.
 * (b) `--only sync`: AGENTS simulated agents × ENTRIES entries syncing every INTERVAL s against
 * 2 servers, half on each (scale-out-sync.ts): p50/p99 sync latency, database transactions and
 * rows per second (pg_stat_database), DataStore calls (servers' /metrics), CPU — beside
 * SPIRE's published pain point, about 47,000 database queries per second at 3,500 agents
 * (spiffe/spire#1351), scaled per agent.
 *
 * Env (bench.ts takes no per-benchmark flags): SIGIL_BENCH_SCALEOUT_AGENTS (1000),
 * _ENTRIES (10), _DURATION (measured s of the sync part, 60), _INTERVAL (5), _SECONDS (per
 * issuance configuration, 10), _CALLERS (16), _BATCH (10), _CSRS (200); SIGIL_BENCH_SCALEOUT_QUICK=1
 * is the smoke-test size (20 agents × 2 entries, 1 s interval, 3 s; issuance 2 s, 4 callers).
 */
import { cpus } from 'node:os'
import { type Benchmark, type BenchResult, combineResults, opensslP256Speed, rate } from './benchmark.js'
import { machineLoad } from './proc-stats.js'
import { type IssuanceResult, type IssuanceRun, issuancePart } from './scale-out-issuance.js'
import { type SyncResult, syncPart } from './scale-out-sync.js'

/** The parts `--only` may pick. */
export const parts = ['issuance', 'sync'] as const

/** SPIRE's reported load: ~47,000 database QPS at 3,500 agents (spiffe/spire#1351). */
export const SPIRE_DB_QPS = 47_000
export const SPIRE_AGENTS = 3_500
/** SPIRE agents' default sync interval (s), which that figure was measured with. */
export const SPIRE_SYNC_INTERVAL_S = 5

const QUICK = process.env.SIGIL_BENCH_SCALEOUT_QUICK === '1'
const env = (name: string, full: number, quick: number) => {
  const v = process.env[`SIGIL_BENCH_SCALEOUT_${name}`]
  const n = v === undefined ? Number.NaN : Number(v)
  return Number.isFinite(n) && n > 0 ? n : QUICK ? quick : full
}

/** The sizes in effect (env or defaults). */
export function options() {
  return {
    quick: QUICK,
    agents: env('AGENTS', 1000, 20),
    entries: env('ENTRIES', 10, 2),
    duration: env('DURATION', 60, 3),
    interval: env('INTERVAL', 5, 1),
    seconds: env('SECONDS', 10, 2),
    callers: env('CALLERS', 16, 4),
    batch: env('BATCH', 10, 5),
    csrs: env('CSRS', 200, 20),
  }
}

const r1 = (n: number) => Math.round(n * 10) / 10
const r3 = (n: number) => Math.round(n * 1000) / 1000

export const benchmark: Benchmark = async (opts = {}) => {
  const o = options()
  const say = (line: string) => process.stdout.write(`${line}\n`)
  say(
    `scale-out: ${cpus().length} cores, Node ${process.version}${o.quick ? ' (quick mode)' : ''}; ` +
      `issuance ${o.callers} callers × batch ${o.batch}, ${o.seconds} s; sync ${o.agents} agents × ${o.entries} entries every ${o.interval} s, ${o.duration} s`,
  )
  const results: BenchResult[] = []
  if (opts.only !== 'sync') {
    const r = await issuancePart(o, say)
    const speed = opensslP256Speed(o.quick ? 1 : 3)
    results.push(issuanceResult(r, speed, o))
  }
  if (opts.only !== 'issuance') results.push(syncResult(await syncPart(o, say), o))
  const load = machineLoad()
  const out = combineResults(results)
  return {
    json: { ...out.json, quick: o.quick, ...load },
    rows: [
      ...out.rows,
      ['machine load 1m / CPU pressure 60s', `${load.load_avg_1m} / ${load.cpu_pressure_some_avg60_pct}%`],
    ],
    note: out.note ?? '',
  }
}

function lockWaits(waits: Record<string, number>): string {
  const total = Object.values(waits).reduce((a, b) => a + b, 0)
  const parts = Object.entries(waits).map(([k, n]) => `${k} ${n}`)
  return parts.length === 0 ? '0' : `${Math.round(total * 100) / 100} (${parts.join(', ')})`
}

function cpuList(w: { serverCpuPct: number[] }): string {
  return w.serverCpuPct.map((c) => `${c}%`).join(' + ')
}

function issuanceResult(
  r: IssuanceResult,
  speed: { signPerS: number; verifyPerS: number },
  o: ReturnType<typeof options>,
): BenchResult {
  const cores = cpus().length
  const perCore = 1 / (1 / speed.signPerS + 1 / speed.verifyPerS)
  const limit = perCore * cores
  const ratio = r.two.svidsPerS / r.one.svidsPerS
  const serverCores = (run: IssuanceRun) => run.window.serverCpuPct.reduce((a, b) => a + b, 0) / 100
  const perServerCore = (run: IssuanceRun) => run.svidsPerS / Math.max(0.01, serverCores(run))
  const busy = (run: IssuanceRun) =>
    (run.window.serverCpuPct.reduce((a, b) => a + b, 0) + run.window.pgCpuPct + run.window.benchCpuPct) / 100
  const row = (label: string, run: IssuanceRun): [string, string][] => [
    [
      `${label}: X509-SVIDs/s (wall)`,
      `${rate(run.svidsPerS)}  (${((100 * run.svidsPerS) / limit).toFixed(0)}% of the ${cores}-core limit)`,
    ],
    [
      `${label}: CPU server(s) / PostgreSQL / load generator`,
      `${cpuList(run.window)} / ${run.window.pgCpuPct}% / ${run.window.benchCpuPct}%  = ${busy(run).toFixed(2)} of ${cores} cores`,
    ],
    [
      `${label}: SVIDs per server core; DB transactions/s`,
      `${rate(perServerCore(run))}; ${rate(run.window.dbXactsPerS)}`,
    ],
    [
      `${label}: DataStore calls/s, top methods`,
      Object.entries(run.window.datastoreMethodsPerS)
        .map(([m, n]) => `${m} ${Math.round(n)}`)
        .join(', '),
    ],
    [
      `${label}: PostgreSQL backends busy / waiting on a lock (avg)`,
      `${run.window.pgActiveBackendsAvg} / ${lockWaits(run.window.pgLockWaitingBackendsAvg)}`,
    ],
  ]
  const m = (run: IssuanceRun, method: string) => run.window.datastoreMethodsPerS[method] ?? 0
  const calls = (run: IssuanceRun) => run.svidsPerS / o.batch
  const cpuBound =
    busy(r.two) >= cores * 0.85
      ? `CPU: the ${cores} cores are busy (servers + PostgreSQL + load generator share them)`
      : `not CPU alone: ${busy(r.two).toFixed(2)} of ${cores} cores used by servers + PostgreSQL + load generator ` +
        `(shared machine: CPU pressure ${machineLoad().cpu_pressure_some_avg60_pct ?? '?'}%)`
  // every signed SVID waits until its audit record is durable; a server flushes one batch at a
  // time, and servers take turns on the audit table (LOCK + compare-and-append, re-read on loss)
  const audit =
    `the one audit chain: each SVID waits for its audit record; 1 server ${m(r.one, 'appendAuditRecords')} appends/s ` +
    `(${(calls(r.one) / Math.max(0.1, m(r.one, 'appendAuditRecords'))).toFixed(1)} calls each), 2 servers ${m(r.two, 'appendAuditRecords')} appends/s, ` +
    `${m(r.two, 'auditHead')} head re-reads/s (append lost to the other server), ` +
    `${lockWaits(r.two.window.pgLockWaitingBackendsAvg)} backends waiting on a lock`
  const bound = `${cpuBound}; ${audit}`
  const fig = (run: IssuanceRun) => ({
    svids_per_s: run.svidsPerS,
    svids_per_server_core: Math.round(perServerCore(run)),
    server_cpu_pct: run.window.serverCpuPct,
    pg_cpu_pct: run.window.pgCpuPct,
    bench_cpu_pct: run.window.benchCpuPct,
    db_xacts_per_s: run.window.dbXactsPerS,
    datastore_calls_per_s: run.window.datastoreCallsPerS,
    datastore_calls_per_s_by_method: run.window.datastoreMethodsPerS,
    pg_active_backends_avg: run.window.pgActiveBackendsAvg,
    pg_lock_waiting_backends_avg: run.window.pgLockWaitingBackendsAvg,
    errors: run.errors,
  })
  return {
    json: {
      issuance: {
        one_server: fig(r.one),
        two_servers: fig(r.two),
        two_over_one: r3(ratio),
        openssl_p256_sign_per_s: Math.round(speed.signPerS),
        openssl_p256_verify_per_s: Math.round(speed.verifyPerS),
        limit_svids_per_s: Math.round(limit),
        cores,
        bound,
        second_server_joined: r.joined,
        callers: o.callers,
        batch: o.batch,
        seconds: o.seconds,
      },
    },
    rows: [
      [
        'openssl speed ecdsap256, 1 core: sign / verify',
        `${rate(speed.signPerS)} / ${rate(speed.verifyPerS)}`,
      ],
      [`limit: (1 sign + 1 verify per SVID) × ${cores} cores`, rate(limit)],
      ...row('1 server', r.one),
      ...row('2 servers', r.two),
      ['2 servers / 1 server', `${ratio.toFixed(2)}×`],
      ['what bounds it', bound],
      ...(r.joined
        ? []
        : ([['note', 'server B ran with its own CA (--allow-new-ca): no --join-datastore yet']] as [
            string,
            string,
          ][])),
    ],
    note: `real sigil-server processes on one real PostgreSQL; ${o.callers} closed-loop callers (own TLS channels) in the bench process; CPU in % of one core from /proc`,
  }
}

function syncResult(r: SyncResult, o: ReturnType<typeof options>): BenchResult {
  const spirePerAgent = SPIRE_DB_QPS / SPIRE_AGENTS
  const perAgent = r.window.dbXactsPerS / r.agents
  const callsPerS = r.window.datastoreCallsPerS.reduce((a, b) => a + b, 0)
  // per sync too: SPIRE's agents sync every 5 s by default, so its figure is ~67 queries a sync
  const perSync = r.syncsPerS > 0 ? r.window.dbXactsPerS / r.syncsPerS : 0
  const spirePerSync = spirePerAgent * SPIRE_SYNC_INTERVAL_S
  return {
    json: {
      sync: {
        agents: r.agents,
        entries_per_agent: r.entriesPerAgent,
        interval_s: r.intervalS,
        duration_s: o.duration,
        syncs: r.syncs,
        syncs_per_s: r.syncsPerS,
        p50_ms: r.p50Ms,
        p99_ms: r.p99Ms,
        max_ms: r.maxMs,
        errors: r.errors,
        first_error: r.firstError,
        unchanged: r.unchanged,
        entries_held: r.entriesHeld,
        db_xacts_per_s: r.window.dbXactsPerS,
        db_xacts_per_agent_per_s: r3(perAgent),
        db_tup_returned_per_s: r.window.dbTupReturnedPerS,
        db_tup_fetched_per_s: r.window.dbTupFetchedPerS,
        db_seq_scanned_rows_per_s_by_table: r.window.seqScannedRowsPerS,
        db_seq_scans_per_s_by_table: Object.fromEntries(
          Object.keys(r.window.seqScannedRowsPerS).map((t) => [t, r.window.seqScansPerS[t] ?? 0]),
        ),
        datastore_calls_per_s_by_method: r.window.datastoreMethodsPerS,
        pg_active_backends_avg: r.window.pgActiveBackendsAvg,
        pg_lock_waiting_backends_avg: r.window.pgLockWaitingBackendsAvg,
        datastore_calls_per_s: r.window.datastoreCallsPerS,
        server_cpu_pct: r.window.serverCpuPct,
        pg_cpu_pct: r.window.pgCpuPct,
        bench_cpu_pct: r.window.benchCpuPct,
        spire_db_qps_per_agent: r3(spirePerAgent),
        db_xacts_per_sync: r1(perSync),
        spire_db_queries_per_sync: r1(spirePerSync),
        spire_over_sigil_per_agent: perAgent > 0 ? r1(spirePerAgent / perAgent) : null,
        setup_s: r.setupS,
        second_server_joined: r.joined,
      },
    },
    rows: [
      [
        `sync: ${r.agents} agents × ${r.entriesPerAgent} entries, every ${r.intervalS} s, 2 servers`,
        `${r.syncs} syncs in ${o.duration} s (${r.syncsPerS}/s), ${r.errors} errors, ${r.unchanged} unchanged`,
      ],
      ['sync latency p50 / p99 / max', `${r.p50Ms} / ${r.p99Ms} / ${r.maxMs} ms`],
      ['entries held by the agents', `${r.entriesHeld} / ${r.agents * r.entriesPerAgent}`],
      [
        'database: transactions/s (pg_stat_database); DataStore calls/s (A + B)',
        `${rate(r.window.dbXactsPerS)}; ${rate(callsPerS)}`,
      ],
      [
        'database: rows returned (scans) / fetched (index) per s',
        `${rate(r.window.dbTupReturnedPerS)} / ${rate(r.window.dbTupFetchedPerS)}`,
      ],
      [
        '  DataStore calls per sync, by method',
        Object.entries(r.window.datastoreMethodsPerS)
          .map(([m, n]) => `${m} ${(n / Math.max(0.1, r.syncsPerS)).toFixed(2)}`)
          .join(', ') || 'none',
      ],
      [
        '  PostgreSQL backends busy / waiting on a lock (avg)',
        `${r.window.pgActiveBackendsAvg} / ${lockWaits(r.window.pgLockWaitingBackendsAvg)}`,
      ],
      [
        '  rows read by sequential scans, top tables',
        Object.entries(r.window.seqScannedRowsPerS)
          .map(([t, n]) => `${t} ${rate(n)} in ${r.window.seqScansPerS[t] ?? '?'} scans/s`)
          .join(', ') || 'none',
      ],
      [
        'database transactions/s per agent: Sigil vs SPIRE (47,000 QPS / 3,500 agents, spire#1351)',
        `${perAgent.toFixed(3)} vs ${spirePerAgent.toFixed(1)}  (at 3,500 agents: ${rate(perAgent * SPIRE_AGENTS)} vs ${rate(SPIRE_DB_QPS)})`,
      ],
      [
        `database transactions per sync: Sigil vs SPIRE (per agent × ${SPIRE_SYNC_INTERVAL_S} s)`,
        `${perSync.toFixed(2)} vs ${spirePerSync.toFixed(0)}`,
      ],
      [
        'CPU servers A + B / PostgreSQL / load generator',
        `${cpuList(r.window)} / ${r.window.pgCpuPct}% / ${r.window.benchCpuPct}%`,
      ],
      ['setup: entries, attestations, first full syncs', `${r.setupS} s`],
    ],
    note: `${r.agents} simulated agents in the bench process (own mTLS channels; no push streams or renewals), 2 real sigil-servers${r.joined ? '' : ' (B with its own CA: no --join-datastore yet)'} on one real PostgreSQL`,
  }
}
