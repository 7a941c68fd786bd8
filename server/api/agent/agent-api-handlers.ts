/**
 * The agent API (`sigil.agent.v1.AgentAPI`, proto/sigil/agent/v1/agent.proto): the handlers
 * the server registers on its TLS gRPC endpoint, one file per RPC in this folder.
 *
 * Trust: everything that arrives is untrusted. AttestAgent is open to anyone who can reach
 * the port and believes only what a node attestor proves. Every other RPC first
 * authenticates the caller by its client certificate (agent-authenticator.ts: a valid agent
 * SVID of our trust domain, the agent's current one, agent neither evicted nor banned) and
 * then authorizes each entry against the datastore's one authorization rule. SPIFFE IDs,
 * DNS names and TTLs always come from the server's records, never from a CSR. Errors become
 * gRPC statuses in exactly one place, `../grpc-status.ts`.
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { isSigilError } from '../../../certs/errors.js'
import type { AgentAPIHandlers } from '../../../proto/loader.js'
import { toGrpcError } from '../grpc-status.js'
import type { AgentApiContext, AgentApiDeps } from './agent-api-deps.js'
import { AgentAuthenticator, type AuthenticatedAgent } from './agent-authenticator.js'
import { toWireBundle } from './agent-wire.js'
import { attestAgentHandler } from './attest-agent.js'
import { AuthorizedEntryCache } from './authorized-entries.js'
import { batchNewX509Svid } from './batch-new-x509-svid.js'
import { holdForApprovalHandler } from './hold-for-approval.js'
import { newJwtSvid } from './new-jwt-svid.js'
import { newWitSvid } from './new-wit-svid.js'
import { renewAgent } from './renew-agent.js'
import { revokeExitedSvids } from './revoke-exited-svids.js'
import { syncAuthorizedEntries } from './sync-authorized-entries.js'
import { beginTask, endTask, fetchTaskJwtSvid } from './task-rpcs.js'
import { type AgentUpdateStreams, watchAgentUpdates } from './watch-agent-updates.js'

export type { AgentApiCa, AgentApiDataStore, AgentApiDeps } from './agent-api-deps.js'

/** The RPCs that ask the server to sign; their refusals go to the audit trail (task RPCs record their own). */
const SIGNING_METHODS = new Set(['BatchNewX509Svid', 'NewJwtSvid', 'RenewAgent'])

/** Records a refused signing request (not awaited: the refusal is answered either way). */
function auditSigningRefusal(
  deps: AgentApiDeps,
  method: string,
  caller: AuthenticatedAgent | undefined,
  request: unknown,
  e: unknown,
): void {
  const req = (request ?? {}) as { entry_id?: unknown; params?: { entry_id?: unknown }[]; audience?: unknown }
  const entryIds =
    typeof req.entry_id === 'string'
      ? [req.entry_id]
      : (req.params ?? []).map((p) => String(p.entry_id ?? ''))
  deps.audit?.note({
    kind: 'signing_refused',
    decision: 'deny',
    ...(caller ? { actor: { agentId: caller.agentId.toString() } } : {}),
    details: {
      method,
      ...(entryIds.length > 0 ? { entry_ids: entryIds } : {}),
      ...(Array.isArray(req.audience) ? { audience: req.audience } : {}),
      error: {
        code: isSigilError(e) ? e.code : 'ERR_INTERNAL',
        message: isSigilError(e) ? e.message : 'internal error',
      },
    },
  })
}

/** The handlers plus the authenticator they share (exposed for tests and metrics). */
export interface AgentApi {
  readonly handlers: AgentAPIHandlers
  readonly authenticator: AgentAuthenticator
  /** The open WatchAgentUpdates streams (ended at shutdown). */
  readonly updates: AgentUpdateStreams
}

/**
 * Builds the agent API handlers.
 *
 * @example
 * const { handlers } = createAgentApiHandlers(deps)
 * server.addService(loadAgentApi().service, handlers)
 */
export function createAgentApiHandlers(agentApiDeps: AgentApiDeps): AgentApi {
  const deps: AgentApiContext = {
    ...agentApiDeps,
    authorized: new AuthorizedEntryCache(agentApiDeps.datastore, undefined, agentApiDeps.clock),
  }
  const authenticator = new AgentAuthenticator(deps)
  const authenticated =
    <Req, Res>(method: string, fn: (caller: AuthenticatedAgent, req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      let who: AuthenticatedAgent | undefined
      authenticator
        .authenticate(call)
        .then((caller) => {
          who = caller
          return fn(caller, call.request)
        })
        .then(
          (res) => callback(null, res),
          (e: unknown) => {
            if (SIGNING_METHODS.has(method)) auditSigningRefusal(deps, method, who, call.request, e)
            callback(toGrpcError(e, deps.logger, method))
          },
        )
    }
  const updates = watchAgentUpdates(deps, authenticator)
  const handlers: AgentAPIHandlers = {
    AttestAgent: attestAgentHandler(deps),
    RenewAgent: authenticated('RenewAgent', (caller, req) => renewAgent(deps, caller, req)),
    SyncAuthorizedEntries: authenticated('SyncAuthorizedEntries', (caller, req) =>
      syncAuthorizedEntries(deps, caller, req),
    ),
    BatchNewX509Svid: authenticated('BatchNewX509Svid', (caller, req) => batchNewX509Svid(deps, caller, req)),
    NewJwtSvid: authenticated('NewJwtSvid', (caller, req) => newJwtSvid(deps, caller, req)),
    NewWitSvid: authenticated('NewWitSvid', (caller, req) => newWitSvid(deps, caller, req)),
    GetBundle: authenticated('GetBundle', async () => ({ bundle: toWireBundle(deps.ca.currentBundle()) })),
    BeginTask: authenticated('BeginTask', (caller, req) => beginTask(deps, caller, req)),
    FetchTaskJwtSvid: authenticated('FetchTaskJwtSvid', (caller, req) => fetchTaskJwtSvid(deps, caller, req)),
    EndTask: authenticated('EndTask', (caller, req) => endTask(deps, caller, req)),
    WatchAgentUpdates: updates.handler,
    RevokeExitedSvids: authenticated('RevokeExitedSvids', (caller, req) =>
      revokeExitedSvids(deps, caller, req),
    ),
    HoldForApproval: holdForApprovalHandler(deps, authenticator),
  }
  return { handlers, authenticator, updates }
}
