/**
 * `sigil-server federation create|update|list|show|delete|refresh`: federation relationships
 * with foreign trust domains (SPIRE's `spire-server federation`). The server fetches each
 * foreign bundle from its bundle endpoint and refreshes it by its refresh hint; agents deliver
 * it to workloads whose entries `--federates-with` that domain.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  create: { summary: 'Federate with a foreign trust domain', load: () => import('./federation/create.js') },
  update: {
    summary: "Change a relationship's bundle endpoint",
    load: () => import('./federation/update.js'),
  },
  list: { summary: 'List the federation relationships', load: () => import('./federation/list.js') },
  show: { summary: 'Show one federation relationship', load: () => import('./federation/show.js') },
  delete: { summary: 'Stop federating with a trust domain', load: () => import('./federation/delete.js') },
  refresh: { summary: "Fetch a trust domain's bundle now", load: () => import('./federation/refresh.js') },
}

/** Runs `sigil-server federation <verb>`. */
export const run = createCli({ name: 'sigil-server federation', kind: 'verbs', commands: VERBS })
