/**
 * The Sigil CLIs as child processes, for the one-command launchers (`npm start`,
 * `npm run start:ha`): run a CLI to completion, start a daemon and wait for its ready log line,
 * stop it (SIGTERM, then SIGKILL after a grace period). Daemons log JSON lines to a file the
 * caller names. Trust: none beyond running our own binaries from dist/.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** dist/ (this file is dist/scripts/lib/daemons.js). */
export const DIST_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const SERVER_BIN = join(DIST_ROOT, 'server/cli/main.js')
export const AGENT_BIN = join(DIST_ROOT, 'agent/cli/main.js')
/** The package root: where scripts/bin/sigil-server and scripts/bin/sigil-agent are. */
export const PACKAGE_ROOT = resolve(DIST_ROOT, '..')

/** Runs a sigil CLI (`bin`, a dist/ entry) to completion; resolves its exit code and output. */
export function cli(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', fail)
    child.on('close', (code) => ok({ code: code ?? 1, stdout, stderr }))
  })
}

/** {@link cli}, rejecting with its stderr's reason when it fails; resolves stdout. */
export async function mustCli(bin: string, args: string[]): Promise<string> {
  const r = await cli(bin, args)
  if (r.code !== 0) throw new Error(r.stderr.trim() || `${args.join(' ')} exited ${r.code}`)
  return r.stdout
}

/** What {@link daemon} starts. */
export interface DaemonSpec {
  /** For messages ("sigil-server A"). */
  readonly name: string
  /** Node arguments: the bin and its own arguments. */
  readonly args: string[]
  /** Where its stdout (JSON lines) and stderr are appended. */
  readonly logFile: string
  /** True for the log line that says it is ready. */
  readonly ready: (entry: Record<string, unknown>) => boolean
  /** Extra environment (secrets go here, never on the command line). */
  readonly env?: Record<string, string>
  /** Default 60 s. */
  readonly timeoutMs?: number
  /** Its own process group (a terminal's Ctrl-C then reaches only the launcher, which stops it in order). */
  readonly detached?: boolean
  /** Told of the child as soon as it is spawned (so the caller can stop it whatever happens next). */
  readonly onSpawn?: (child: ChildProcess) => void
}

/**
 * Starts a daemon, logs its output to `logFile`, resolves the first log line `ready` accepts;
 * rejects when it exits first or is not ready in time.
 *
 * @example
 * const { child } = await daemon({ name: 'server', args: [SERVER_BIN, 'run'], logFile, ready: (e) => e.msg === 'sigil-server started' })
 */
export function daemon(spec: DaemonSpec): Promise<{ child: ChildProcess; entry: Record<string, unknown> }> {
  const log = createWriteStream(spec.logFile, { flags: 'a' })
  const child = spawn(process.execPath, spec.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(spec.env ?? {}) },
    ...(spec.detached ? { detached: true } : {}),
  })
  spec.onSpawn?.(child)
  child.stdout?.pipe(log)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
    log.write(d)
  })
  const timeoutMs = spec.timeoutMs ?? 60_000
  return new Promise((ok, fail) => {
    let buffered = ''
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      fail(new Error(`${spec.name} did not become ready in ${timeoutMs / 1000}s; see ${spec.logFile}`))
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`${spec.name} exited with ${code}: ${stderr.trim().split('\n').pop() ?? ''}`))
    })
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString()
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          if (spec.ready(entry)) {
            clearTimeout(timer)
            child.removeAllListeners('exit')
            ok({ child, entry })
          }
        } catch {
          // not a log line
        }
      }
    })
  })
}

/** Stops a child: SIGTERM, SIGKILL after 10 s; resolves once it has exited. */
export function stop(child: ChildProcess | undefined): Promise<void> {
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
