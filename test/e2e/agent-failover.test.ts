// The real sigil-server and sigil-agent processes: an agent given several servers
// (`--server-address a,b`) attests once and fails over (issue 15 item 3). Two servers cannot
// share one SQLite data dir yet, so failover is modelled by stopping the server on the first port
// and starting one on the same data dir (same datastore, same CA) on the second port: the agent
// must move there by itself, without attesting again, and serve what that server hands out.
// Also: a dead first address never blocks start-up, and with every server down the agent keeps
// serving cached SVIDs and never an expired one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import {
  type AgentProcess,
  freePort,
  type JsonLine,
  printedSvids,
  startAgentProcess,
  startWorkload,
  type Workload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'

const TD = 'spiffe://example.org'
const AGENT_ID = `${TD}/node1`

interface Fixture {
  readonly dir: string
  readonly serverDir: string
  readonly bundlePath: string
  readonly token: string
  /** Stops what the test started, in reverse order (idempotent stops). */
  readonly stoppers: (() => Promise<unknown>)[]
}

async function fixture(t: Test, server: ServerProcess, dir: string): Promise<Fixture> {
  const token = await server.cli('token', 'generate', '--spiffe-id', AGENT_ID)
  const bundle = await server.cli('bundle', 'show')
  if (token.code !== 0 || bundle.code !== 0)
    throw new Error(`server CLI failed: ${token.stderr}${bundle.stderr}`)
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, bundle.stdout)
  t.ok(token.stdout.trim(), 'a join token')
  return { dir, serverDir: server.dataDir, bundlePath, token: token.stdout.trim(), stoppers: [] }
}

function tempDir(t: Test): { dir: string; stoppers: (() => Promise<unknown>)[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-fo-'))
  const stoppers: (() => Promise<unknown>)[] = []
  t.teardown(async () => {
    for (const stop of stoppers.reverse()) await stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { dir, stoppers }
}

async function startAgent(f: Fixture, serverAddress: string, extra: string[] = []): Promise<AgentProcess> {
  const agent = await startAgentProcess({
    serverAddress,
    dataDir: join(f.dir, 'a'),
    socketPath: join(f.dir, 'api', 'agent.sock'),
    joinToken: f.token,
    trustBundle: f.bundlePath,
    extraArgs: ['--metrics-address', '127.0.0.1:0', ...extra],
  })
  f.stoppers.push(() => agent.stop())
  return agent
}

/** Creates an entry through `server` and waits until the agent has synced `total` entries. */
async function createEntry(
  server: ServerProcess,
  agent: AgentProcess,
  spiffeId: string,
  selectors: string[],
  total: number,
  extra: string[] = [],
): Promise<void> {
  const args = ['entry', 'create', '--spiffe-id', spiffeId, '--parent-id', AGENT_ID, ...extra]
  for (const s of selectors) args.push('--selector', s)
  const from = agent.logs.lines.length
  const created = await server.cli(...args)
  if (created.code !== 0) throw new Error(`entry create failed: ${created.stderr}`)
  await agent.logs.waitFor(
    (l) => l.msg === 'synced authorized entries' && l.entries === total,
    `agent synced ${total} entries`,
    20_000,
    from,
  )
}

/** The attested-agent record (`sigil-server agent show`). */
async function agentRecord(server: ServerProcess): Promise<Record<string, unknown>> {
  const shown = await server.cli('agent', 'show', '--spiffe-id', AGENT_ID, '--output', 'json')
  if (shown.code !== 0) throw new Error(`agent show failed: ${shown.stderr}`)
  return (JSON.parse(shown.stdout) as { agent: Record<string, unknown> }).agent
}

async function metrics(agent: AgentProcess): Promise<string> {
  const started = await agent.logs.waitFor((l) => l.msg === 'sigil-agent started', 'agent started')
  const res = await fetch(`http://127.0.0.1:${String(started.metrics_port)}/metrics`)
  return res.text()
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1))
}

function failovers(text: string): number {
  return ['unavailable', 'deadline_exceeded', 'connection_refused', 'transport']
    .map((r) => metricValue(text, `sigil_agent_server_failovers_total{reason="${r}"}`))
    .reduce((a, b) => a + b, 0)
}

/** Every SVID a workload printed was unexpired when it was received. */
function neverExpired(t: Test, w: Workload): void {
  let checked = 0
  for (const line of w.output.lines.filter((l) => l.kind === 'update' || l.kind === 'fetch')) {
    for (const svid of printedSvids(line)) {
      checked++
      t.ok(Number(line.received_at) < svid.notAfter, `pid ${w.pid}: an unexpired SVID (${svid.serial})`)
    }
  }
  t.ok(checked > 0, `pid ${w.pid} received SVIDs`)
}

function onlySvid(line: JsonLine, spiffeId: string): { serial: string; notAfter: number } {
  if (line.kind !== 'update' && line.kind !== 'fetch') throw new Error(`not an SVID: ${JSON.stringify(line)}`)
  const svids = printedSvids(line)
  if (svids.length !== 1 || svids[0]?.spiffeId !== spiffeId) throw new Error(`expected ${spiffeId}`)
  return { serial: svids[0].serial, notAfter: svids[0].notAfter }
}

t.test(
  'the first server stops, one on the same datastore answers on the next address: the agent moves there without attesting again',
  async (t) => {
    const { dir, stoppers } = tempDir(t)
    const [p1, p2] = [await freePort(), await freePort()]
    const first = await startServerProcess(join(dir, 's'), ['--agent-api-address', `127.0.0.1:${p1}`])
    stoppers.push(() => first.stop())
    const f = { ...(await fixture(t, first, dir)), stoppers }
    const agent = await startAgent(f, `127.0.0.1:${p1},127.0.0.1:${p2}`)
    const script = writeWorkloadScript(dir, 'failover.mjs')
    await createEntry(first, agent, `${TD}/before`, ['unix:uid:0', `proc:script:${script}`], 1)
    const w1 = startWorkload(t, { script, socketPath: agent.socketPath })
    const before = onlySvid(await w1.next('update'), `${TD}/before`)
    const record = await agentRecord(first)
    t.equal(record.spiffe_id, AGENT_ID, 'the agent is attested')
    t.ok(record.serial, 'with an agent SVID')

    t.equal(await first.stop(), 0, 'the first server stopped')
    const stoppedAt = Date.now()
    const second = await startServerProcess(join(dir, 's'), ['--agent-api-address', `127.0.0.1:${p2}`])
    const secondUp = Date.now()
    stoppers.push(() => second.stop())
    t.equal(second.agentApiAddress, `127.0.0.1:${p2}`, 'the second server is on the second address')

    // an entry created through the second server reaches the agent and is served to a new process
    const script2 = writeWorkloadScript(dir, 'failover-2.mjs')
    await createEntry(second, agent, `${TD}/after`, ['unix:uid:0', `proc:script:${script2}`], 2)
    t.comment(
      `second server started ${secondUp - stoppedAt} ms after the first stopped; the agent synced the new entry ${Date.now() - secondUp} ms after that`,
    )
    const w2 = startWorkload(t, { script: script2, socketPath: agent.socketPath })
    onlySvid(await w2.next('update'), `${TD}/after`)
    t.pass('the new entry is served to a new process')
    const fetched = onlySvid(await w1.fetch(), `${TD}/before`)
    t.equal(fetched.serial, before.serial, 'the first process keeps its SVID')

    // no re-attestation: one attestation in the agent's log, none at the second server, same record
    t.equal(agent.logs.lines.filter((l) => l.msg === 'node attested').length, 1, 'the agent attested once')
    t.ok(
      first.logs.some((l) => l.msg === 'agent attested'),
      'the first server logged the attestation',
    )
    t.notOk(
      second.logs.some((l) => l.msg === 'agent attested'),
      'the second server saw no attestation',
    )
    const after = await agentRecord(second)
    t.equal(after.serial, record.serial, 'the same agent SVID: no new one was needed')
    t.equal(after.expires_at, record.expires_at, 'the attested-agent record is unchanged')
    t.not(after.last_seen, '0', 'the second server has seen the agent')
    t.ok(
      agent.logs.lines.some((l) => l.msg === 'server not answering: failing over'),
      'the agent logged the failover',
    )
    const text = await metrics(agent)
    t.ok(failovers(text) >= 1, 'sigil_agent_server_failovers_total counted it')
    t.equal(metricValue(text, 'sigil_agent_healthy_servers'), 1, 'one healthy server')
    t.notOk(
      w1.output.lines.some((l) => l.kind === 'error' || l.kind === 'end'),
      "the first process's stream stayed open",
    )
    neverExpired(t, w1)
    neverExpired(t, w2)
    t.equal(agent.child.exitCode, null, 'the agent kept running')
    await Promise.all([w1.stop(), w2.stop()])
  },
)

t.test('a dead first address never blocks start-up', async (t) => {
  const { dir, stoppers } = tempDir(t)
  const dead = await freePort()
  const server = await startServerProcess(join(dir, 's'))
  stoppers.push(() => server.stop())
  const f = { ...(await fixture(t, server, dir)), stoppers }
  const agent = await startAgent(f, `127.0.0.1:${dead},${server.agentApiAddress}`)
  const script = writeWorkloadScript(dir, 'dead-first.mjs')
  await createEntry(server, agent, `${TD}/web`, ['unix:uid:0', `proc:script:${script}`], 1)
  const w = startWorkload(t, { script, socketPath: agent.socketPath })
  onlySvid(await w.next('update'), `${TD}/web`)
  t.equal(agent.logs.lines.filter((l) => l.msg === 'node attested').length, 1, 'attested once')
  const health = await agent.api('healthcheck')
  t.equal(health.code, 0, `healthy: ${health.stderr}`)
  await w.stop()
})

t.test('every server down: cached SVIDs are served until they expire, never after', async (t) => {
  const { dir, stoppers } = tempDir(t)
  const dead = await freePort()
  const server = await startServerProcess(join(dir, 's'))
  stoppers.push(() => server.stop())
  const f = { ...(await fixture(t, server, dir)), stoppers }
  const agent = await startAgent(f, `${server.agentApiAddress},127.0.0.1:${dead}`)
  const script = writeWorkloadScript(dir, 'all-down.mjs')
  const id = `${TD}/short`
  await createEntry(server, agent, id, ['unix:uid:0', `proc:script:${script}`], 1, ['--x509-svid-ttl', '10s'])
  const w = startWorkload(t, { script, socketPath: agent.socketPath })
  onlySvid(await w.next('update'), id)
  t.equal(await server.stop(), 0, 'the only live server stopped: no server answers')
  const during = await w.fetch()
  const held = onlySvid(during, id)
  t.ok(
    Number(during.received_at) < held.notAfter,
    'the cached SVID is served, unexpired, while no server answers',
  )
  const updates = w.output.lines.filter((l) => l.kind === 'update')
  t.equal(onlySvid(updates.at(-1) as JsonLine, id).serial, held.serial, 'the one the process last received')
  // past its expiry (+ 1 s of margin): whatever the agent answers, it is not that SVID
  await sleep(Math.max(0, held.notAfter + 1_000 - Date.now()))
  const from = w.output.lines.length
  w.child.stdin?.write('fetch\n')
  await sleep(3_000)
  const late = w.output.lines.slice(from)
  for (const line of late) {
    for (const svid of line.kind === 'fetch' || line.kind === 'update' ? printedSvids(line) : []) {
      t.ok(Number(line.received_at) < svid.notAfter, `after expiry: never an expired SVID (${svid.serial})`)
    }
  }
  t.comment(
    `after expiry the fetch got: ${late.map((l) => String(l.kind)).join(', ') || 'nothing yet (held)'}`,
  )
  neverExpired(t, w)
  const text = await metrics(agent)
  t.equal(metricValue(text, 'sigil_agent_healthy_servers'), 0, 'no healthy server')
  t.equal(agent.child.exitCode, null, 'the agent kept running')
  await w.stop()
})
