/**
 * `sigil-server svid list [--spiffe-id ID] [--agent-id ID] [--since DURATION]`: the
 * issuance record — every SVID the server signed (serial or jti, SPIFFE ID, entry, agent,
 * validity, audience, revocation time when revoked), newest first. Never the credentials
 * themselves. `sigil-server svid revoke (--serial S | --jti J | --spiffe-id ID | --task-id T)
 * [--reason R]`: revokes them. `sigil-server svid explain (--serial S | --jti J)`: why one SVID
 * was issued, from the audit trail (see ./audit.ts).
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'Show the issuance record, newest first', load: () => import('./svid/list.js') },
  revoke: { summary: 'Revoke SVIDs until they expire', load: () => import('./svid/revoke.js') },
  explain: {
    summary: 'Explain one SVID: entry, agent, selectors, policies, task, approvals',
    load: () => import('./svid/explain.js'),
  },
}

/** Runs `sigil-server svid <verb>`. */
export const run = createCli({ name: 'sigil-server svid', kind: 'verbs', commands: VERBS })
