/**
 * `sigil-agent api fetch jwt --audience A [--audience B] [--spiffe-id ID]`: fetches JWT-SVIDs
 * for this process and prints one line per SVID, the token alone (`--output json`:
 * `[{spiffe_id, svid}]`), so that `$(sigil-agent api fetch jwt --audience x)` is a token.
 */
import { SigilError } from '../../../certs/errors.js'
import { EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { printJson } from '../../../common/cli/print-json.js'
import { commonApiSettings, withApiOptions } from '../api-options.js'
import { reportFailure } from '../cli-output.js'
import { WorkloadClient } from '../workload-client.js'

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-agent api fetch jwt --audience A [options]',
  description: 'Fetches JWT-SVIDs for this process, one line per SVID (the token alone).',
  options: (j) =>
    withApiOptions(j)
      .optList({ audience: { hint: 'aud', description: 'Audience, repeat for several (required)' } })
      .opt({ 'spiffe-id': { hint: 'id', description: 'Only this SPIFFE ID (default: every identity)' } }),
  required: ['audience'],
  run: async (values, io) => {
    const audience = values.audience ?? []
    if (audience.some((a) => a === '')) {
      throw new SigilError('ERR_CONFIG_INVALID', 'audience: at least one non-empty --audience is required')
    }
    const settings = commonApiSettings(values, io.env)
    const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
    try {
      const res = await client.fetchJwt(audience, values['spiffe-id'] ?? '')
      if (settings.json)
        printJson(
          io,
          res.svids.map((s) => ({ spiffe_id: s.spiffe_id, svid: s.svid })),
        )
      else io.stdout.write(res.svids.map((s) => `${s.svid}\n`).join(''))
      return EXIT_OK
    } catch (err) {
      return reportFailure(io, 'api fetch jwt', err, settings.socketPath)
    } finally {
      client.close()
    }
  },
})
