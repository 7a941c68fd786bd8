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
import type { AgentAPIHandlers } from '../../../proto/loader.js'
import { toGrpcError } from '../grpc-status.js'
import type { AgentApiContext, AgentApiDeps } from './agent-api-deps.js'
import { AgentAuthenticator, type AuthenticatedAgent } from './agent-authenticator.js'
import { toWireBundle } from './agent-wire.js'
import { attestAgentHandler } from './attest-agent.js'
import { AuthorizedEntryCache } from './authorized-entries.js'
import { batchNewX509Svid } from './batch-new-x509-svid.js'
import { newJwtSvid } from './new-jwt-svid.js'
import { renewAgent } from './renew-agent.js'
import { revokeExitedSvids } from './revoke-exited-svids.js'
import { syncAuthorizedEntries } from './sync-authorized-entries.js'
import { beginTask, endTask, fetchTaskJwtSvid } from './task-rpcs.js'
import { type AgentUpdateStreams, watchAgentUpdates } from './watch-agent-updates.js'

export type { AgentApiCa, AgentApiDataStore, AgentApiDeps } from './agent-api-deps.js'

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
      authenticator
        .authenticate(call)
        .then((caller) => fn(caller, call.request))
        .then(
          (res) => callback(null, res),
          (e: unknown) => callback(toGrpcError(e, deps.logger, method)),
        )
    }
  const updates = watchAgentUpdates(deps, authenticator)
  const handlers: AgentAPIHandlers = {
    AttestAgent: attestAgentHandler(deps, authenticator),
    RenewAgent: authenticated('RenewAgent', (caller, req) => renewAgent(deps, authenticator, caller, req)),
    SyncAuthorizedEntries: authenticated('SyncAuthorizedEntries', (caller, req) =>
      syncAuthorizedEntries(deps, caller, req),
    ),
    BatchNewX509Svid: authenticated('BatchNewX509Svid', (caller, req) => batchNewX509Svid(deps, caller, req)),
    NewJwtSvid: authenticated('NewJwtSvid', (caller, req) => newJwtSvid(deps, caller, req)),
    GetBundle: authenticated('GetBundle', async () => ({ bundle: toWireBundle(deps.ca.currentBundle()) })),
    BeginTask: authenticated('BeginTask', (caller, req) => beginTask(deps, caller, req)),
    FetchTaskJwtSvid: authenticated('FetchTaskJwtSvid', (caller, req) => fetchTaskJwtSvid(deps, caller, req)),
    EndTask: authenticated('EndTask', (caller, req) => endTask(deps, caller, req)),
    WatchAgentUpdates: updates.handler,
    RevokeExitedSvids: authenticated('RevokeExitedSvids', (caller, req) =>
      revokeExitedSvids(deps, caller, req),
    ),
  }
  return { handlers, authenticator, updates }
}
