// The real sigil-server and sigil-agent with --metrics-address (issue 15 item 4): /metrics moves
// when a workload gets an SVID (issuance on both sides, Workload API calls, held SVIDs, sync,
// datastore queries); /ready is 200 when healthy and 503 while the server's SQLite datastore is
// unreadable — another process holds exclusive POSIX locks on the WAL index's lock bytes, the
// way a wedged or foreign SQLite client would — and 200 again once the lock is released. While
// locked, every read blocks the (synchronous) driver ≈10 s before SQLITE_PROTOCOL, so /live is
// not asserted then: it answers once the event loop is free again.
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import {
  type JsonLine,
  startSigilNode,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: res.status, body: await res.text() }
}

/** One sample's value from Prometheus text, e.g. `sigil_server_svids_issued_total{kind="x509"}`; 0 when absent. */
function sample(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1))
  }
  return 0
}

/** `<name>_count{labels}` of a histogram. */
function count(text: string, name: string, labels: string): number {
  return sample(text, `${name}_count{${labels}}`)
}

function portFrom(lines: readonly JsonLine[], msg: string, read: (l: JsonLine) => unknown): number {
  const line = lines.find((l) => l.msg === msg)
  const port = Number(line ? read(line) : Number.NaN)
  if (!Number.isInteger(port) || port <= 0)
    throw new Error(`no metrics port in "${msg}": ${JSON.stringify(line)}`)
  return port
}

/**
 * Holds exclusive fcntl locks on the WAL-index lock bytes (120..127) of `<db>-shm`, which is how
 * SQLite readers and writers coordinate; resolves once held. `release()` ends the holder.
 */
async function lockWalIndex(dbPath: string): Promise<{ release(): Promise<void> }> {
  const holder: ChildProcess = spawn(
    'python3',
    [
      '-c',
      [
        'import fcntl, os, sys',
        'fd = os.open(sys.argv[1], os.O_RDWR)',
        'fcntl.lockf(fd, fcntl.LOCK_EX, 8, 120)',
        "print('locked', flush=True)",
        'sys.stdin.read()',
      ].join('\n'),
      `${dbPath}-shm`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('timed out after 10 s waiting for the lock holder')),
      10_000,
    )
    holder.stdout?.once('data', () => {
      clearTimeout(timer)
      resolve()
    })
    holder.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`)))
  })
  return {
    release: async () => {
      holder.stdin?.end()
      await exited
    },
  }
}

t.test('metrics move with a workload fetch; /ready follows the datastore', async (t) => {
  const metricsArgs = ['--metrics-address', '127.0.0.1:0']
  const node = await startSigilNode(t, { serverArgs: metricsArgs, agentArgs: metricsArgs })
  const serverPort = portFrom(
    node.server.logs as JsonLine[],
    'sigil-server started',
    (l) => new URL(String(l.metrics)).port,
  )
  const agentPort = portFrom(node.agent.logs.lines, 'sigil-agent started', (l) => l.metrics_port)

  t.equal((await get(serverPort, '/live')).status, 200, 'server /live')
  t.equal((await get(agentPort, '/live')).status, 200, 'agent /live')
  t.equal((await get(serverPort, '/ready')).status, 200, 'server /ready')
  await waitUntil('agent /ready 200', async () => (await get(agentPort, '/ready')).status === 200)

  const server1 = (await get(serverPort, '/metrics')).body
  const agent1 = (await get(agentPort, '/metrics')).body
  t.ok(
    sample(server1, 'sigil_server_ca_expiry_timestamp_seconds{kind="x509"}') * 1000 > Date.now(),
    'CA expiry',
  )
  t.ok(
    sample(server1, 'sigil_server_ca_expiry_timestamp_seconds{kind="jwt"}') * 1000 > Date.now(),
    'JWT key expiry',
  )
  t.ok(sample(agent1, 'sigil_agent_svid_expiry_timestamp_seconds') * 1000 > Date.now(), 'agent SVID expiry')

  const script = writeWorkloadScript(node.dir, 'metrics.mjs')
  await node.createEntry(`${TD}/metered`, ['unix:uid:0', `proc:script:${script}`])
  const w = startWorkload(t, { script, socketPath: node.agent.socketPath })
  t.equal((await w.next('update')).kind, 'update', 'the workload got its SVID')
  t.equal((await w.fetch()).kind, 'fetch', 'and one more on a new stream')

  let server2 = ''
  let agent2 = ''
  await waitUntil('the cancelled fetch stream counted', async () => {
    agent2 = (await get(agentPort, '/metrics')).body
    return (
      sample(agent2, 'sigil_agent_workload_api_calls_total{method="FetchX509SVID",code="CANCELLED"}') >= 1
    )
  })
  server2 = (await get(serverPort, '/metrics')).body
  const moved = (text1: string, text2: string, series: string) => {
    const [a, b] = [sample(text1, series), sample(text2, series)]
    t.ok(b > a, `${series}: ${a} → ${b}`)
  }
  moved(server1, server2, 'sigil_server_svids_issued_total{kind="x509"}')
  moved(server1, server2, 'sigil_server_svid_issue_duration_seconds_count{kind="x509"}')
  moved(server1, server2, 'sigil_server_datastore_query_duration_seconds_count{method="createEntry"}')
  moved(server1, server2, 'sigil_server_decisions_total{kind="x509_svid_issued",decision="allow"}')
  moved(server1, server2, 'sigil_server_decisions_total{kind="admin_operation",decision="allow"}')
  moved(agent1, agent2, 'sigil_agent_svid_requests_total{kind="x509",result="ok"}')
  moved(agent1, agent2, 'sigil_agent_svid_request_duration_seconds_count{kind="x509"}')
  moved(agent1, agent2, 'sigil_agent_x509_svids_installed_total{kind="new"}')
  t.ok(count(agent2, 'sigil_agent_sync_duration_seconds', 'result="ok"') >= 1, 'syncs timed')
  t.ok(sample(agent2, 'sigil_agent_x509_svids') >= 1, 'the agent holds the workload SVID')
  t.equal(sample(agent2, 'sigil_agent_workload_processes'), 1, 'one workload process')

  // the datastore becomes unreadable: /ready says so, the agent stays ready on its cached SVIDs
  const dbPath = join(node.server.dataDir, 'datastore.sqlite3')
  const lock = await lockWalIndex(dbPath)
  let released = false
  t.teardown(() => (released ? undefined : lock.release()))
  const down = await get(serverPort, '/ready')
  t.equal(down.status, 503, 'server /ready is 503 while the datastore is locked')
  t.match(down.body, /^not ready: datastore unreachable/)
  t.equal((await get(agentPort, '/ready')).status, 200, 'the agent stays ready')

  await lock.release()
  released = true
  // better-sqlite3 is synchronous: reads queued while locked (agent syncs, CA rotation) each spin
  // about 10 s in SQLite's WAL retry loop before failing, so the server catches up for a while
  await waitUntil(
    'server /ready 200 after the lock is released',
    async () => (await get(serverPort, '/ready')).status === 200,
    { timeoutMs: 90_000, intervalMs: 200 },
  )
  t.pass('server /ready is 200 again')
  const server3 = (await get(serverPort, '/metrics')).body
  moved(server2, server3, 'sigil_server_datastore_errors_total{method="revocationSequence"}')
  await w.stop()
})
