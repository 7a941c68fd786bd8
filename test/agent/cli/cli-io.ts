// Runs `sigil-agent` in-process with captured stdout and stderr.
import { Readable, Writable } from 'node:stream'
import { runCli } from '../../../agent/cli/run-cli.js'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

function capture() {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      cb()
    },
  })
  return { stream, text: () => chunks.join('') }
}

/** Runs one invocation and collects its output. */
export async function cli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; signal?: AbortSignal; stdin?: string } = {},
): Promise<CliResult> {
  const out = capture()
  const err = capture()
  const code = await runCli(args, {
    stdout: out.stream,
    stderr: err.stream,
    env: opts.env ?? {},
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.stdin !== undefined ? { stdin: Readable.from([opts.stdin]) } : {}),
  })
  return { code, stdout: out.text(), stderr: err.text() }
}
