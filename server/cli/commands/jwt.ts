/** `sigil-server jwt mint --spiffe-id ID --audience A… [--ttl S]`: mints a JWT-SVID and prints the token alone. */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  mint: { summary: 'Mint a JWT-SVID', load: () => import('./jwt/mint.js') },
}

/** Runs `sigil-server jwt <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('jwt', VERBS, args, io)
}
