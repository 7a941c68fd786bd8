/**
 * `sigil-server bundle show [--format pem|spiffe]`: the server's trust bundle. `pem`
 * (default) prints the X.509 roots as PEM; `spiffe` prints the SPIFFE bundle (JWKS).
 * `bundle list|set|delete|count`: the bundles of foreign trust domains (federation), as
 * SPIRE's commands of the same names; our own bundle is never listed, set or deleted here.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  show: { summary: "Print the trust domain's bundle", load: () => import('./bundle/show.js') },
  list: { summary: 'Print federated bundles', load: () => import('./bundle/list.js') },
  set: { summary: "Set a foreign trust domain's bundle", load: () => import('./bundle/set.js') },
  delete: { summary: "Delete a foreign trust domain's bundle", load: () => import('./bundle/delete.js') },
  count: { summary: 'Count federated bundles', load: () => import('./bundle/count.js') },
}

/** Runs `sigil-server bundle <verb>`. */
export const run = createCli({ name: 'sigil-server bundle', kind: 'verbs', commands: VERBS })
