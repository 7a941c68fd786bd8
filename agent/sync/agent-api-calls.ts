/**
 * The unary agent-API calls the agent makes, typed from the generated messages: one helper
 * that runs a call with its options and turns a failure into a `SigilError` (`grpc-error.ts`).
 */
import type { CallOptions } from '@grpc/grpc-js'
import type { BatchNewX509SvidRequest } from '../../proto/generated/sigil/agent/v1/BatchNewX509SvidRequest.js'
import type { BatchNewX509SvidResponse__Output } from '../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import type { BeginTaskRequest } from '../../proto/generated/sigil/agent/v1/BeginTaskRequest.js'
import type { BeginTaskResponse__Output } from '../../proto/generated/sigil/agent/v1/BeginTaskResponse.js'
import type { EndTaskRequest } from '../../proto/generated/sigil/agent/v1/EndTaskRequest.js'
import type { EndTaskResponse__Output } from '../../proto/generated/sigil/agent/v1/EndTaskResponse.js'
import type { FetchTaskJwtSvidRequest } from '../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidRequest.js'
import type { FetchTaskJwtSvidResponse__Output } from '../../proto/generated/sigil/agent/v1/FetchTaskJwtSvidResponse.js'
import type { GetBundleRequest } from '../../proto/generated/sigil/agent/v1/GetBundleRequest.js'
import type { GetBundleResponse__Output } from '../../proto/generated/sigil/agent/v1/GetBundleResponse.js'
import type { HoldForApprovalRequest } from '../../proto/generated/sigil/agent/v1/HoldForApprovalRequest.js'
import type { HoldForApprovalResponse__Output } from '../../proto/generated/sigil/agent/v1/HoldForApprovalResponse.js'
import type { NewJwtSvidRequest } from '../../proto/generated/sigil/agent/v1/NewJwtSvidRequest.js'
import type { NewJwtSvidResponse__Output } from '../../proto/generated/sigil/agent/v1/NewJwtSvidResponse.js'
import type { NewWitSvidRequest } from '../../proto/generated/sigil/agent/v1/NewWitSvidRequest.js'
import type { NewWitSvidResponse__Output } from '../../proto/generated/sigil/agent/v1/NewWitSvidResponse.js'
import type { RenewAgentRequest } from '../../proto/generated/sigil/agent/v1/RenewAgentRequest.js'
import type { RenewAgentResponse__Output } from '../../proto/generated/sigil/agent/v1/RenewAgentResponse.js'
import type { RevokeExitedSvidsRequest } from '../../proto/generated/sigil/agent/v1/RevokeExitedSvidsRequest.js'
import type { RevokeExitedSvidsResponse__Output } from '../../proto/generated/sigil/agent/v1/RevokeExitedSvidsResponse.js'
import type { SyncAuthorizedEntriesRequest } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesRequest.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { fromGrpcError } from './grpc-error.js'

/** Request and answer types of the unary methods the agent calls. */
export interface UnaryMethods {
  RenewAgent: [RenewAgentRequest, RenewAgentResponse__Output]
  SyncAuthorizedEntries: [SyncAuthorizedEntriesRequest, SyncAuthorizedEntriesResponse__Output]
  GetBundle: [GetBundleRequest, GetBundleResponse__Output]
  BatchNewX509Svid: [BatchNewX509SvidRequest, BatchNewX509SvidResponse__Output]
  NewJwtSvid: [NewJwtSvidRequest, NewJwtSvidResponse__Output]
  NewWitSvid: [NewWitSvidRequest, NewWitSvidResponse__Output]
  BeginTask: [BeginTaskRequest, BeginTaskResponse__Output]
  FetchTaskJwtSvid: [FetchTaskJwtSvidRequest, FetchTaskJwtSvidResponse__Output]
  EndTask: [EndTaskRequest, EndTaskResponse__Output]
  RevokeExitedSvids: [RevokeExitedSvidsRequest, RevokeExitedSvidsResponse__Output]
  HoldForApproval: [HoldForApprovalRequest, HoldForApprovalResponse__Output]
}

/**
 * Runs one unary call; rejects with the translated error (or when the server sends nothing).
 *
 * @example
 * const res = await callUnary(client, 'GetBundle', {}, { deadline }, 'bundle fetch')
 */
export function callUnary<M extends keyof UnaryMethods>(
  client: AgentAPIClient,
  method: M,
  request: UnaryMethods[M][0],
  options: CallOptions,
  what: string,
): Promise<UnaryMethods[M][1]> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      req: unknown,
      opts: CallOptions,
      cb: (err: unknown, res: UnaryMethods[M][1] | undefined) => void,
    ) => void
    fn.call(client, request, options, (err, res) => {
      if (err || !res) reject(fromGrpcError(err ?? new Error('empty answer'), what))
      else resolve(res)
    })
  })
}
