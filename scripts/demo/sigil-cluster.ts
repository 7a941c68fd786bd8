/**
 * The demo's Sigil: one `sigil-server` (embedded SQLite, agent API on a free port) and one
 * `sigil-agent` joined with a fresh join token, both on a temp dir and driven through the
 * same CLIs a user runs (as `npm start` does). Their JSON logs go to files in that dir.
 *
 * Trust: the agent authenticates the server with the bundle printed by `bundle show`; the
 * join token is single-use and never printed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const distRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SERVER_BIN = join(distRoot, 'server/cli/main.js')
const AGENT_BIN = join(distRoot, 'agent/cli/main.js')
const READY_TIMEOUT_MS = 60_000

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

/** Runs `sigil-server <args>` to completion; resolves stdout, rejects with stderr. */
function serverCli(args: readonly string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', fail)
    child.on('close', (code) =>
      code === 0 ? ok(stdout) : fail(new Error(`sigil-server ${args[0]} ${args[1]}: ${stderr.trim()}`)),
    )
  })
}

/** Starts a daemon (own process group, logs to `logFile`), resolves its first log line that `ready` accepts. */
function daemon(
  args: readonly string[],
  logFile: string,
  ready: (line: Record<string, unknown>) => boolean,
  track: (child: ChildProcess) => void,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...env },
  })
  track(child)
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  return new Promise((ok, fail) => {
    let buffered = ''
    const timer = setTimeout(
      () => fail(new Error(`not ready in ${READY_TIMEOUT_MS} ms; see ${logFile}`)),
      READY_TIMEOUT_MS,
    )
    child.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`exited with ${code} before it was ready; see ${logFile}`))
    })
    const onData = (d: Buffer): void => {
      buffered += d.toString()
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const text = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text) as Record<string, unknown>
        } catch {
          continue
        }
        if (ready(line)) {
          clearTimeout(timer)
          child.removeAllListeners('exit')
          child.stdout?.off('data', onData)
          ok({ child, line })
          return
        }
      }
    }
    child.stdout?.on('data', onData)
  })
}

/** SIGTERM, then SIGKILL after 10 s; resolves on exit. */
export function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((ok) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(force)
      ok()
    })
    child.kill('SIGTERM')
  })
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
  const { child: server, line: ready } = await daemon(
    [SERVER_BIN, 'run', '--data-dir', join(dir, 'server'), ...admin, '--trust-domain', trustDomain].concat([
      '--agent-api-address',
      '127.0.0.1:0',
      '--bundle-endpoint-address',
      'off',
    ]),
    join(dir, 'server.log'),
    (l) => l.msg === 'sigil-server started',
    track,
  ).catch((err: Error) => {
    throw new Error(`sigil-server: ${err.message}`)
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
  const { child: agent } = await daemon(
    agentArgs,
    join(dir, 'agent.log'),
    (l) => l.msg === 'agent synced with the server',
    track,
    // the join token goes through the environment: a command line is readable by every local user
    { SIGIL_JOIN_TOKEN: token },
  ).catch((err: Error) => {
    throw new Error(`sigil-agent: ${err.message}`)
  })
  return {
    agentId,
    socketPath,
    server,
    agent,
    cli: (args) => serverCli([...args, ...admin]),
    stop: async () => {
      await stopChild(agent)
      await stopChild(server)
    },
  }
}
