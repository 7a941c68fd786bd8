// Starts a workload script (written 0644 into a test dir) that talks JSON lines on stdin/stdout:
// one request { id, op, ... } per line in, one answer { id, ok, ... } per line out, after a first
// { ready: true } line. Shared by the task and WIT workloads.
import { spawn } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { JsonLines } from './agent-process.js'
import { ROOT } from './server-process.js'

/** One answer of a script workload. */
export interface ScriptAnswer {
  readonly ok: boolean
  readonly code?: string | number
  readonly message?: string
  readonly [k: string]: unknown
}

/** A running script workload. */
export interface ScriptWorkload {
  readonly pid: number
  /** The script's path (for `proc:script` selectors). */
  readonly script: string
  request(op: string, args?: Record<string, unknown>): Promise<ScriptAnswer>
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>
}

/**
 * Writes `source` to `dir/name` (0644) and runs it with node as `node script ROOT socketPath`
 * (as `uid`/`gid` when given, without tap's NODE_OPTIONS); killed at teardown.
 */
export async function startScriptWorkload(
  t: { teardown(fn: () => unknown): void },
  opts: { dir: string; name: string; source: string; socketPath: string; uid?: number; gid?: number },
): Promise<ScriptWorkload> {
  const script = join(opts.dir, opts.name)
  writeFileSync(script, opts.source, { mode: 0o644 })
  chmodSync(script, 0o644)
  const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }
  // env -u NODE_OPTIONS: tap's preloaded hooks would otherwise run inside the workload.
  const child = spawn(
    '/usr/bin/env',
    ['-u', 'NODE_OPTIONS', process.execPath, script, ROOT, opts.socketPath],
    {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'inherit'],
      ...ids,
    },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const output = new JsonLines(child.stdout)
  await output.waitFor((l) => l.ready === true, `${opts.name} to start`)
  let n = 0
  return {
    pid: child.pid ?? -1,
    script,
    async request(op, args = {}) {
      const id = ++n
      child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`)
      return (await output.waitFor((l) => l.id === id, `answer to ${op}`)) as unknown as ScriptAnswer
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
