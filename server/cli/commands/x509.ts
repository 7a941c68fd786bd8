/**
 * `sigil-server x509 mint --spiffe-id ID [--ttl S] [--dns-name N…] [--write DIR]`: mints
 * an X509-SVID without a registration entry. The CLI generates the key pair and sends only
 * a CSR; the key never leaves this process except into `key.pem` (0600) or stdout.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const VERBS: Record<string, CommandEntry> = {
  mint: { summary: 'Mint an X509-SVID (key generated locally)', load: () => import('./x509/mint.js') },
}

/** Runs `sigil-server x509 <verb>`. */
export const run = createCli({ name: 'sigil-server x509', kind: 'verbs', commands: VERBS })
