/**
 * `npm run start:ha`: scale-out in one command, for a newcomer (issue 15). Starts a real,
 * throw-away PostgreSQL (initdb + postgres in a temp dir, as `nobody` when run as root;
 * scripts/lib/postgres-server.ts), two sigil-servers sharing it (each its own data dir and CA,
 * agent API port, admin socket and `--metrics-address`), and one sigil-agent told about both
 * servers; prints what to try and runs until Ctrl-C (SIGINT or SIGTERM), which stops the agent,
 * the servers and PostgreSQL and removes every temp dir. It drives the same CLIs a user would.
 * The database password is random per run and reaches the servers in SIGIL_DATASTORE (never
 * on a command line, which every local user can read); the join token likewise in
 * SIGIL_JOIN_TOKEN. Everything listens on 127.0.0.1 only.
 *
 * The second server joins with `--join-datastore` when the server knows that flag (else it
 * starts with `--allow-new-ca`, a CA of its own that is not in the agent's bundle: it then
 * runs, but the agent cannot use it); the agent gets `--server-address A,B` when it accepts a
 * list, else A only. The banner says which.
 *
 * Override: SIGIL_TRUST_DOMAIN (default example.org).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { AGENT_BIN, cli, daemon, mustCli, PACKAGE_ROOT, SERVER_BIN, stop } from './lib/daemons.js'
import { startPostgres, type TestPostgres } from './lib/postgres-server.js'
import { Teardowns } from './lib/teardowns.js'

const trustDomain = process.env.SIGIL_TRUST_DOMAIN ?? 'example.org'
const uid = process.getuid?.() ?? 0
const agentId = `spiffe://${trustDomain}/ha/agent`
const workloadId = `spiffe://${trustDomain}/ha/uid-${uid}`

function say(line = ''): void {
  process.stdout.write(`${line}\n`)
}

/** A path as typed from the current folder: relative below it, absolute elsewhere. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') || rel === '' ? path : rel
}

/** What a `--help` text of `bin run` says; '' when it cannot be read. */
async function runHelp(bin: string): Promise<string> {
  const r = await cli(bin, ['run', '--help'])
  return r.stdout + r.stderr
}

/** Whether the agent's help for --server-address speaks of several addresses. */
function serverAddressTakesList(agentHelp: string): boolean {
  const at = agentHelp.indexOf('--server-address')
  if (at === -1) return false
  const next = agentHelp.indexOf('\n  --', at + 1)
  const text = agentHelp.slice(at, next === -1 ? undefined : next)
  return /,|comma|several|list/i.test(text)
}

/**
 * The trust bundle for the agent, from server A. When B joined, waits (up to 10 s) until it
 * holds B's CA too — B publishes it in the shared bundle before using it — so the agent trusts
 * both servers.
 */
async function sharedBundle(admin: string[], joined: boolean): Promise<string> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const pem = await mustCli(SERVER_BIN, ['bundle', 'show', '--format', 'pem', ...admin])
    const cas = pem.split('BEGIN CERTIFICATE').length - 1
    if (!joined || cas >= 2) return pem
    if (Date.now() > deadline) {
      say(`warning: after 10 s server A's bundle still holds ${cas} CA certificate(s), not both servers' CAs`)
      return pem
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A running sigil-server of this launcher. */
interface HaServer {
  readonly name: string
  readonly child: ChildProcess
  readonly dir: string
  readonly adminSocket: string
  readonly agentApi: string
  readonly metrics: string
}

async function startServer(
  name: string,
  root: string,
  datastoreUrl: string,
  extra: readonly string[],
): Promise<HaServer> {
  const dir = join(root, `server-${name.toLowerCase()}`)
  const adminSocket = join(dir, 'private', 'admin.sock')
  let metrics = ''
  const { child, entry } = await daemon({
    name: `sigil-server ${name}`,
    logFile: join(root, `server-${name.toLowerCase()}.log`),
    args: [
      SERVER_BIN,
      'run',
      '--data-dir',
      dir,
      '--admin-socket',
      adminSocket,
      '--trust-domain',
      trustDomain,
      '--agent-api-address',
      '127.0.0.1:0',
      '--bundle-endpoint-address',
      'off',
      '--metrics-address',
      '127.0.0.1:0',
      ...extra,
    ],
    // the password is in the URL: environment only
    env: { SIGIL_DATASTORE: datastoreUrl },
    ready: (e) => {
      if (typeof e.metrics === 'string') metrics = e.metrics.replace(/\/metrics$/, '')
      return e.msg === 'sigil-server started'
    },
  })
  return { name, child, dir, adminSocket, agentApi: String(entry.agent_api), metrics }
}

/** The banner: where everything is and what to try (the README shows the same steps). */
function printBanner(o: {
  root: string
  pg: TestPostgres
  database: string
  servers: readonly HaServer[]
  agentSocket: string
  agentMetrics: string
  agentServers: string
  joined: boolean
}): void {
  const [a, b] = o.servers as [HaServer, HaServer]
  const serverCli = shown(join(PACKAGE_ROOT, 'scripts/bin/sigil-server'))
  const agentCli = shown(join(PACKAGE_ROOT, 'scripts/bin/sigil-agent'))
  say('Sigil HA is running: PostgreSQL + 2 servers + 1 agent.')
  say()
  say(`  PostgreSQL        127.0.0.1:${o.pg.port} database ${o.database} (data in ${o.pg.dir})`)
  for (const s of o.servers) {
    say(
      `  server ${s.name}          agent API ${s.agentApi}, metrics ${s.metrics}, pid ${s.child.pid}, admin socket ${s.adminSocket}`,
    )
  }
  say(`  agent             ${agentId} → ${o.agentServers}, metrics ${o.agentMetrics}`)
  say(`  Workload API      ${o.agentSocket}`)
  say(`  logs              ${o.root}/*.log`)
  if (!o.joined) {
    say()
    say('  NOTE: this sigil-server has no --join-datastore yet: server B runs with a CA of its own')
    say('  (--allow-new-ca) that the agent does not trust, so the agent uses server A only.')
  } else if (!o.agentServers.includes(',')) {
    say()
    say('  NOTE: this sigil-agent takes a single --server-address: it uses server A only.')
  }
  say()
  say('Try, in another terminal:')
  say('  # 1. register a workload through server A')
  say(
    `  ${serverCli} entry create --admin-socket ${a.adminSocket} --spiffe-id ${workloadId} --parent-id ${agentId} --selector unix:uid:${uid}`,
  )
  say('  # 2. fetch its X509-SVID from the agent (within a second or two: the agent syncs every 1 s)')
  say(`  ${agentCli} api fetch x509 --socket-path ${o.agentSocket}`)
  say('  # 3. both servers see the same database')
  say(`  ${serverCli} entry show --admin-socket ${b.adminSocket}`)
  say('  # 4. health and metrics (/ready: datastore reachable and a CA active)')
  for (const s of o.servers) say(`  curl -s -w ' %{http_code}\\n' ${s.metrics}/ready`)
  say(`  curl -s ${a.metrics}/metrics | grep ^sigil_`)
  say(
    o.agentServers.includes(',')
      ? '  # 5. kill server A; the agent keeps serving, and moves to server B'
      : '  # 5. kill server A; the agent keeps serving the SVIDs it holds (it knows server A only)',
  )
  say(`  kill ${a.child.pid}`)
  say(`  ${agentCli} api fetch x509 --socket-path ${o.agentSocket}`)
  say(`  curl -s ${o.agentMetrics}/ready`)
  say()
  say('Press Ctrl-C to stop (stops everything and removes the temp dirs).')
}

async function main(): Promise<void> {
  const teardowns = new Teardowns()
  const root = mkdtempSync(join(tmpdir(), 'sigil-ha-'))
  teardowns.teardown(() => rmSync(root, { recursive: true, force: true }))
  const children: ChildProcess[] = []
  let stopping = false
  const shutdown = async (code: number) => {
    if (stopping) return
    stopping = true
    say('\nstopping agent, servers and PostgreSQL…')
    for (const c of children.reverse()) await stop(c)
    await teardowns.run()
    say('stopped.')
    process.exit(code)
  }
  process.on('SIGINT', () => void shutdown(0))
  process.on('SIGTERM', () => void shutdown(0))
  const watchExit = (name: string, child: ChildProcess, fatal: boolean) =>
    child.on('exit', (code, signal) => {
      if (stopping) return
      say(`${name} exited (${code ?? signal})${fatal ? '; stopping' : ''}`)
      if (fatal) void shutdown(1)
    })
  try {
    say('starting PostgreSQL…')
    const pg = await startPostgres(teardowns)
    const database = await pg.createDatabase()
    const url = pg.url(database)
    const [serverHelp, agentHelp] = await Promise.all([runHelp(SERVER_BIN), runHelp(AGENT_BIN)])
    const canJoin = serverHelp.includes('--join-datastore')
    const agentTakesList = serverAddressTakesList(agentHelp)

    say('starting sigil-server A…')
    const a = await startServer('A', root, url, [])
    children.push(a.child)
    // servers may stop (step 5 of the banner); the launcher keeps running for the rest
    watchExit('sigil-server A', a.child, false)
    say('starting sigil-server B…')
    const b = await startServer('B', root, url, [canJoin ? '--join-datastore' : '--allow-new-ca'])
    children.push(b.child)
    watchExit('sigil-server B', b.child, false)

    const admin = ['--admin-socket', a.adminSocket]
    const agentDir = join(root, 'agent')
    mkdirSync(agentDir, { mode: 0o755 })
    const bundlePath = join(root, 'bundle.pem')
    writeFileSync(bundlePath, await sharedBundle(admin, canJoin))
    const token = (await mustCli(SERVER_BIN, ['token', 'generate', '--spiffe-id', agentId, ...admin])).trim()
    const agentServers = canJoin && agentTakesList ? `${a.agentApi},${b.agentApi}` : a.agentApi
    const agentSocket = join(agentDir, 'public', 'api.sock')
    let agentMetrics = ''
    say(`starting sigil-agent (servers ${agentServers})…`)
    const agent = await daemon({
      name: 'sigil-agent',
      logFile: join(root, 'agent.log'),
      args: [
        AGENT_BIN,
        'run',
        '--server-address',
        agentServers,
        '--trust-domain',
        trustDomain,
        '--trust-bundle',
        bundlePath,
        '--data-dir',
        join(agentDir, 'data'),
        '--socket-path',
        agentSocket,
        '--sync-interval',
        '1s',
        '--metrics-address',
        '127.0.0.1:0',
      ],
      ready: (e) => {
        if (typeof e.metrics_port === 'number') agentMetrics = `http://127.0.0.1:${e.metrics_port}`
        return e.msg === 'agent synced with the server'
      },
      // never on the command line, which every local user can read: the agent refuses it there
      env: { SIGIL_JOIN_TOKEN: token },
    })
    children.push(agent.child)
    watchExit('sigil-agent', agent.child, true)
    printBanner({
      root,
      pg,
      database,
      servers: [a, b],
      agentSocket,
      agentMetrics,
      agentServers,
      joined: canJoin,
    })
  } catch (e) {
    say(`npm run start:ha failed: ${(e as Error).message}`)
    await shutdown(1)
  }
}

await main()
