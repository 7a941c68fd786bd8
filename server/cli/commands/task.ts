/**
 * `sigil-server task list|show|end`: the tasks workloads began (issue 13) — who began them, for
 * whom, with what scope, which credentials were issued for them and how they ended — and an
 * operator's way to end one (its credentials die with it).
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'List tasks, newest first', load: () => import('./task/list.js') },
  show: { summary: 'Show one task, its credentials and decisions', load: () => import('./task/show.js') },
  end: { summary: 'End a task (outcome cancelled)', load: () => import('./task/end.js') },
}

/** Runs `sigil-server task <verb>`. */
export const run = createCli({ name: 'sigil-server task', kind: 'verbs', commands: VERBS })
