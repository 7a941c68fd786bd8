/**
 * `sigil-server agent list|show|evict|ban`: manage attested agents. Evicting forgets an
 * agent (it must attest again); banning refuses it, re-attestation included, until it is
 * evicted. Each verb lives in `agent/<verb>.ts`.
 */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  list: { summary: 'List the attested agents', load: () => import('./agent/list.js') },
  show: { summary: 'Show one attested agent', load: () => import('./agent/show.js') },
  evict: { summary: 'Forget an agent; it must attest again', load: () => import('./agent/evict.js') },
  ban: {
    summary: 'Refuse an agent from now on, re-attestation included',
    load: () => import('./agent/ban.js'),
  },
}

/** Runs `sigil-server agent <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('agent', VERBS, args, io)
}
