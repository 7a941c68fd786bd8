/**
 * The server's policy check of every signing request (issue 14): the authority has the last
 * word. The caller is described from what the server knows — the registration entry (SPIFFE ID,
 * selectors, owner, purpose, risk) and the attested agent (its selectors and attestation type);
 * process facts only the agent sees (uid, executable) are absent here, so policies that read them
 * should guard with `has`. With no policy in force every check passes.
 *
 * @example
 * await enforceSigning(policy, { action: 'FetchJWTSVID', entry, agent, resource: aud, now })
 */

import type { PolicyDecision } from '../../common/policy/policy-engine.js'
import type { AgentFacts, TaskFacts, WorkloadFacts } from '../../common/policy/policy-entities.js'
import type { PolicyPoint } from '../../common/policy/policy-point.js'
import type { PolicyAction } from '../../common/policy/sigil-schema.js'
import type { AttestedAgent, RegistrationEntry, TaskRecord } from '../datastore/records.js'

/** A workload as its registration entry describes it. */
export function workloadFacts(entry: RegistrationEntry): WorkloadFacts {
  return {
    spiffeId: entry.spiffeId,
    entryId: entry.id,
    owner: entry.owner,
    purpose: entry.purpose,
    risk: entry.risk,
    selectors: entry.selectors.map((s) => `${s.type}:${s.value}`),
  }
}

/** An attested agent. */
export function agentFacts(agent: AttestedAgent): AgentFacts {
  return {
    spiffeId: agent.spiffeId,
    attestationType: agent.attestationType,
    selectors: agent.selectors.map((s) => `${s.type}:${s.value}`),
  }
}

/** A stored task. */
export function taskFacts(task: TaskRecord): TaskFacts {
  return {
    id: task.id,
    purpose: task.purpose,
    scope: task.scope,
    deadline: task.deadline,
    actChain: task.actChain,
    onBehalfOf: task.subject,
  }
}

/** One signing request to check. */
export interface SigningCheck {
  readonly action: PolicyAction
  readonly entry: RegistrationEntry
  readonly agent: AttestedAgent
  readonly resource: string
  readonly audiences?: readonly string[]
  readonly task?: TaskRecord
  /** BeginTask: the task being begun (not stored yet). */
  readonly pendingTask?: TaskFacts
  readonly now: Date
}

/**
 * Enforces the policy in force on a signing request: resolves when allowed (or no policy),
 * throws `PolicyDeniedError` (PERMISSION_DENIED naming the policies) when denied.
 */
export async function enforceSigning(
  point: PolicyPoint | undefined,
  c: SigningCheck,
): Promise<PolicyDecision | undefined> {
  if (point === undefined || point.current === undefined) return undefined
  return point.enforce({
    action: c.action,
    workload: workloadFacts(c.entry),
    agent: agentFacts(c.agent),
    resource: c.resource,
    ...(c.audiences === undefined ? {} : { audiences: c.audiences }),
    ...(c.task !== undefined
      ? { task: taskFacts(c.task) }
      : c.pendingTask !== undefined
        ? { task: c.pendingTask }
        : {}),
    now: c.now,
  })
}
