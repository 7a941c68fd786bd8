/**
 * `sigil-server audit list|verify`: the audit trail (issue 14 item 7) — every decision about a
 * credential and every admin call, hash-chained — and a check that nobody changed, inserted or
 * deleted a record since it was written.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'List audit records (filters AND), in order', load: () => import('./audit/list.js') },
  verify: {
    summary: 'Check the hash chain; exit 1 naming the first broken link',
    load: () => import('./audit/verify.js'),
  },
}

/** Runs `sigil-server audit <verb>`. */
export const run = createCli({ name: 'sigil-server audit', kind: 'verbs', commands: VERBS })
