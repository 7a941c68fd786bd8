/**
 * Admin handlers for `approval list`, `approval approve` and `approval deny` (see
 * server/approval/). The deciding operator is recorded as `decided_by`: the admin caller from the
 * admin socket's kernel peer credentials (`uid=1000 pid=4242 exe=/usr/bin/node`), else `admin`
 * when the server could not read them; the decision's audit record carries the same caller.
 */
import type { ServerUnaryCall } from '@grpc/grpc-js'
import { SigilError } from '../../../certs/errors.js'
import type { Approval } from '../../../proto/generated/sigil/admin/v1/Approval.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import {
  APPROVAL_STATUSES,
  type ApprovalRecord,
  type ApprovalStatus,
} from '../../datastore/approval-record.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { checkText } from './admin-input.js'
import type { AdminCaller } from './audit-admin-calls.js'
import { unary } from './unary.js'

/** At most this many approvals per `approval list` answer (the newest ones). */
export const MAX_LISTED_APPROVALS = 10_000

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The wire form of an approval. */
export function approvalToMessage(a: ApprovalRecord): Approval {
  return {
    id: a.id,
    principal: a.principal,
    action: a.action,
    resource: a.resource,
    task_id: a.taskId,
    status: a.status,
    reason: a.reason,
    requested_at: seconds(a.requestedAt),
    decided_at: a.decidedAt === undefined ? 0 : seconds(a.decidedAt),
    decided_by: a.decidedBy,
    valid_until: seconds(a.validUntil),
  }
}

/** `decided_by`: `uid=1000 pid=4242 exe=/usr/bin/node` (exe omitted when unreadable), or `admin`. */
export function describeAdminCaller(c: AdminCaller | undefined): string {
  if (c === undefined) return 'admin'
  return `uid=${c.uid} pid=${c.pid}${c.exe === '' ? '' : ` exe=${c.exe}`}`
}

function requireId(id: string): string {
  if (id === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'id is required')
  return id
}

/** The approval handlers. */
export function approvalHandlers(
  deps: AdminApiDeps,
): Pick<AdminAPIHandlers, 'ListApprovals' | 'ApproveApproval' | 'DenyApproval'> {
  const { datastore, logger } = deps
  const approvals = () => {
    if (deps.approvals === undefined)
      throw new SigilError('ERR_UNAVAILABLE', 'approvals are not enabled on this server')
    return deps.approvals
  }
  const caller = (call: ServerUnaryCall<unknown, unknown>): AdminCaller | undefined =>
    deps.adminCaller?.(call)
  /** `unary` with the call's admin caller passed along. */
  function decided<Req, Res>(
    method: string,
    fn: (req: Req, by: string, actor: AdminCaller | undefined) => Promise<Res>,
  ) {
    const handler = (actor: AdminCaller | undefined) =>
      unary<Req, Res>(method, logger, (req) => fn(req, describeAdminCaller(actor), actor))
    return (call: ServerUnaryCall<Req, Res>, callback: Parameters<ReturnType<typeof handler>>[1]) =>
      handler(caller(call as ServerUnaryCall<unknown, unknown>))(call, callback)
  }
  return {
    ListApprovals: unary('ListApprovals', logger, async (req) => {
      if (req.status !== '' && !APPROVAL_STATUSES.includes(req.status as ApprovalStatus))
        throw new SigilError('ERR_INVALID_ARGUMENT', `status must be one of ${APPROVAL_STATUSES.join(', ')}`)
      const list = await datastore.listApprovals({
        limit: req.limit > 0 ? Math.min(req.limit, MAX_LISTED_APPROVALS) : MAX_LISTED_APPROVALS,
        ...(req.status !== '' ? { status: req.status as ApprovalStatus } : {}),
      })
      return { approvals: list.map(approvalToMessage) }
    }),
    ApproveApproval: decided(
      'ApproveApproval',
      async (req: { id: string; for_seconds: number }, by, actor) => ({
        approval: approvalToMessage(
          await approvals().approve(requireId(req.id), Number(req.for_seconds), by, actor),
        ),
      }),
    ),
    DenyApproval: decided('DenyApproval', async (req: { id: string; reason: string }, by, actor) => {
      const id = requireId(req.id)
      const reason = checkText(req.reason, 'reason')
      if (reason === '') throw new SigilError('ERR_INVALID_ARGUMENT', 'reason is required')
      return { approval: approvalToMessage(await approvals().deny(id, reason, by, actor)) }
    }),
  }
}
