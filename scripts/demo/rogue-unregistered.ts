/**
 * Demo rogue #1: a script no entry selects, run by the same user with the same `node` binary
 * as the registered components. It asks the Workload API for an X509-SVID and a JWT-SVID; the
 * agent, which tells callers apart by what the kernel says about them (uid, entry script …),
 * finds no entry for it and refuses both (PermissionDenied → `ERR_NOT_AUTHORIZED`).
 */
import { WorkloadApiClient } from '../../sdk/index.js'
import { emit } from './demo-event.js'

const NAME = 'rogue-unregistered'
const client = new WorkloadApiClient({ timeoutMs: 10_000 })

async function attempt(name: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run()
    emit(NAME, { kind: 'attempt', name, refused: false, reason: 'the agent handed out an identity' })
  } catch (err) {
    // Refused means the agent said no (PermissionDenied), not that it could not be reached.
    const code = (err as { code?: unknown }).code
    const refused = code === 'ERR_NOT_AUTHORIZED'
    emit(NAME, { kind: 'attempt', name, refused, reason: `${(err as Error).message} [${String(code)}]` })
  }
}

await attempt('unregistered script asks for an X509-SVID', () => client.fetchX509Context())
await attempt('unregistered script asks for a JWT-SVID for "tool-api"', () =>
  client.fetchJwtSvid({ audience: ['tool-api'] }),
)
client.close()
