/**
 * The cluster `npm run bench -- scale-out` measures: one real PostgreSQL
 * (scripts/lib/postgres-server.ts) and up to two real `sigil-server` processes on it
 * (sigil-node.ts), each with its own data dir, CA and `--metrics-address`; and what it reads
 * off them: CPU of a server and of PostgreSQL (postmaster + every backend, from /proc),
 * `pg_stat_database` counters of the Sigil database, and the servers' datastore call counts
 * from /metrics. The database password reaches the servers in SIGIL_DATASTORE (environment,
 * never argv). Trust: local processes only; nothing here is exposed beyond 127.0.0.1.
 */
import { execFile, execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { credentials, type ServiceError } from '@grpc/grpc-js'
import { type AdminAPIClient, loadAdminApi } from '../../proto/loader.js'
import { freePort, startPostgres, type TestPostgres } from '../lib/postgres-server.js'
import { Teardowns } from '../lib/teardowns.js'
import { BenchScope } from './bench-scope.js'
import { processCpuSeconds } from './proc-stats.js'
import { type BenchServer, startBenchServer } from './sigil-node.js'

const ROOT = resolve(import.meta.dirname, '../../..')
const SERVER_BIN = join(ROOT, 'dist/server/cli/main.js')

/** A bench server of the cluster, with its metrics listener. */
export interface ClusterServer extends BenchServer {
  readonly name: 'A' | 'B'
  /** `http://127.0.0.1:PORT` (GET /metrics, /ready). */
  readonly metricsUrl: string
  /** Admin API on the server's Unix socket (join tokens in bulk). */
  readonly admin: AdminAPIClient
}

/** PostgreSQL and the servers started so far. */
export interface Cluster {
  readonly scope: BenchScope
  readonly pg: TestPostgres
  readonly database: string
  readonly servers: ClusterServer[]
  /** Whether the second server joined with `--join-datastore` (else `--allow-new-ca`). */
  readonly joined: boolean
  /** Starts server A (first) or B (second, joining A's datastore). */
  addServer(): Promise<ClusterServer>
}

/** Whether this sigil-server knows `--join-datastore` (landing in parallel with this bench). */
function serverKnowsJoin(): Promise<boolean> {
  return new Promise((ok) =>
    execFile(process.execPath, [SERVER_BIN, 'run', '--help'], { encoding: 'utf8' }, (_err, stdout) =>
      ok(stdout.includes('--join-datastore')),
    ),
  )
}

/**
 * Runs `fn` with PostgreSQL up and no server yet; stops the servers, then PostgreSQL, and
 * removes every temp dir afterwards, also when `fn` throws.
 *
 * @example
 * await withCluster(say, async (c) => { const a = await c.addServer(); … })
 */
export async function withCluster<T>(
  say: (line: string) => void,
  fn: (cluster: Cluster) => Promise<T>,
): Promise<T> {
  const pgOwner = new Teardowns()
  try {
    const pg = await startPostgres(pgOwner)
    say(`scale-out: PostgreSQL in ${pg.dir}, 127.0.0.1:${pg.port}`)
    const database = await pg.createDatabase()
    const joined = await serverKnowsJoin()
    return await BenchScope.run(async (scope) => {
      const dir = scope.tempDir('sigil-so-')
      const servers: ClusterServer[] = []
      const addServer = async (): Promise<ClusterServer> => {
        const name = servers.length === 0 ? 'A' : 'B'
        const port = await freePort()
        const extra = ['--metrics-address', `127.0.0.1:${port}`]
        if (name === 'B') extra.push(joined ? '--join-datastore' : '--allow-new-ca')
        const before = process.env.SIGIL_DATASTORE
        process.env.SIGIL_DATASTORE = pg.url(database) // the spawned server reads it; argv never holds it
        let server: BenchServer
        try {
          server = await startBenchServer(scope, join(dir, name.toLowerCase()), extra)
        } finally {
          if (before === undefined) delete process.env.SIGIL_DATASTORE
          else process.env.SIGIL_DATASTORE = before
        }
        const admin = new (loadAdminApi().Client)(`unix:${server.adminSocket}`, credentials.createInsecure())
        scope.defer(() => admin.close())
        const s: ClusterServer = { ...server, name, metricsUrl: `http://127.0.0.1:${port}`, admin }
        servers.push(s)
        return s
      }
      try {
        return await fn({ scope, pg, database, servers, joined, addServer })
      } finally {
        const problems = pg
          .log()
          .split('\n')
          .filter((l) => /FATAL|PANIC|ERROR|terminat/.test(l) && !/starting up/.test(l))
        if (problems.length > 0)
          say(`scale-out: PostgreSQL log problems (last 5):\n${problems.slice(-5).join('\n')}`)
      }
    })
  } finally {
    await pgOwner.run()
  }
}

/** A join token from `server`'s admin API for `spiffeId`. */
export function joinToken(server: ClusterServer, spiffeId: string): Promise<string> {
  return new Promise((ok, fail) =>
    server.admin.CreateJoinToken({ spiffe_id: spiffeId, ttl: 3600 }, (err: ServiceError | null, res) =>
      err || !res?.token ? fail(err ?? new Error('CreateJoinToken: no token')) : ok(res.token),
    ),
  )
}

let ticksPerSecond: number | undefined

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100
  }
  return ticksPerSecond
}

/** utime, stime, cutime, cstime (seconds) of one process; undefined when it is gone. */
function cpuFields(pid: number, ticks: number): number[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return [11, 12, 13, 14].map((i) => Number(rest[i]) / ticks)
  } catch {
    return undefined
  }
}

/** Parent PID of a process; undefined when it is gone. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/**
 * CPU seconds used by PostgreSQL so far: the postmaster's own time and that of its reaped
 * children (cutime + cstime: backends that have exited), plus every live child's own time.
 */
export function postgresCpuSeconds(postmasterPid: number): number {
  const ticks = clockTicks()
  let total = 0
  const pm = cpuFields(postmasterPid, ticks)
  if (pm) total += pm[0]! + pm[1]! + pm[2]! + pm[3]!
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (parentPid(pid) !== postmasterPid) continue
    const f = cpuFields(pid, ticks)
    if (f) total += f[0]! + f[1]!
  }
  return total
}

/** The `pg_stat_database` counters of one database. */
export interface DbCounters {
  readonly xacts: number
  readonly tupReturned: number
  readonly tupFetched: number
  readonly tupWritten: number
  /** Rows read by sequential scans, per table (pg_stat_user_tables.seq_tup_read). */
  readonly seqTupRead: Record<string, number>
  /** Sequential scans started, per table (pg_stat_user_tables.seq_scan). */
  readonly seqScans: Record<string, number>
}

/**
 * `pg_stat_database` of `database`: transactions (commit + rollback), rows returned by scans,
 * rows fetched by index, rows inserted + updated + deleted. Backends report these at most once
 * a second, and an idle one up to 10 s late: deltas are right over windows much longer than that.
 */
export async function dbCounters(pg: TestPostgres, database: string): Promise<DbCounters> {
  const r = await pg.adminQuery(
    `SELECT xact_commit + xact_rollback AS xacts, tup_returned, tup_fetched,
            tup_inserted + tup_updated + tup_deleted AS tup_written
       FROM pg_stat_database WHERE datname = '${database}'`,
  )
  const row = r.rows[0] as Record<string, string>
  const tables = await pg.adminQuery(
    'SELECT relname, seq_tup_read, seq_scan FROM pg_stat_user_tables',
    database,
  )
  const seqTupRead: Record<string, number> = {}
  const seqScans: Record<string, number> = {}
  for (const t of tables.rows as { relname: string; seq_tup_read: string; seq_scan: string }[]) {
    seqTupRead[t.relname] = Number(t.seq_tup_read)
    seqScans[t.relname] = Number(t.seq_scan)
  }
  return {
    seqTupRead,
    seqScans,
    xacts: Number(row.xacts),
    tupReturned: Number(row.tup_returned),
    tupFetched: Number(row.tup_fetched),
    tupWritten: Number(row.tup_written),
  }
}

/** Datastore calls a server has made so far, by DataStore method (the counts of its latency histogram). */
export async function datastoreCalls(server: ClusterServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.metricsUrl}/metrics`)
  const text = await res.text()
  const calls = new Map<string, number>()
  for (const m of text.matchAll(
    /^sigil_server_datastore_query_duration_seconds_count\{[^}]*method="([^"]*)"[^}]*\} (\S+)$/gm,
  ))
    calls.set(m[1] as string, (calls.get(m[1] as string) ?? 0) + Number(m[2]))
  return calls
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)

/** `GET /ready` status of a server. */
export async function readyStatus(server: ClusterServer): Promise<number> {
  return (await fetch(`${server.metricsUrl}/ready`)).status
}

/** Calls per second by method between two readings of every server, the 8 most called. */
function byMethod(
  now: readonly Map<string, number>[],
  before: readonly Map<string, number>[],
  seconds: number,
): Record<string, number> {
  const sum = new Map<string, number>()
  now.forEach((m, i) => {
    for (const [method, n] of m) sum.set(method, (sum.get(method) ?? 0) + n - (before[i]?.get(method) ?? 0))
  })
  return Object.fromEntries(
    [...sum]
      .map(([k, n]) => [k, Math.round((n / seconds) * 10) / 10] as const)
      .filter(([, n]) => n > 0)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 8),
  )
}

/**
 * CPU of the servers, PostgreSQL and this bench process, and the database counters, over one
 * measured window: `start()` then `end()`.
 */
export class ClusterWindow {
  readonly #cluster: Cluster
  readonly #servers: readonly ClusterServer[]
  #t0 = 0
  #serverCpu0: number[] = []
  #pgCpu0 = 0
  #bench0: NodeJS.CpuUsage = process.cpuUsage()
  #db0: DbCounters | undefined
  #calls0: Map<string, number>[] = []

  constructor(cluster: Cluster, servers: readonly ClusterServer[]) {
    this.#cluster = cluster
    this.#servers = servers
  }

  #samples = 0
  #active = 0
  #lockWaits = new Map<string, number>()
  #sampler: NodeJS.Timeout | undefined
  #sampling: Promise<void> = Promise.resolve()

  /** One look at what the Sigil database's backends are doing (pg_stat_activity). */
  async #sample(): Promise<void> {
    const r = await this.#cluster.pg.adminQuery(
      `SELECT coalesce(wait_event_type, 'CPU') AS type, coalesce(wait_event, '') AS event, count(*) AS n
         FROM pg_stat_activity
        WHERE datname = '${this.#cluster.database}' AND state = 'active' AND pid <> pg_backend_pid()
        GROUP BY 1, 2`,
    )
    this.#samples++
    for (const row of r.rows as { type: string; event: string; n: string }[]) {
      this.#active += Number(row.n)
      if (row.type === 'Lock') {
        const key = row.event
        this.#lockWaits.set(key, (this.#lockWaits.get(key) ?? 0) + Number(row.n))
      }
    }
  }

  async start(): Promise<void> {
    this.#sampler = setInterval(() => {
      this.#sampling = this.#sampling.then(() => this.#sample()).catch(() => {})
    }, 250)
    this.#db0 = await dbCounters(this.#cluster.pg, this.#cluster.database)
    this.#calls0 = await Promise.all(this.#servers.map(datastoreCalls))
    this.#serverCpu0 = this.#servers.map((s) => processCpuSeconds(s.pid))
    this.#pgCpu0 = postgresCpuSeconds(this.#cluster.pg.pid() as number)
    this.#bench0 = process.cpuUsage()
    this.#t0 = performance.now()
  }

  async end(): Promise<WindowFigures> {
    const seconds = (performance.now() - this.#t0) / 1000
    clearInterval(this.#sampler)
    await this.#sampling
    const avg = (n: number) => (this.#samples > 0 ? Math.round((n / this.#samples) * 100) / 100 : 0)
    const serverCpu = this.#servers.map((s, i) => processCpuSeconds(s.pid) - (this.#serverCpu0[i] ?? 0))
    const pgCpu = postgresCpuSeconds(this.#cluster.pg.pid() as number) - this.#pgCpu0
    const bench = process.cpuUsage(this.#bench0)
    const calls = await Promise.all(this.#servers.map(datastoreCalls))
    const db = await dbCounters(this.#cluster.pg, this.#cluster.database)
    const db0 = this.#db0 as DbCounters
    const pct = (cpu: number) => Math.round((100 * cpu) / seconds)
    const perS = (n: number) => Math.round(n / seconds)
    return {
      seconds,
      serverCpuPct: serverCpu.map(pct),
      pgCpuPct: pct(pgCpu),
      benchCpuPct: pct((bench.user + bench.system) / 1e6),
      dbXactsPerS: perS(db.xacts - db0.xacts),
      dbTupReturnedPerS: perS(db.tupReturned - db0.tupReturned),
      dbTupFetchedPerS: perS(db.tupFetched - db0.tupFetched),
      dbTupWrittenPerS: perS(db.tupWritten - db0.tupWritten),
      datastoreCallsPerS: calls.map((c, i) => perS(total(c) - total(this.#calls0[i] ?? new Map()))),
      datastoreMethodsPerS: byMethod(calls, this.#calls0, seconds),
      pgActiveBackendsAvg: avg(this.#active),
      pgLockWaitingBackendsAvg: Object.fromEntries([...this.#lockWaits].map(([k, n]) => [k, avg(n)])),
      seqScansPerS: Object.fromEntries(
        Object.entries(db.seqScans).map(([table, n]) => [
          table,
          Math.round(((n - (db0.seqScans[table] ?? 0)) / seconds) * 10) / 10,
        ]),
      ),
      seqScannedRowsPerS: Object.fromEntries(
        Object.entries(db.seqTupRead)
          .map(([table, n]) => [table, perS(n - (db0.seqTupRead[table] ?? 0))] as const)
          .filter(([, n]) => n > 0)
          .sort((x, y) => y[1] - x[1])
          .slice(0, 5),
      ),
    }
  }
}

/** What one window measured; CPU in % of one core. */
export interface WindowFigures {
  readonly seconds: number
  /** Per server, in the order given. */
  readonly serverCpuPct: number[]
  readonly pgCpuPct: number
  readonly benchCpuPct: number
  /** pg_stat_database: transactions (commit + rollback) per second. */
  readonly dbXactsPerS: number
  readonly dbTupReturnedPerS: number
  readonly dbTupFetchedPerS: number
  readonly dbTupWrittenPerS: number
  /** Per server: DataStore method calls per second (its /metrics). */
  readonly datastoreCallsPerS: number[]
  /** The (at most 8) DataStore methods called most, all servers together: calls per second. */
  readonly datastoreMethodsPerS: Record<string, number>
  /** Backends of the Sigil database running a statement, on average (pg_stat_activity every 250 ms). */
  readonly pgActiveBackendsAvg: number
  /** Of those, the ones waiting for a heavyweight lock, by wait event (`relation`, `transactionid`, …). */
  readonly pgLockWaitingBackendsAvg: Record<string, number>
  /** The (at most 5) tables most read by sequential scans: rows per second. */
  readonly seqScannedRowsPerS: Record<string, number>
  /** Sequential scans per second, per table. */
  readonly seqScansPerS: Record<string, number>
}
