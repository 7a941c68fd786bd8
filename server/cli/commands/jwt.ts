/** `sigil-server jwt mint --spiffe-id ID --audience A… [--ttl S]`: mints a JWT-SVID and prints the token alone. */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  mint: { summary: 'Mint a JWT-SVID', load: () => import('./jwt/mint.js') },
}

/** Runs `sigil-server jwt <verb>`. */
export const run = createCli({ name: 'sigil-server jwt', kind: 'verbs', commands: VERBS })
