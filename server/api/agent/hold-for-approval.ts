/**
 * HoldForApproval: an agent's Authorize call was held by an `@approval("required")` policy; the
 * server records a pending approval and answers once it is decided or expires (see
 * server/approval/). The agent is trusted to have verified the principal's credentials; an
 * approval covers only the exact principal + action + resource (+ task) it names.
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { HoldForApprovalRequest__Output } from '../../../proto/generated/sigil/agent/v1/HoldForApprovalRequest.js'
import type { HoldForApprovalResponse } from '../../../proto/generated/sigil/agent/v1/HoldForApprovalResponse.js'
import type { ApprovalService } from '../../approval/approval-service.js'
import { toGrpcError } from '../grpc-status.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AgentAuthenticator } from './agent-authenticator.js'

const METHOD = 'HoldForApproval'
/** Longest action, resource, task id and reason accepted (characters). */
const MAX_FIELD_CHARS = 2048

function field(value: string, name: string, required: boolean): string {
  if (value.length > MAX_FIELD_CHARS)
    throw new SigilError('ERR_INVALID_ARGUMENT', `${name} is longer than ${MAX_FIELD_CHARS} characters`)
  if (required && value === '') throw new SigilError('ERR_INVALID_ARGUMENT', `${name} is required`)
  return value
}

/**
 * The handler (authenticates the agent, then waits on the approval service).
 *
 * @example
 * handlers.HoldForApproval = holdForApprovalHandler(deps, authenticator)
 */
export function holdForApprovalHandler(
  deps: AgentApiContext & { readonly approvals?: ApprovalService },
  authenticator: AgentAuthenticator,
): (
  call: ServerUnaryCall<HoldForApprovalRequest__Output, HoldForApprovalResponse>,
  callback: sendUnaryData<HoldForApprovalResponse>,
) => void {
  return (call, callback) => {
    const abort = new AbortController()
    call.once('cancelled', () => abort.abort())
    authenticator
      .authenticate(call)
      .then(async (caller) => {
        const approvals = deps.approvals
        if (approvals === undefined)
          throw new SigilError('ERR_UNAVAILABLE', 'approvals are not enabled on this server')
        const req = call.request
        const principal = SpiffeId.parse(field(req.principal, 'principal', true)).toString()
        const a = await approvals.hold(
          {
            principal,
            action: field(req.action, 'action', true),
            resource: field(req.resource, 'resource', true),
            taskId: field(req.task_id, 'task_id', false),
            reason: field(req.reason, 'reason', false),
            timeoutSeconds: Number(req.timeout_seconds),
          },
          abort.signal,
        )
        deps.logger.debug({ approval_id: a.id, agent_id: caller.agentId.toString() }, 'hold answered')
        return {
          approval_id: a.id,
          status: a.status,
          reason: a.reason,
          valid_until: Math.floor(a.validUntil.getTime() / 1000),
          decided_by: a.decidedBy,
        }
      })
      .then(
        (res) => callback(null, res),
        (e: unknown) => {
          if (!abort.signal.aborted) callback(toGrpcError(e, deps.logger, METHOD))
        },
      )
  }
}
