/**
 * `sigil-server token generate --spiffe-id ID [--ttl S]`: creates a one-time join token
 * for attesting a new agent, which will be known by the given SPIFFE ID. Prints the
 * token alone (JSON with `--output json`). The token is a secret until used.
 */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  generate: {
    summary: 'Create a one-time join token for a new agent',
    load: () => import('./token/generate.js'),
  },
}

/** Runs `sigil-server token <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('token', VERBS, args, io)
}
