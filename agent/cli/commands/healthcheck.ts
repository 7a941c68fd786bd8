/**
 * `sigil-agent healthcheck`: healthy (exit 0) only when the agent's Workload API gives the
 * answer a running agent gives to the probe — a ValidateJWTSVID with no audience, which the
 * agent refuses with INVALID_ARGUMENT "audience must be specified" before attesting the caller
 * or minting anything (agent/workloadapi/workload-api-handlers.ts). Any other answer (another
 * status, another reason, OK) is unhealthy (exit 1), as is no answer (no socket, refused,
 * timeout).
 */
import { EXIT_FAILED, EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { printJson } from '../../../common/cli/print-json.js'
import { GrpcStatus } from '../../../proto/grpc-status.js'
import { AUDIENCE_REQUIRED } from '../../workloadapi/status-details.js'
import { commonApiSettings, withApiOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { WorkloadApiError, WorkloadClient } from '../workload-client.js'

/** The agent's answer to the probe. */
export const EXPECTED_PROBE_ANSWER = {
  status: GrpcStatus.INVALID_ARGUMENT,
  message: AUDIENCE_REQUIRED,
}

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-agent healthcheck [options]',
  description: 'Checks that the agent answers on its Workload API socket as a running agent does.',
  options: (j) => withApiOptions(j),
  run: async (values, io) => {
    const settings = commonApiSettings(values, io.env)
    const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
    try {
      let unexpected: string
      try {
        await client.validateJwt('', '')
        unexpected = 'OK to a request with no audience'
      } catch (err) {
        if (
          !(err instanceof WorkloadApiError) ||
          err.status === undefined ||
          err.status === GrpcStatus.UNAVAILABLE ||
          err.status === GrpcStatus.DEADLINE_EXCEEDED
        ) {
          return reportFailure(io, 'healthcheck', err, settings.socketPath)
        }
        if (err.status === EXPECTED_PROBE_ANSWER.status && err.message === EXPECTED_PROBE_ANSWER.message) {
          if (settings.json) printJson(io, { healthy: true, socket_path: settings.socketPath })
          else
            io.stdout.write(
              `Agent is healthy (the Workload API at ${settings.socketPath} answered the probe as expected).\n`,
            )
          return EXIT_OK
        }
        unexpected = `${err.statusName}: ${err.message}`
      }
      io.stderr.write(
        `sigil-agent healthcheck: unexpected answer from ${settings.socketPath} (${unexpected.replace(/\s*\n\s*/g, ' ')}); is this a Sigil agent?\n`,
      )
      return EXIT_FAILED
    } finally {
      client.close()
    }
  },
})
