/**
 * `sigil-agent api validate jwt --audience A --svid TOKEN`: asks the agent to validate a
 * JWT-SVID for one audience. Exit 0 and prints the SPIFFE ID and claims when valid; exit 1 with
 * the agent's reason when not.
 */
import { SigilError } from '../../../certs/errors.js'
import type { Struct__Output } from '../../../proto/generated/google/protobuf/Struct.js'
import type { Value__Output } from '../../../proto/generated/google/protobuf/Value.js'
import { apiOptions, commonApiSettings, parseOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { type CliIo, EXIT_FAILED, EXIT_OK } from '../run-cli.js'
import { WorkloadApiError, WorkloadClient } from '../workload-client.js'

/** This command's option table. */
export function validateJwtOptions() {
  return apiOptions(
    'sigil-agent api validate jwt --audience A --svid TOKEN [options]',
    'Validates a JWT-SVID through the agent.',
  ).opt({
    audience: { hint: 'aud', description: 'The audience the token must be for (required)' },
    svid: { hint: 'token', description: 'The JWT-SVID (required)' },
  })
}

/** Runs the command. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const table = validateJwtOptions()
  const { values } = parseOptions(() => table.parse(args))
  if (values.help) {
    io.stdout.write(`${table.usage()}\n`)
    return EXIT_OK
  }
  if (!values.audience) throw new SigilError('ERR_CONFIG_INVALID', 'audience: --audience is required')
  if (!values.svid) throw new SigilError('ERR_CONFIG_INVALID', 'svid: --svid is required')
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  try {
    const res = await client.validateJwt(values.audience, values.svid)
    const claims = res.claims ? structToJson(res.claims) : {}
    if (settings.json) {
      io.stdout.write(`${JSON.stringify({ spiffe_id: res.spiffe_id, claims })}\n`)
    } else {
      io.stdout.write(`SVID is valid.\nSPIFFE ID : ${res.spiffe_id}\nClaims    : ${JSON.stringify(claims)}\n`)
    }
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
}

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
