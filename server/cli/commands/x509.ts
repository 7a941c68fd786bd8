/**
 * `sigil-server x509 mint --spiffe-id ID [--ttl S] [--dns-name N…] [--write DIR]`: mints
 * an X509-SVID without a registration entry. The CLI generates the key pair and sends only
 * a CSR; the key never leaves this process except into `key.pem` (0600) or stdout.
 */
import { runVerbs, type Verb } from '../admin-verb.js'
import type { CliIo } from '../run-cli.js'

const VERBS: Record<string, Verb> = {
  mint: { summary: 'Mint an X509-SVID (key generated locally)', load: () => import('./x509/mint.js') },
}

/** Runs `sigil-server x509 <verb>`. */
export function run(args: string[], io: CliIo): Promise<number> {
  return runVerbs('x509', VERBS, args, io)
}
