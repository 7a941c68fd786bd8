/**
 * The real Sigil binaries for the benchmarks: `sigil-server run` and `sigil-agent run` from
 * dist/ as child processes of a {@link BenchScope}, on temp dirs and free ports, driven as an
 * operator would (the server CLI for the join token and bundle; the admin API on the server's
 * Unix socket for bulk entry creation). For diagnosis: SIGIL_BENCH_CPU_PROF=<dir> runs both
 * daemons under `node --cpu-prof` (profiles written there when they stop), SIGIL_BENCH_LOG_DIR=<dir>
 * keeps their JSON logs, SIGIL_BENCH_DEBUG_LOGS=1 makes them log at debug level.
 */
import type { ChildProcess } from 'node:child_process'
import { execFile } from 'node:child_process'
import { createWriteStream, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { credentials, type ServiceError } from '@grpc/grpc-js'
import { type AdminAPIClient, loadAdminApi } from '../../proto/loader.js'
import type { BenchScope } from './bench-scope.js'
import { waitForJsonLine as waitForLog } from './json-lines.js'

const ROOT = resolve(import.meta.dirname, '../../..')
const SERVER_BIN = join(ROOT, 'dist/server/cli/main.js')
const AGENT_BIN = join(ROOT, 'dist/agent/cli/main.js')
/** The agent's SPIFFE ID (join tokens are made for it; workload entries hang under it). */
export const AGENT_ID = 'spiffe://example.org/bench-node'

function nodeArgs(name: string): string[] {
  const dir = process.env.SIGIL_BENCH_CPU_PROF
  // A second daemon of the same name (cold-start's second agent) gets a file of its own.
  const file = `${name}-${Date.now()}.cpuprofile`
  return dir ? ['--cpu-prof', '--cpu-prof-dir', resolve(dir), '--cpu-prof-name', file] : []
}

/**
 * Keeps draining a child's output so a chatty daemon never blocks on a full pipe; with
 * SIGIL_BENCH_LOG_DIR set, its stdout (JSON logs) is appended to `<dir>/<name>.log`.
 */
function drain(child: ChildProcess, name: string): void {
  const dir = process.env.SIGIL_BENCH_LOG_DIR
  if (dir) child.stdout?.pipe(createWriteStream(join(resolve(dir), `${name}.log`), { flags: 'a' }))
  else child.stdout?.resume()
  child.stderr?.resume()
}

/** `--log-level debug` when SIGIL_BENCH_DEBUG_LOGS=1 (timelines; slows the daemons down). */
function logLevel(): string[] {
  return process.env.SIGIL_BENCH_DEBUG_LOGS === '1' ? ['--log-level', 'debug'] : []
}

/** A running `sigil-server run`. */
export interface BenchServer {
  readonly child: ChildProcess
  readonly pid: number
  readonly agentApiAddress: string
  readonly adminSocket: string
  /** The trust bundle as PEM (`bundle show --format pem`), also written to `bundlePath`. */
  readonly bundlePem: string
  readonly bundlePath: string
  /** Runs `sigil-server <args> --admin-socket <socket>`; resolves stdout, rejects on failure. */
  cli(...args: string[]): Promise<string>
  /** A new single-use join token for `agentId` (default {@link AGENT_ID}). */
  joinToken(agentId?: string): Promise<string>
  /** Registers entries through the admin API (`concurrency` calls at a time); resolves their IDs. */
  createEntries(entries: readonly EntrySpec[], concurrency?: number): Promise<string[]>
}

/** A workload entry under {@link AGENT_ID}. */
export interface EntrySpec {
  readonly spiffeId: string
  /** `type:value` strings, e.g. `unix:uid:0`. */
  readonly selectors: readonly string[]
  /** X509-SVID lifetime in seconds; 0 = the server default. */
  readonly x509SvidTtl?: number
  /** The parent (an agent's SPIFFE ID); default {@link AGENT_ID}. */
  readonly parentId?: string
  /** Audiences tasks of this entry may call (`--task-scope`); none by default. */
  readonly taskScopes?: readonly string[]
}

/** Starts the server (CA, datastore, agent API) in `dir`; stopped when the scope closes. */
export async function startBenchServer(
  scope: BenchScope,
  dir: string,
  extraArgs: readonly string[] = [],
): Promise<BenchServer> {
  const dataDir = join(dir, 'server')
  const args = [...nodeArgs('server'), SERVER_BIN, 'run', '--data-dir', dataDir]
  args.push(
    '--agent-api-address',
    '127.0.0.1:0',
    '--bundle-endpoint-address',
    'off',
    ...logLevel(),
    ...extraArgs,
  )
  const child = scope.spawn(process.execPath, args, { cwd: ROOT })
  const started = await waitForLog(child, (l) => l.msg === 'sigil-server started', 'sigil-server')
  drain(child, 'server')
  const adminSocket = join(dataDir, 'private', 'admin.sock')
  const cli = (...a: string[]) =>
    new Promise<string>((ok, fail) =>
      execFile(
        process.execPath,
        [SERVER_BIN, ...a, '--admin-socket', adminSocket],
        { cwd: ROOT, encoding: 'utf8' },
        (err, stdout, stderr) =>
          err ? fail(new Error(`sigil-server ${a.join(' ')}: ${stderr || err.message}`)) : ok(stdout),
      ),
    )
  const bundlePem = await cli('bundle', 'show', '--format', 'pem')
  const bundlePath = join(dir, 'bundle.pem')
  writeFileSync(bundlePath, bundlePem)
  const admin = new (loadAdminApi().Client)(`unix:${adminSocket}`, credentials.createInsecure())
  scope.defer(() => admin.close())
  return {
    child,
    pid: child.pid as number,
    agentApiAddress: String(started.agent_api),
    adminSocket,
    bundlePem,
    bundlePath,
    cli,
    joinToken: async (agentId = AGENT_ID) => (await cli('token', 'generate', '--spiffe-id', agentId)).trim(),
    createEntries: (entries, concurrency = 16) => createEntries(admin, entries, concurrency),
  }
}

async function createEntries(
  admin: AdminAPIClient,
  entries: readonly EntrySpec[],
  concurrency: number,
): Promise<string[]> {
  const ids = new Array<string>(entries.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const e = entries[i] as EntrySpec
      const entry = {
        spiffe_id: e.spiffeId,
        parent_id: e.parentId ?? AGENT_ID,
        selectors: e.selectors.map((s) => {
          const at = s.indexOf(':')
          return { type: s.slice(0, at), value: s.slice(at + 1) }
        }),
        x509_svid_ttl: e.x509SvidTtl ?? 0,
        task_scopes: [...(e.taskScopes ?? [])],
      }
      ids[i] = await new Promise<string>((ok, fail) =>
        admin.CreateEntry({ entry }, (err: ServiceError | null, res) =>
          err || !res?.entry ? fail(err ?? new Error('CreateEntry: no entry')) : ok(res.entry.id),
        ),
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker))
  return ids
}

/** A running `sigil-agent run`. */
export interface BenchAgent {
  readonly child: ChildProcess
  readonly pid: number
  readonly socketPath: string
  /** Stops the agent (SIGTERM) and resolves once it exited. */
  stop(): Promise<void>
}

/**
 * Starts an agent joined to `server` with a fresh token; resolves once it has synced. It syncs
 * entries every `syncInterval` (default 1s, so new entries arrive quickly).
 */
export async function startBenchAgent(
  scope: BenchScope,
  dir: string,
  server: BenchServer,
  opts: { syncInterval?: string; extraArgs?: readonly string[]; agentId?: string } = {},
): Promise<BenchAgent> {
  const socketPath = join(dir, 'api', 'agent.sock')
  const args = [...nodeArgs('agent'), AGENT_BIN, 'run', '--server-address', server.agentApiAddress]
  args.push('--trust-bundle', server.bundlePath)
  args.push('--socket-path', socketPath, '--data-dir', join(dir, 'agent'))
  args.push('--sync-interval', opts.syncInterval ?? '1s')
  args.push(...logLevel(), ...(opts.extraArgs ?? []))
  // the join token goes through the environment: a command line is readable by every local user
  const env = { ...process.env, SIGIL_JOIN_TOKEN: await server.joinToken(opts.agentId) }
  const child = scope.spawn(process.execPath, args, { cwd: ROOT, env })
  await waitForLog(child, (l) => l.msg === 'agent synced with the server', 'sigil-agent')
  drain(child, 'agent')
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  return { child, pid: child.pid as number, socketPath, stop }
}
