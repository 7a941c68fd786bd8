/**
 * `sigil-server healthcheck`: asks the server whether it is serving (CA able to sign,
 * datastore answering and consistent). Exit 0 when healthy, 1 otherwise — unreachable
 * included — with the failing checks on one stderr line.
 */
import { EXIT_FAILED, EXIT_OK } from '../../../common/cli/cli-io.js'
import { printJson } from '../../../common/cli/print-json.js'
import { adminVerb } from '../admin-verb.js'

/** Runs `sigil-server healthcheck`. */
export const run = adminVerb({
  usage: 'sigil-server healthcheck',
  description: 'Checks that the server is healthy: exit 0 if so, 1 otherwise.',
  run: async (_v, { io, format, admin }) => {
    const { serving, problems } = await admin().call('Health', {})
    if (format === 'json') printJson(io, { serving, problems })
    else if (serving) io.stdout.write('Server is healthy.\n')
    if (!serving)
      io.stderr.write(
        `sigil-server healthcheck: server is unhealthy: ${problems.join('; ').replace(/\s*\n\s*/g, ' ') || 'not serving'}\n`,
      )
    return serving ? EXIT_OK : EXIT_FAILED
  },
})
