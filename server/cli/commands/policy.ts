/**
 * `sigil-server policy set|show|history|test` (issue 14): the Cedar policy set evaluated at the
 * agent for every Workload API and Task API call and at the server for every signing request.
 * Versions are kept; `test` tries a request (against the policy in force, or a file) before a
 * `set`.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  set: {
    summary: 'Validate and put a policy file in force (a new version)',
    load: () => import('./policy/set.js'),
  },
  show: { summary: 'Print the policy in force (or --version N)', load: () => import('./policy/show.js') },
  history: { summary: 'List every policy version, newest first', load: () => import('./policy/history.js') },
  test: {
    summary: 'Evaluate one request: the decision and the deciding policy ids',
    load: () => import('./policy/test.js'),
  },
}

/** Runs `sigil-server policy <verb>`. */
export const run = createCli({ name: 'sigil-server policy', kind: 'verbs', commands: VERBS })
