// `npm run bench -- scale-out` in its quick mode (SIGIL_BENCH_SCALEOUT_QUICK=1): real PostgreSQL,
// real servers, a few simulated agents. Smoke test only: it runs, writes
// bench-results/scale-out.json of the documented shape under the folder it runs in, and leaves
// no PostgreSQL behind. No figure is asserted (the machine is shared).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { processesMentioning } from '../../helpers/processes.js'
import { NODE_COMMAND, nodeArgs, ROOT, shortTempDir } from '../../helpers/server-process.js'

const BENCH = join(ROOT, 'dist/scripts/bench.js')

t.test('bench scale-out (quick) writes its JSON and stops everything', async (t) => {
  const cwd = shortTempDir(t)
  const child = spawn(NODE_COMMAND, nodeArgs(BENCH, 'scale-out'), {
    cwd,
    env: { ...process.env, SIGIL_BENCH_SCALEOUT_QUICK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench scale-out not done in 240 s:\n${out}`)), 240_000)
    child.on('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  t.equal(code, 0, out)
  t.match(out, /sync latency p50 \/ p99/, 'prints the table')
  const json = JSON.parse(readFileSync(join(cwd, 'bench-results/scale-out.json'), 'utf8'))
  t.equal(json.quick, true)
  t.match(json.issuance, {
    one_server: { svids_per_s: Number, server_cpu_pct: [Number], pg_cpu_pct: Number, errors: 0 },
    two_servers: { svids_per_s: Number, server_cpu_pct: [Number, Number], pg_cpu_pct: Number, errors: 0 },
    two_over_one: Number,
    openssl_p256_sign_per_s: Number,
    limit_svids_per_s: Number,
    bound: String,
  })
  t.ok(json.issuance.one_server.svids_per_s > 0, 'SVIDs were issued by one server')
  t.ok(json.issuance.two_servers.svids_per_s > 0, 'SVIDs were issued by two servers')
  t.match(json.sync, {
    agents: 20,
    entries_per_agent: 2,
    p50_ms: Number,
    p99_ms: Number,
    errors: 0,
    entries_held: 40,
    db_xacts_per_s: Number,
    db_xacts_per_sync: Number,
    datastore_calls_per_s: [Number, Number],
    server_cpu_pct: [Number, Number],
    pg_cpu_pct: Number,
    spire_db_qps_per_agent: Number,
  })
  t.ok(json.sync.syncs > 0, 'the simulated agents synced')
  t.match(json.machine, { cores: Number })
  t.match(readFileSync(join(cwd, 'bench-results/README.md'), 'utf8'), '## scale-out')
  const dirs = [...out.matchAll(/PostgreSQL in (\/\S+),/g)].map((m) => m[1] as string)
  t.equal(dirs.length, 2, 'one PostgreSQL per part')
  for (const dir of dirs) {
    t.same(processesMentioning(dir), [], `no process of ${dir} left running`)
    t.notOk(existsSync(dir), `${dir} removed`)
  }
})
