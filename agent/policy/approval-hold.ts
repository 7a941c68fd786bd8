/**
 * Holds at the agent (issue 14 item 5): a Workload API or Task API call that an
 * `@approval("required")` permit policy holds waits while the server records a pending approval
 * and an operator decides (`sigil-server approval approve|deny`), up to `--approval-timeout`
 * (default 5 min). Approved: the call goes on (the server's own signing check then finds the
 * approved approval covering the same principal + action + resource + task, so it is not held a
 * second time). Denied, expired, or no server to ask: `PolicyDeniedError` (PERMISSION_DENIED)
 * naming the policies. A caller that goes away (its call cancelled) cancels the wait; the
 * pending approval then expires on the server at the end of its hold, recorded as expired.
 *
 * Trust: the server is the authority on approvals; the agent only relays the hold for the
 * caller it attested, with the approval key derived the same way the server derives it.
 */
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { describeDecision } from '../../common/policy/policy-engine.js'
import {
  approvalKeyOf,
  type HoldHandler,
  holdRefused,
  PolicyDeniedError,
} from '../../common/policy/policy-point.js'

/** An operator's answer to a hold (the server's HoldForApproval). */
export interface HoldAnswer {
  readonly approval_id: string
  readonly status: string
  readonly reason: string
  readonly valid_until: number | string
  readonly decided_by: string
}

/** Asks the server for a human approval (the agent's `ServerClient` fits). */
export interface ApprovalAsker {
  holdForApproval(
    req: {
      principal: string
      action: string
      resource: string
      task_id: string
      reason: string
      timeout_seconds: number
    },
    signal?: AbortSignal,
  ): Promise<HoldAnswer>
}

/** How to build the hold handler. */
export interface ApprovalHoldOptions {
  /** The server to ask; undefined: none yet (the hold is refused). */
  readonly server: () => ApprovalAsker | undefined
  /** How long a held caller waits (`--approval-timeout`), whole seconds 1..3600. */
  readonly timeoutSeconds: number
  readonly logger: Pick<Log, 'info' | 'warn'>
}

/**
 * The `onHold` of the agent's decision point.
 *
 * @example
 * new AgentPolicy({ ..., onHold: approvalHold({ server: () => client, timeoutSeconds: 300, logger }) })
 */
export function approvalHold(opts: ApprovalHoldOptions): HoldHandler {
  return async (check, decision, signal) => {
    const server = opts.server()
    if (server === undefined) throw holdRefused(decision, ': the agent cannot reach the server to ask')
    const key = approvalKeyOf(check)
    const why = describeDecision(decision)
    opts.logger.info(
      { spiffe_id: key.principal, action: key.action, resource: key.resource, task_id: key.taskId },
      'call held for approval',
    )
    let answer: HoldAnswer
    try {
      answer = await server.holdForApproval(
        {
          principal: key.principal,
          action: key.action,
          resource: key.resource,
          task_id: key.taskId,
          reason: why,
          timeout_seconds: opts.timeoutSeconds,
        },
        signal,
      )
    } catch (e) {
      if (signal?.aborted) throw e
      opts.logger.warn({ err: errorText(e), spiffe_id: key.principal }, 'cannot ask the server for approval')
      throw holdRefused(decision, `: cannot ask the server for approval (${errorText(e)})`)
    }
    const by = answer.decided_by || 'an operator'
    opts.logger.info(
      { spiffe_id: key.principal, approval_id: answer.approval_id, status: answer.status },
      'held call answered',
    )
    if (answer.status === 'approved') return { ...decision, decision: 'allow' }
    const denied = { ...decision, decision: 'deny' as const }
    if (answer.status === 'denied')
      throw new PolicyDeniedError(
        denied,
        `approval ${answer.approval_id} denied by ${by}: ${answer.reason} (${why})`,
      )
    throw new PolicyDeniedError(
      denied,
      `approval ${answer.approval_id} expired: nobody approved it within ${opts.timeoutSeconds}s (${why})`,
    )
  }
}
