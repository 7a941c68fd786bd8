/**
 * `sigil-server localauthority x509|jwt show|prepare|activate|taint|revoke`: forced rotation of
 * the server's signing authorities, as SPIRE's `localauthority`. `prepare` publishes a new
 * authority, `activate --authority-id` makes the prepared one sign, `taint --authority-id`
 * makes every agent re-issue at once what an old one signed, `revoke --authority-id` removes a
 * tainted one from the bundle. The active authority is never tainted or revoked.
 */
import { type CommandEntry, createCli } from '../../../common/cli/create-cli.js'

const load = () => import('./localauthority/authority-verbs.js')

const VERBS: Record<string, CommandEntry> = {}
for (const kind of ['x509', 'jwt'] as const) {
  const what = kind === 'x509' ? 'X.509 CA' : 'JWT key'
  const verbs = {
    show: `Show the active, prepared and old ${what}s`,
    prepare: `Prepare a new ${what} (published, not signing yet)`,
    activate: `Make the prepared ${what} sign (--authority-id)`,
    taint: `Taint an old ${what}: agents re-issue what it signed (--authority-id)`,
    revoke: `Remove a tainted ${what} from the bundle (--authority-id)`,
  }
  for (const [verb, summary] of Object.entries(verbs)) {
    VERBS[`${kind} ${verb}`] = { summary, load: async () => ({ run: (await load()).verbs[kind][verb]! }) }
  }
}

/** Runs `sigil-server localauthority <x509|jwt> <verb>`. */
export const run = createCli({ name: 'sigil-server localauthority', commands: VERBS })
