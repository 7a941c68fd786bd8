/**
 * `sigil-server entry create|show|update|delete|count`: manage registration entries.
 * Each verb lives in `entry/<verb>.ts` and is imported only when chosen.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  create: { summary: 'Create a registration entry', load: () => import('./entry/create.js') },
  show: {
    summary: 'Show entries matching the filters (all without filters)',
    load: () => import('./entry/show.js'),
  },
  update: { summary: 'Change fields of an entry', load: () => import('./entry/update.js') },
  delete: { summary: 'Delete an entry', load: () => import('./entry/delete.js') },
  count: { summary: 'Count the registration entries', load: () => import('./entry/count.js') },
}

/** Runs `sigil-server entry <verb>`. */
export const run = createCli({ name: 'sigil-server entry', kind: 'verbs', commands: VERBS })
