/**
 * `sigil-server bundle show [--format pem|spiffe]`: the server's trust bundle. `pem`
 * (default) prints the X.509 roots as PEM; `spiffe` prints the SPIFFE bundle (JWKS).
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  show: { summary: "Print the trust domain's bundle", load: () => import('./bundle/show.js') },
}

/** Runs `sigil-server bundle <verb>`. */
export const run = createCli({ name: 'sigil-server bundle', kind: 'verbs', commands: VERBS })
