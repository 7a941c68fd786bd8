/**
 * `sigil-agent api validate jwt --audience A --svid-file F` (or `--svid -` to read the token
 * from stdin): asks the agent to validate a JWT-SVID for one audience. Exit 0 and prints the
 * SPIFFE ID and claims when valid; exit 1 with the agent's reason when not. Trust: a token on
 * the command line is readable by every local user (/proc/<pid>/cmdline), so `--svid TOKEN` is
 * refused (exit 2) without echoing it.
 */

import { EXIT_FAILED, EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { printJson } from '../../../common/cli/print-json.js'
import type { Struct__Output } from '../../../proto/generated/google/protobuf/Struct.js'
import type { Value__Output } from '../../../proto/generated/google/protobuf/Value.js'
import { commonApiSettings, withApiOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { readSvidArgument } from '../svid-input.js'
import { WorkloadApiError, WorkloadClient } from '../workload-client.js'

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-agent api validate jwt --audience A (--svid-file F | --svid -) [options]',
  description: 'Validates a JWT-SVID through the agent.',
  options: (j) =>
    withApiOptions(j).opt({
      audience: { hint: 'aud', description: 'The audience the token must be for (required)' },
      'svid-file': {
        hint: 'file',
        description: 'Read the JWT-SVID from this file (this or --svid - is required)',
      },
      svid: {
        hint: '-',
        description: "'-' reads the JWT-SVID from stdin (a token here is refused: argv is public)",
      },
    }),
  required: ['audience'],
  run: async (values, io) => {
    const token = await readSvidArgument(values, io)
    const settings = commonApiSettings(values, io.env)
    const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
    try {
      const res = await client.validateJwt(values.audience ?? '', token)
      const claims = res.claims ? structToJson(res.claims) : {}
      if (settings.json) printJson(io, { spiffe_id: res.spiffe_id, claims })
      else
        io.stdout.write(
          `SVID is valid.\nSPIFFE ID : ${res.spiffe_id}\nClaims    : ${JSON.stringify(claims)}\n`,
        )
      return EXIT_OK
    } catch (err) {
      if (err instanceof WorkloadApiError && err.statusName === 'INVALID_ARGUMENT') {
        io.stderr.write(`sigil-agent api validate jwt: the SVID is not valid: ${err.message}\n`)
        return EXIT_FAILED
      }
      return reportFailure(io, 'api validate jwt', err, settings.socketPath)
    } finally {
      client.close()
    }
  },
})

/** A protobuf Struct as plain JSON. */
export function structToJson(s: Struct__Output): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, valueToJson(v)]))
}

function valueToJson(v: Value__Output): unknown {
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue
    case 'stringValue':
      return v.stringValue
    case 'boolValue':
      return v.boolValue
    case 'structValue':
      return v.structValue ? structToJson(v.structValue) : null
    case 'listValue':
      return (v.listValue?.values ?? []).map(valueToJson)
    default:
      return null
  }
}
