/**
 * `sigil-server bundle show [--format pem|spiffe]`: the server's trust bundle. `pem`
 * (default) prints the X.509 roots as PEM; `spiffe` prints the SPIFFE bundle (JWKS).
 */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  show: { summary: "Print the trust domain's bundle", load: () => import('./bundle/show.js') },
}

/** Runs `sigil-server bundle <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('bundle', VERBS, args, io)
}
