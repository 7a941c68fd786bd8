/**
 * `sigil-server svid list [--spiffe-id ID] [--agent-id ID] [--since DURATION]`: the
 * issuance record — every SVID the server signed (serial or jti, SPIFFE ID, entry, agent,
 * validity, audience), newest first. Never the credentials themselves.
 */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  list: { summary: 'Show the issuance record, newest first', load: () => import('./svid/list.js') },
}

/** Runs `sigil-server svid <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('svid', VERBS, args, io)
}
