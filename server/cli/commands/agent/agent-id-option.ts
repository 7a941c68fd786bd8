/** The `--spiffe-id` option of `agent show|evict|ban` (declared once here). */
import type { Jack } from 'jackspeak'

/** Adds the option naming one agent. */
export function agentIdOption(j: Jack) {
  return j.opt({ 'spiffe-id': { hint: 'id', description: "The agent's SPIFFE ID (required)" } })
}
