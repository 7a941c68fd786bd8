/**
 * `sigil-server token generate --spiffe-id ID [--ttl S]`: creates a one-time join token
 * for attesting a new agent, which will be known by the given SPIFFE ID. Prints the
 * token alone (JSON with `--output json`). The token is a secret until used.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  generate: {
    summary: 'Create a one-time join token for a new agent',
    load: () => import('./token/generate.js'),
  },
}

/** Runs `sigil-server token <verb>`. */
export const run = createCli({ name: 'sigil-server token', kind: 'verbs', commands: VERBS })
