/**
 * `sigil-agent api …`: the Workload API commands, shaped like `spire-agent api …`. Each
 * subcommand lives in its own module, imported only when used (shared `createCli`).
 */
import { createCli } from '../../../common/cli/create-cli.js'

/** Dispatches to the `api` subcommand named by the first one or two words. */
export const run = createCli({
  name: 'sigil-agent api',
  commands: {
    'fetch x509': {
      summary: 'Fetch this process X509-SVIDs [--write DIR]',
      load: () => import('./api-fetch-x509.js'),
    },
    'fetch jwt': {
      summary: 'Fetch JWT-SVIDs --audience A [--spiffe-id ID]',
      load: () => import('./api-fetch-jwt.js'),
    },
    'validate jwt': {
      summary: 'Validate a JWT-SVID --audience A --svid-file F (or --svid - for stdin)',
      load: () => import('./api-validate-jwt.js'),
    },
    watch: {
      summary: 'Print every X509-SVID update until interrupted',
      load: () => import('./api-watch.js'),
    },
  },
})
