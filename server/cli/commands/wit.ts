/** `sigil-server wit mint --spiffe-id ID [--ttl D] [--write DIR]`: mints a WIT-SVID with a key generated here. */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  mint: { summary: 'Mint a WIT-SVID and its key', load: () => import('./wit/mint.js') },
}

/** Runs `sigil-server wit <verb>`. */
export const run = createCli({ name: 'sigil-server wit', kind: 'verbs', commands: VERBS })
