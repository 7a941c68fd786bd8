/**
 * `sigil-agent api fetch jwt --audience A [--audience B] [--spiffe-id ID]`: fetches JWT-SVIDs
 * for this process and prints one line per SVID, the token alone (`--output json`:
 * `[{spiffe_id, svid}]`), so that `$(sigil-agent api fetch jwt --audience x)` is a token.
 */
import { SigilError } from '../../../certs/errors.js'
import { apiOptions, commonApiSettings, parseOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { type CliIo, EXIT_OK } from '../run-cli.js'
import { WorkloadClient } from '../workload-client.js'

/** This command's option table. */
export function fetchJwtOptions() {
  return apiOptions(
    'sigil-agent api fetch jwt --audience A [options]',
    'Fetches JWT-SVIDs for this process, one line per SVID (the token alone).',
  )
    .optList({ audience: { hint: 'aud', description: 'Audience (required; repeat for several)' } })
    .opt({ 'spiffe-id': { hint: 'id', description: 'Only this SPIFFE ID (default: every identity)' } })
}

/** Runs the command. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const table = fetchJwtOptions()
  const { values } = parseOptions(() => table.parse(args))
  if (values.help) {
    io.stdout.write(`${table.usage()}\n`)
    return EXIT_OK
  }
  const audience = values.audience ?? []
  if (audience.length === 0 || audience.some((a) => a === '')) {
    throw new SigilError('ERR_CONFIG_INVALID', 'audience: at least one non-empty --audience is required')
  }
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  try {
    const res = await client.fetchJwt(audience, values['spiffe-id'] ?? '')
    if (settings.json) {
      const out = res.svids.map((s) => ({ spiffe_id: s.spiffe_id, svid: s.svid }))
      io.stdout.write(`${JSON.stringify(out)}\n`)
    } else {
      io.stdout.write(res.svids.map((s) => `${s.svid}\n`).join(''))
    }
    return EXIT_OK
  } catch (err) {
    return reportFailure(io, 'api fetch jwt', err, settings.socketPath)
  } finally {
    client.close()
  }
}
