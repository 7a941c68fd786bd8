/**
 * The `agent list` filters (SPIRE's `-attestationType`, `-banned`, `-selector`), applied to the
 * agents ListAgents returns. Only filters that map to stored agent fields are offered; SPIRE's
 * `-canReattest` has no stored counterpart in Sigil (every evicted agent may attest again, a
 * banned one may not: that is `--banned`).
 */
import { UsageError } from '../../../../common/cli/cli-io.js'
import type { Agent__Output } from '../../../../proto/generated/sigil/admin/v1/Agent.js'
import { selectorFlags } from '../../flag-values.js'

/** The filter options of `agent list`. */
export const AGENT_FILTER_OPTIONS = {
  'attestation-type': { hint: 'type', description: 'Only agents attested this way (join_token, x509pop, …)' },
  banned: {
    hint: 'true|false',
    validOptions: ['true', 'false'],
    description: 'Only banned (true) or not banned (false) agents',
  },
} as const

/** The repeatable filter options of `agent list`. */
export const AGENT_FILTER_LIST_OPTIONS = {
  selector: { hint: 'type:key:value', description: 'Only agents having every given selector (repeatable)' },
} as const

/** The parsed filter values. */
export interface AgentFilterValues {
  readonly 'attestation-type'?: string | undefined
  readonly banned?: string | undefined
  readonly selector?: string[] | undefined
}

/**
 * A predicate keeping the agents that pass every given filter (filters AND).
 *
 * @example
 * agents.filter(agentFilter({ banned: 'false' }))
 */
export function agentFilter(v: AgentFilterValues): (a: Agent__Output) => boolean {
  if (v['attestation-type'] === '') throw new UsageError('--attestation-type: a non-empty type')
  const wanted = v.selector?.length ? selectorFlags(v.selector).map((s) => `${s.type}:${s.value}`) : []
  return (a) => {
    if (v['attestation-type'] !== undefined && a.attestation_type !== v['attestation-type']) return false
    if (v.banned !== undefined && a.banned !== (v.banned === 'true')) return false
    if (wanted.length > 0) {
      const has = new Set(a.selectors.map((s) => `${s.type}:${s.value}`))
      if (!wanted.every((s) => has.has(s))) return false
    }
    return true
  }
}
