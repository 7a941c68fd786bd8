/** The `--spiffe-id` option of `agent show|evict|ban` (declared once here). */
import { commandJack, withAdminOptions } from '../../admin-verb.js'

/** The option parser of an agent verb that names one agent. */
export function agentIdOptions(usage: string, description: string) {
  return withAdminOptions(
    commandJack(usage, description).opt({
      'spiffe-id': { hint: 'id', description: "The agent's SPIFFE ID (required)" },
    }),
  )
}
