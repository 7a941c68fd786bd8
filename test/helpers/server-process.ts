/**
 * Runs the real `sigil-server` binary (compiled, from dist/) as a child process on temp
 * dirs with free ports, and its CLI as separate processes — what an operator does.
 * `npm test` builds dist/ before tap runs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findPackageRoot } from '../../agent/peercred/native-addon.js'

/** The repository: tests run compiled from dist/test/ (npm test) or as .ts from test/ alike. */
export const ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)))
export const SERVER_BIN = join(ROOT, 'dist/server/cli/main.js')
export const AGENT_BIN = join(ROOT, 'dist/agent/cli/main.js')

/**
 * How tests start node (daemons, CLIs, workloads): `env -u NODE_OPTIONS node …`
 * (`spawn(NODE_COMMAND, nodeArgs(script, ...args))`). tap preloads its
 * process-info hook into every child through NODE_OPTIONS, and adds it back on each spawn even
 * when the environment given leaves it out; only `env -u` drops it. Uninstrumented, a node
 * process starts with ≈ 0.12 s less CPU (for coverage the suite does not collect), code preloaded
 * through NODE_OPTIONS does not make the agent withhold proc:script, and no exit hook tries to
 * write tap's root-owned files as another uid. `env` execs node in place: the PID and /proc
 * entry are node's.
 */
export const NODE_COMMAND = '/usr/bin/env'

/** The arguments of {@link NODE_COMMAND} that run `node <args>` uninstrumented. */
export function nodeArgs(...args: string[]): string[] {
  return ['-u', 'NODE_OPTIONS', process.execPath, ...args]
}

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a compiled CLI to completion (as `uid`/`gid` when given). */
export function runBin(
  bin: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): Promise<CliRun> {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run 'npm run build' first`)
  return new Promise((resolvePromise, reject) => {
    const child = spawn(NODE_COMMAND, nodeArgs(bin, ...args), {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }))
  })
}

/**
 * Runs a compiled CLI that is expected to exit; SIGKILLs it after `ms` (then `timedOut` is true),
 * so a daemon that wrongly starts does not hang the test.
 */
export function runBinWithin(
  bin: string,
  args: string[],
  ms: number,
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun & { timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(NODE_COMMAND, nodeArgs(bin, ...args), {
      env: opts.env ?? process.env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, ms)
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr, timedOut })
    })
  })
}

export interface ServerProcess {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly adminSocket: string
  readonly agentApiAddress: string
  readonly bundleEndpointUrl: string
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[]
  /** Runs `sigil-server <args> --admin-socket <this server's socket>`. */
  cli(...args: string[]): Promise<CliRun>
  /** SIGTERM and wait; resolves the exit code. */
  stop(): Promise<number | null>
}

/** Starts `sigil-server run` and resolves once it logs "sigil-server started". */
export function startServerProcess(
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const adminSocket = join(dataDir, 'private', 'admin.sock')
  const child = spawn(
    NODE_COMMAND,
    nodeArgs(
      SERVER_BIN,
      'run',
      '--data-dir',
      dataDir,
      '--agent-api-address',
      '127.0.0.1:0',
      '--bundle-endpoint-address',
      '127.0.0.1:0',
      ...extraArgs,
    ),
    { env: { ...process.env, ...env }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return new Promise((resolvePromise, reject) => {
    let buffered = ''
    const timer = setTimeout(
      () => reject(new Error(`server did not start in time; stderr: ${stderr}`)),
      30_000,
    )
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before starting; stderr: ${stderr}`))
    })
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString()
      let nl = buffered.indexOf('\n')
      while (nl !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
        let entry: Record<string, unknown>
        try {
          entry = JSON.parse(line) as Record<string, unknown>
        } catch {
          continue
        }
        logs.push(entry)
        if (entry.msg === 'sigil-server started') {
          clearTimeout(timer)
          resolvePromise({
            child,
            dataDir,
            adminSocket,
            agentApiAddress: String(entry.agent_api),
            bundleEndpointUrl: String(entry.bundle_endpoint),
            logs,
            cli: (...args) => runBin(SERVER_BIN, [...args, '--admin-socket', adminSocket]),
            stop: async () => {
              if (child.exitCode === null) child.kill('SIGTERM')
              return exited
            },
          })
        }
      }
    })
  })
}

/** A short temp dir (Unix socket paths must stay under 108 bytes), removed after the test. */
export function shortTempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
