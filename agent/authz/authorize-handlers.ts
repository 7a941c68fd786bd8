/**
 * The Authorize API handler (`sigil.authz.v1.Authorizer`, proto/sigil/authz/v1/authz.proto): the
 * decision point for tools, served on the Workload API socket by the same gRPC server, so the
 * security header is checked by that server's interceptor and the caller (the tool server) is
 * identified and attested exactly as for the Workload API; a caller with no identity is refused.
 *
 * Each call: (1) the request's form (INVALID_ARGUMENT); (2) the presented credentials, verified
 * here against the agent's bundles and revocation list (a problem is a `deny` with its reason);
 * (3) the principal Workload entity from the verified SPIFFE ID and, when this agent serves it,
 * its entry; the task from the Txn-Token; (4) the local Cedar evaluation of the current policy
 * set; (5) a `hold` waits on the server for a human approval (approved → allow, denied → deny,
 * timed out → PERMISSION_DENIED).
 */
import { status } from '@grpc/grpc-js'
import { formatSelector } from '../../certs/selector/selector.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { describeDecision, type EntityJson } from '../../common/policy/policy-engine.js'
import {
  agentEntity,
  buildContext,
  entityRef,
  taskEntity,
  workloadEntity,
} from '../../common/policy/policy-entities.js'
import type { AuthorizeResponse } from '../../proto/generated/sigil/authz/v1/AuthorizeResponse.js'
import type { AuthorizerHandlers } from '../../proto/loader.js'
import type { RevokedKind } from '../cache/revocation-set.js'
import type { WorkloadProcess } from '../cache/workload-process.js'
import type { ApprovalAsker } from '../policy/approval-hold.js'
import { NO_IDENTITY, serviceError, statusOf, WorkloadApiStatus } from '../workloadapi/workload-api-status.js'
import { checkAuthorizeRequest } from './authorize-request.js'
import { type CallerTask, verifyCallerCredentials } from './caller-credentials.js'
import type { KnownEntry } from './known-entries.js'
import type { AgentPolicySource } from './policy-source.js'
import { VerifiedJwtCache } from './verified-jwt-cache.js'
import { VerifiedX509Cache } from './verified-x509-cache.js'

/** Default `--approval-timeout`: how long a held caller waits for an operator. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 300

/** The server's answer to a hold and the asker (one definition, shared with the Workload and Task APIs' holds). */
export type {
  ApprovalAsker as ApprovalHolder,
  HoldAnswer as ApprovalAnswer,
} from '../policy/approval-hold.js'

/** What the handler needs. */
export interface AuthorizeHandlerDeps {
  readonly callers: { identify(connectionKey: string): Promise<WorkloadProcess> }
  /** The caller's entries and visible bundles (the identity cache fits). */
  readonly identities: {
    entriesFor(process: WorkloadProcess): readonly { readonly spiffeId: string }[]
    bundlesFor(process: WorkloadProcess): Parameters<typeof verifyCallerCredentials>[1]['bundles'] | undefined
  }
  readonly policies: AgentPolicySource
  /** Entries this agent serves, for the principal's metadata. */
  readonly entries?: { get(spiffeId: string): KnownEntry | undefined }
  /** This agent's SPIFFE ID (the parent of the workloads it serves). */
  readonly agentId?: () => string | undefined
  readonly revocations?: { isRevoked(kind: RevokedKind, value: string): boolean }
  readonly approvals?: () => ApprovalAsker
  readonly approvalTimeoutSeconds?: number
  readonly jwtLeewaySeconds?: number
  readonly logger: Log
  readonly clock: () => Date
}

const deny = (reasons: string[], extra: Partial<AuthorizeResponse> = {}): AuthorizeResponse => ({
  decision: 'deny',
  policy_ids: [],
  reasons,
  ...extra,
})

/**
 * Builds the handlers for `server.addService(loadAuthzApi().service, handlers)`.
 *
 * @example
 * grpcServer.addService(loadAuthzApi().service, createAuthorizeHandlers({ callers, identities: cache, policies, logger, clock }))
 */
export function createAuthorizeHandlers(deps: AuthorizeHandlerDeps): AuthorizerHandlers {
  const { logger } = deps
  const timeoutSeconds = deps.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS
  const jwtCache = new VerifiedJwtCache()
  const x509Cache = new VerifiedX509Cache()

  async function authorize(
    connectionKey: string,
    raw: Parameters<typeof checkAuthorizeRequest>[0],
    signal: () => AbortSignal,
  ): Promise<AuthorizeResponse> {
    const req = checkAuthorizeRequest(raw)
    const tool = await deps.callers.identify(connectionKey)
    const own = deps.identities.entriesFor(tool)
    if (own.length === 0) throw new WorkloadApiStatus(status.PERMISSION_DENIED, NO_IDENTITY)
    const bundles = deps.identities.bundlesFor(tool)
    if (bundles === undefined)
      throw new WorkloadApiStatus(status.UNAVAILABLE, 'the agent has no trust bundle yet')
    const now = deps.clock()
    const caller = await verifyCallerCredentials(
      {
        jwtSvid: req.jwtSvid,
        txnToken: req.txnToken,
        x509SvidChain: req.x509SvidChain,
        audiences: req.audience !== '' ? [req.audience] : own.map((e) => e.spiffeId),
      },
      {
        bundles,
        now,
        jwtCache,
        x509Cache,
        ...(deps.revocations ? { revocations: deps.revocations } : {}),
        ...(deps.jwtLeewaySeconds !== undefined ? { leewaySeconds: deps.jwtLeewaySeconds } : {}),
      },
    )
    if (!caller.ok) return deny(caller.reasons)
    const taskId = caller.task?.id ?? ''
    const set = deps.policies.current()
    if (set === undefined)
      return deny(['no policy set: Authorize denies everything until one is set'], {
        spiffe_id: caller.spiffeId,
        task_id: taskId,
      })
    const entities = principalEntities(caller.spiffeId, deps.entries?.get(caller.spiffeId), deps.agentId?.())
    const task = caller.task ? taskOf(caller.task) : undefined
    if (task) entities.push(task)
    entities.push(req.resource)
    const decision = set.authorize({
      principal: entityRef(entities[0]!),
      action: req.action,
      resource: entityRef(req.resource),
      context: buildContext({
        now,
        ...(task ? { task } : {}),
        delegationChain: caller.task?.actChain ?? [],
        audiences: req.resourceType === 'Audience' ? [req.resourceId] : [],
        ...(req.request ? { request: req.request } : {}),
      }),
      entities,
    })
    const base = {
      policy_ids: decision.policyIds,
      spiffe_id: caller.spiffeId,
      task_id: taskId,
    }
    const why = describeDecision(decision)
    if (decision.decision !== 'hold')
      return { ...base, decision: decision.decision, reasons: [why, ...decision.errors] }

    const holder = deps.approvals?.()
    if (holder === undefined)
      throw new WorkloadApiStatus(status.UNAVAILABLE, `${why}, and this agent cannot reach the server to ask`)
    const answer = await holder.holdForApproval(
      {
        principal: caller.spiffeId,
        action: req.action,
        resource: req.resourceText,
        task_id: taskId,
        reason: why,
        timeout_seconds: timeoutSeconds,
      },
      signal(),
    )
    logger.info(
      { spiffe_id: caller.spiffeId, approval_id: answer.approval_id, status: answer.status },
      'held Authorize call answered',
    )
    if (answer.status === 'approved') {
      const validUntil = Number(answer.valid_until)
      const until =
        validUntil > Math.floor(now.getTime() / 1000)
          ? ` until ${new Date(validUntil * 1000).toISOString()}`
          : ''
      return {
        ...base,
        decision: 'allow',
        approval_id: answer.approval_id,
        reasons: [
          why,
          `approved by ${answer.decided_by || 'an operator'} (approval ${answer.approval_id})${until}`,
        ],
      }
    }
    if (answer.status === 'denied') {
      return {
        ...base,
        decision: 'deny',
        approval_id: answer.approval_id,
        reasons: [
          why,
          `approval ${answer.approval_id} denied by ${answer.decided_by || 'an operator'}: ${answer.reason}`,
        ],
      }
    }
    throw new WorkloadApiStatus(
      status.PERMISSION_DENIED,
      `approval ${answer.approval_id} expired: nobody approved it within ${timeoutSeconds}s (${why})`,
    )
  }

  return {
    Authorize: (call, callback) => {
      // the signal is made only when a hold needs it: most calls never wait, and grpc-js also
      // reports 'cancelled' for calls that already answered, which must not cost an abort
      let abort: AbortController | undefined
      let answered = false
      const signal = () => {
        abort ??= new AbortController()
        return abort.signal
      }
      const onCancelled = () => {
        if (answered) return
        abort ??= new AbortController()
        abort.abort()
      }
      call.once('cancelled', onCancelled)
      authorize(call.getPeer(), call.request, signal).then(
        (res) => {
          answered = true
          callback(null, res)
        },
        (err: unknown) => {
          answered = true
          if (abort?.signal.aborted) return
          const s = statusOf(err)
          if (s.unexpected)
            logger.error({ err: errorText(err), method: 'Authorize' }, 'Authorize call failed')
          callback(serviceError(s))
        },
      )
    },
  }
}

/** The principal Workload (first) and, when this agent serves it, its Agent. */
function principalEntities(
  spiffeId: string,
  entry: KnownEntry | undefined,
  agentId: string | undefined,
): EntityJson[] {
  if (entry === undefined) return [workloadEntity({ spiffeId })]
  const workload = workloadEntity({
    spiffeId,
    entryId: entry.id,
    selectors: entry.selectors.map(formatSelector),
    ...(entry.owner !== undefined ? { owner: entry.owner } : {}),
    ...(entry.purpose !== undefined ? { purpose: entry.purpose } : {}),
    ...(entry.risk !== undefined ? { risk: entry.risk } : {}),
    ...(agentId !== undefined ? { agentId } : {}),
  })
  return agentId === undefined ? [workload] : [workload, agentEntity({ spiffeId: agentId })]
}

function taskOf(t: CallerTask): EntityJson {
  return taskEntity({
    id: t.id,
    purpose: t.purpose,
    scope: t.scope,
    deadline: t.deadline,
    actChain: t.actChain,
    onBehalfOf: t.onBehalfOf,
  })
}
