/**
 * What one benchmark run owns: temp dirs and child processes. `close()` stops the children
 * (SIGTERM, then SIGKILL after a grace period) and removes the dirs; it also runs, synchronously
 * and with SIGKILL, when the bench process exits or is interrupted, so a failed or aborted run
 * leaves no server, agent or client behind.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** SIGTERM → SIGKILL grace; long when daemons run under --cpu-prof (writing a profile takes time). */
const STOP_GRACE_MS = process.env.SIGIL_BENCH_CPU_PROF ? 120_000 : 5_000

/**
 * The cleanup owner of one benchmark.
 *
 * @example
 * await BenchScope.run(async (scope) => {
 *   const dir = scope.tempDir()
 *   const child = scope.spawn(process.execPath, ['server.js'])
 * })
 */
export class BenchScope {
  readonly #dirs: string[] = []
  readonly #children = new Set<ChildProcess>()
  readonly #deferred: (() => unknown)[] = []
  readonly #onExit = () => this.#killNow()
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#killNow()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }

  constructor() {
    process.on('exit', this.#onExit)
    process.on('SIGINT', this.#onSignal)
    process.on('SIGTERM', this.#onSignal)
  }

  /** Runs `fn` with a new scope and closes the scope afterwards, also when `fn` throws. */
  static async run<T>(fn: (scope: BenchScope) => Promise<T>): Promise<T> {
    const scope = new BenchScope()
    try {
      return await fn(scope)
    } finally {
      await scope.close()
    }
  }

  /** A new short temp dir (Unix socket paths stay under 108 bytes), mode 0755, removed at close. */
  tempDir(prefix = 'sigil-bench-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    chmodSync(dir, 0o755)
    this.#dirs.push(dir)
    return dir
  }

  /** Spawns a child that is stopped at close (unless it exited before). */
  spawn(command: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    this.#children.add(child)
    child.once('exit', () => this.#children.delete(child))
    child.once('error', () => this.#children.delete(child))
    return child
  }

  /** Runs `fn` at close, before the children are stopped (latest deferred first). */
  defer(fn: () => unknown): void {
    this.#deferred.push(fn)
  }

  /** Stops one child: SIGTERM, SIGKILL after the grace period; resolves its exit code. */
  async stop(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      this.#children.delete(child)
      return child.exitCode
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    const code = await exited
    clearTimeout(timer)
    this.#children.delete(child)
    return code
  }

  /** Stops every child (latest first) and removes every temp dir. */
  async close(): Promise<void> {
    for (const fn of this.#deferred.splice(0).reverse()) {
      try {
        await fn()
      } catch {
        // cleanup goes on
      }
    }
    const children = [...this.#children].reverse()
    await Promise.all(children.map((c) => this.stop(c)))
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
    process.off('exit', this.#onExit)
    process.off('SIGINT', this.#onSignal)
    process.off('SIGTERM', this.#onSignal)
  }

  #killNow(): void {
    for (const child of this.#children) child.kill('SIGKILL')
    this.#children.clear()
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  }
}
