/**
 * One demo component (or rogue) as its own OS process: the same `node` binary as the
 * orchestrator, the same user, its compiled entry script as the first argument (what the
 * agent's `proc:script` selector sees), SPIFFE_ENDPOINT_SOCKET pointing at the agent. Its
 * stdout carries event lines (demo-event.ts), handed to `onEvent`; stderr is kept for the
 * failure report. Its stdin stays open: the component stops when it closes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { type DemoEvent, parseDemoEvent } from './demo-event.js'

/** A running component process. */
export interface ComponentProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves the first event from now on that `match` accepts; rejects on exit or timeout. */
  waitFor(match: (e: DemoEvent) => boolean, what: string, timeoutMs?: number): Promise<DemoEvent>
  /** Resolves the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>
  /** The last lines the process wrote on stderr. */
  stderrTail(): string
  /** Sends one command (a JSON line on its stdin; secrets go this way, never in argv). */
  send(command: Readonly<Record<string, unknown>>): void
}

/**
 * Spawns `node <script>` with `env` added to the orchestrator's environment.
 *
 * @example
 * const planner = spawnComponent('planner', '/abs/dist/scripts/demo/planner.js', env, onEvent)
 */
export function spawnComponent(
  name: string,
  script: string,
  env: Readonly<Record<string, string>>,
  onEvent: (e: DemoEvent) => void,
): ComponentProcess {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group: a terminal's Ctrl-C reaches the orchestrator only, which
    // then stops everything in order.
    detached: true,
  })
  const waiters = new Set<(e: DemoEvent | undefined) => void>()
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4_000)
  })
  let buffered = ''
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString()
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const event = parseDemoEvent(buffered.slice(0, nl))
      buffered = buffered.slice(nl + 1)
      if (event === undefined) continue
      onEvent(event)
      for (const w of waiters) w(event)
    }
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      for (const w of waiters) w(undefined)
      resolve(code)
    })
  })
  return {
    name,
    child,
    exited,
    stderrTail: () => stderr.trim().split('\n').slice(-5).join('\n'),
    send: (command) => {
      child.stdin?.write(`${JSON.stringify(command)}\n`)
    },
    waitFor: (match, what, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        const check = (e: DemoEvent | undefined): void => {
          if (e === undefined) {
            done()
            reject(new Error(`${name} exited before: ${what}${stderr ? `\n${stderr.trim()}` : ''}`))
          } else if (match(e)) {
            done()
            resolve(e)
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${name}: no "${what}" within ${timeoutMs} ms`))
        }, timeoutMs)
        if (child.exitCode !== null || child.signalCode !== null) check(undefined)
        else waiters.add(check)
      }),
  }
}
