/**
 * `sigil-agent healthcheck`: healthy (exit 0) when the agent answers on its Workload API socket
 * at all — any gRPC answer counts, PERMISSION_DENIED or INVALID_ARGUMENT included, since those
 * come from a running agent; exit 1 when nothing answers (no socket, refused, timeout). It sends
 * a deliberately empty ValidateJWTSVID, which the agent rejects without minting anything.
 */
import { status as Status } from '@grpc/grpc-js'
import { apiOptions, commonApiSettings, parseOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { type CliIo, EXIT_OK } from '../run-cli.js'
import { WorkloadApiError, WorkloadClient } from '../workload-client.js'

/** This command's option table. */
export function healthcheckOptions() {
  return apiOptions(
    'sigil-agent healthcheck [options]',
    'Checks that the agent answers on its Workload API socket.',
  )
}

/** Runs the command. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const table = healthcheckOptions()
  const { values } = parseOptions(() => table.parse(args))
  if (values.help) {
    io.stdout.write(`${table.usage()}\n`)
    return EXIT_OK
  }
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  try {
    let answer = 'OK'
    try {
      await client.validateJwt('', '')
    } catch (err) {
      const dead =
        !(err instanceof WorkloadApiError) ||
        err.status === undefined ||
        err.status === Status.UNAVAILABLE ||
        err.status === Status.DEADLINE_EXCEEDED
      if (dead) return reportFailure(io, 'healthcheck', err, settings.socketPath)
      answer = err.statusName
    }
    if (settings.json) {
      io.stdout.write(`${JSON.stringify({ healthy: true, socket_path: settings.socketPath, answer })}\n`)
    } else {
      io.stdout.write(`Agent is healthy (${settings.socketPath} answered ${answer}).\n`)
    }
    return EXIT_OK
  } finally {
    client.close()
  }
}
