/**
 * `sigil-server approval list|approve|deny`: human approval of requests held by an
 * `@approval("required")` policy (issue 14 item 5). A held caller waits until an operator decides
 * here, or until its hold times out.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'List approvals, newest first', load: () => import('./approval/list.js') },
  approve: { summary: 'Approve a held request', load: () => import('./approval/approve.js') },
  deny: { summary: 'Deny a held request', load: () => import('./approval/deny.js') },
}

/** Runs `sigil-server approval <verb>`. */
export const run = createCli({ name: 'sigil-server approval', kind: 'verbs', commands: VERBS })
