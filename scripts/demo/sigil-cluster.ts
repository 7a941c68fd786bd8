/**
 * The demo's Sigil: one `sigil-server` (embedded SQLite, agent API on a free port) and one
 * `sigil-agent` joined with a fresh join token, both on a temp dir and driven through the
 * same CLIs a user runs (as `npm start` does). Their JSON logs go to files in that dir.
 *
 * Trust: the agent authenticates the server with the bundle printed by `bundle show`; the
 * join token is single-use and never printed.
 */
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AGENT_BIN, daemon, mustCli, SERVER_BIN, stop } from '../lib/daemons.js'

/** Runs `sigil-server <args>` to completion; resolves stdout, rejects with its stderr. */
const serverCli = (args: readonly string[]): Promise<string> => mustCli(SERVER_BIN, [...args])

/** One registration entry to create. */
export interface DemoEntry {
  readonly spiffeId: string
  readonly selectors: readonly string[]
  readonly x509SvidTtl: string
  readonly jwtSvidTtl: string
  /** Audiences its tasks may call (`--task-scope`); none: it may not begin tasks. */
  readonly taskScopes?: readonly string[]
  /** Longest task it may begin (`--max-task-ttl`). */
  readonly maxTaskTtl?: string
  /** Operator metadata policies read (`--owner`, `--risk`). */
  readonly owner?: string
  readonly risk?: 'low' | 'medium' | 'high'
}

/** A running server + agent. */
export interface SigilCluster {
  readonly agentId: string
  readonly socketPath: string
  readonly server: ChildProcess
  readonly agent: ChildProcess
  /** Runs `sigil-server <args>` on the admin socket (the operator); resolves its stdout. */
  cli(args: readonly string[]): Promise<string>
  /** SIGTERM the agent, then the server; resolves when both are gone. */
  stop(): Promise<void>
}

/**
 * Starts the server, registers `entries` under the agent's ID, then starts the agent (1 s
 * sync) so its first sync already carries them. `track` gets every daemon as it starts, so
 * the caller can kill it whatever happens next.
 *
 * @example
 * const cluster = await startSigilCluster(dir, 'example.org', entries, (child) => children.add(child))
 */
export async function startSigilCluster(
  dir: string,
  trustDomain: string,
  entries: readonly DemoEntry[],
  track: (child: ChildProcess) => void,
): Promise<SigilCluster> {
  const adminSocket = join(dir, 'server', 'private', 'admin.sock')
  const admin = ['--admin-socket', adminSocket]
  const { child: server, entry: ready } = await daemon({
    name: 'sigil-server',
    args: [
      SERVER_BIN,
      'run',
      '--data-dir',
      join(dir, 'server'),
      ...admin,
      '--trust-domain',
      trustDomain,
    ].concat(['--agent-api-address', '127.0.0.1:0', '--bundle-endpoint-address', 'off']),
    logFile: join(dir, 'server.log'),
    ready: (l) => l.msg === 'sigil-server started',
    detached: true,
    onSpawn: track,
  })
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, await serverCli(['bundle', 'show', '--format', 'pem', ...admin]))
  const agentId = `spiffe://${trustDomain}/demo/agent`
  const token = (await serverCli(['token', 'generate', '--spiffe-id', agentId, ...admin])).trim()
  for (const e of entries) {
    const args = ['entry', 'create', '--spiffe-id', e.spiffeId, '--parent-id', agentId, ...admin]
    args.push('--x509-svid-ttl', e.x509SvidTtl, '--jwt-svid-ttl', e.jwtSvidTtl)
    for (const s of e.selectors) args.push('--selector', s)
    for (const scope of e.taskScopes ?? []) args.push('--task-scope', scope)
    if (e.maxTaskTtl !== undefined) args.push('--max-task-ttl', e.maxTaskTtl)
    if (e.owner !== undefined) args.push('--owner', e.owner)
    if (e.risk !== undefined) args.push('--risk', e.risk)
    await serverCli(args)
  }
  const socketPath = join(dir, 'agent.sock')
  const agentArgs = [AGENT_BIN, 'run', '--server-address', String(ready.agent_api)]
  agentArgs.push('--trust-domain', trustDomain, '--trust-bundle', bundlePath)
  agentArgs.push('--data-dir', join(dir, 'agent'), '--socket-path', socketPath, '--sync-interval', '1s')
  const { child: agent } = await daemon({
    name: 'sigil-agent',
    args: agentArgs,
    logFile: join(dir, 'agent.log'),
    ready: (l) => l.msg === 'agent synced with the server',
    detached: true,
    onSpawn: track,
    // the join token goes through the environment: a command line is readable by every local user
    env: { SIGIL_JOIN_TOKEN: token },
  })
  return {
    agentId,
    socketPath,
    server,
    agent,
    cli: (args) => serverCli([...args, ...admin]),
    stop: async () => {
      await stop(agent)
      await stop(server)
    },
  }
}
