/**
 * `sigil-server revocation list`: the revocation list — every revoked X.509 serial, JWT jti
 * and Txn-Token txn the server still holds (each until the credential it names expires),
 * with the list's sequence number (what agents and `GET /revocations` followers track).
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  list: { summary: 'Show the revocation list', load: () => import('./revocation/list.js') },
}

/** Runs `sigil-server revocation <verb>`. */
export const run = createCli({ name: 'sigil-server revocation', kind: 'verbs', commands: VERBS })
