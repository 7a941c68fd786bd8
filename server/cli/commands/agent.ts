/**
 * `sigil-server agent list|show|count|evict|ban|purge`: manage attested agents. Evicting forgets an
 * agent (it must attest again); banning refuses it, re-attestation included, until it is
 * evicted. Each verb lives in `agent/<verb>.ts`.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'List the attested agents', load: () => import('./agent/list.js') },
  show: { summary: 'Show one attested agent', load: () => import('./agent/show.js') },
  count: { summary: 'Count the attested agents', load: () => import('./agent/count.js') },
  evict: { summary: 'Forget an agent; it must attest again', load: () => import('./agent/evict.js') },
  purge: {
    summary: 'Evict the agents whose agent SVID expired long ago',
    load: () => import('./agent/purge.js'),
  },
  ban: {
    summary: 'Refuse an agent from now on, re-attestation included',
    load: () => import('./agent/ban.js'),
  },
}

/** Runs `sigil-server agent <verb>`. */
export const run = createCli({ name: 'sigil-server agent', kind: 'verbs', commands: VERBS })
