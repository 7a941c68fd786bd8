/** Waiting for a JSON line (a daemon's structured log, a child script's report) on a child's stdout. */
import type { ChildProcess } from 'node:child_process'
import type { Readable } from 'node:stream'

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown>

/**
 * Resolves the first JSON line on the child's stdout that `match` accepts; rejects on timeout
 * or when the child exits first (with the tail of its stderr).
 *
 * @example
 * await waitForJsonLine(child, (l) => l.msg === 'sigil-server started', 'server')
 */
export function waitForJsonLine(
  child: ChildProcess,
  match: (line: LogLine) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<LogLine> {
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  return new Promise((resolvePromise, reject) => {
    let buffered = ''
    const stdout = child.stdout as Readable
    const done = (err: Error | undefined, line?: LogLine) => {
      clearTimeout(timer)
      stdout.off('data', onData)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolvePromise(line as LogLine)
    }
    const onData = (d: Buffer) => {
      buffered += d.toString()
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const text = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          const line = JSON.parse(text) as LogLine
          if (match(line)) return done(undefined, line)
        } catch {
          // not a JSON line
        }
      }
    }
    const onExit = (code: number | null) => done(new Error(`${what}: exited with ${code}; stderr: ${stderr}`))
    const timer = setTimeout(() => done(new Error(`${what}: timed out; stderr: ${stderr}`)), timeoutMs)
    stdout.on('data', onData)
    child.once('exit', onExit)
  })
}

/** Calls `fn` with every JSON line the child writes on stdout (other lines are skipped). */
export function onJsonLines(child: ChildProcess, fn: (line: LogLine) => void): void {
  let buffered = ''
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString()
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const text = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      let line: LogLine
      try {
        line = JSON.parse(text) as LogLine
      } catch {
        continue
      }
      fn(line)
    }
  })
}
