/**
 * The workload processes of the scale benchmark (scale-client.ts), each spawned under its own
 * uid (the bench runs as root), talked to over stdin ("go", "report") and heard on stdout (JSON
 * lines). They are children of the {@link BenchScope}, so they die with it.
 */
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { BenchScope } from './bench-scope.js'
import { type LogLine, onJsonLines } from './json-lines.js'
import { processCpuSeconds } from './proc-stats.js'

/** What one client counted (scale-client.ts `report`). */
export interface ClientReport {
  readonly messages: number
  /** Distinct SVIDs received. */
  readonly received: number
  readonly lateOnArrival: number
  readonly staleHeld: number
  /** Identities that disappeared from a later message (dropped instead of rotated). */
  readonly withdrawn: number
  readonly errors: number
  readonly lastError: string
  /** SVIDs held now (the newest per SPIFFE ID). */
  readonly held: number
  /** Most SVIDs carried by one message. */
  readonly maxInMessage: number
}

interface Client {
  readonly child: ChildProcess
  readonly lines: LogLine[]
  waiters: (() => boolean)[]
}

/** The set of scale clients. */
export class ScaleClients {
  readonly #clients: Client[]

  private constructor(clients: Client[]) {
    this.#clients = clients
  }

  /** Spawns `n` clients under uids `uidBase`..`uidBase + n - 1`; resolves once all are ready. */
  static async start(
    scope: BenchScope,
    opts: { n: number; uidBase: number; socketPath: string; expected: number; readyTimeoutMs: number },
  ): Promise<ScaleClients> {
    const script = join(import.meta.dirname, 'scale-client.js')
    const clients: Client[] = []
    for (let i = 0; i < opts.n; i++) {
      const uid = opts.uidBase + i
      const child = scope.spawn(process.execPath, [script, opts.socketPath, String(opts.expected)], {
        uid,
        gid: uid,
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['pipe', 'pipe', 'inherit'],
      })
      const c: Client = { child, lines: [], waiters: [] }
      onJsonLines(child, (line) => {
        c.lines.push(line)
        c.waiters = c.waiters.filter((w) => !w())
      })
      clients.push(c)
    }
    const set = new ScaleClients(clients)
    await Promise.all(
      clients.map((c) => set.#next(c, 0, (l) => l.ready === true, 'ready', opts.readyTimeoutMs)),
    )
    return set
  }

  /** Tells every client to open its stream. */
  go(): void {
    for (const c of this.#clients) c.child.stdin?.write('go\n')
  }

  /**
   * Waits up to `timeoutMs` for every client to get a message with all its SVIDs; resolves how
   * many did and when the last of them did (epoch ms).
   */
  async awaitComplete(timeoutMs: number): Promise<{ completed: number; lastAt: number | undefined }> {
    const settled = await Promise.allSettled(
      this.#clients.map((c) => this.#next(c, 0, (l) => l.complete === true, 'all SVIDs', timeoutMs)),
    )
    const ats = settled.flatMap((s) => (s.status === 'fulfilled' ? [Number(s.value.at)] : []))
    return { completed: ats.length, lastAt: ats.length > 0 ? Math.max(...ats) : undefined }
  }

  /** Asks every client for its counts. */
  async reports(): Promise<ClientReport[]> {
    return Promise.all(
      this.#clients.map(async (c) => {
        const from = c.lines.length
        c.child.stdin?.write('report\n')
        const line = await this.#next(c, from, (l) => 'report' in l, 'report', 30_000)
        return line.report as ClientReport
      }),
    )
  }

  /** CPU seconds all clients have used so far (0 for a client that is gone). */
  cpuSeconds(): number {
    let total = 0
    for (const c of this.#clients) {
      try {
        total += c.child.pid === undefined ? 0 : processCpuSeconds(c.child.pid)
      } catch {
        // exited
      }
    }
    return total
  }

  /** Closes every client's stdin (they exit). */
  close(): void {
    for (const c of this.#clients) c.child.stdin?.end()
  }

  /** The first line at index >= `from` that matches. */
  #next(
    c: Client,
    from: number,
    match: (l: LogLine) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        finish(new Error(`scale client exited (${code}) before: ${what}`))
      const timer = setTimeout(
        () => finish(new Error(`scale client: timed out waiting for ${what}`)),
        timeoutMs,
      )
      const finish = (err: Error | undefined, line?: LogLine) => {
        clearTimeout(timer)
        c.child.off('exit', onExit)
        c.waiters = c.waiters.filter((w) => w !== check)
        if (err) reject(err)
        else resolve(line as LogLine)
      }
      const check = (): boolean => {
        for (let i = from; i < c.lines.length; i++) {
          const line = c.lines[i] as LogLine
          if (match(line)) {
            finish(undefined, line)
            return true
          }
        }
        return false
      }
      c.child.once('exit', onExit)
      if (!check()) c.waiters.push(check)
    })
  }
}
