/**
 * WatchAgentUpdates: the server→agent push stream. After authenticating the agent like every
 * other call, it sends what the agent lacks (`revocation-updates.ts`, the CRLs, the tainted
 * authorities), then one delta per change of the revocation list, the CRLs on every change, and
 * the complete set of tainted authorities after every `localauthority taint|revoke`, and a nudge
 * (`entries_changed`, `bundle_changed`) when entries or the trust bundle changed through any server
 * on the datastore, so the agent syncs at once, until the agent goes away or the server shuts down (then
 * UNAVAILABLE, so the agent reconnects elsewhere or later). The subscription is taken in the
 * same tick as the first pieces are built, so no change falls between them.
 */
import { type handleServerStreamingCall, type ServerWritableStream, status } from '@grpc/grpc-js'
import type { AgentUpdate } from '../../../proto/generated/sigil/agent/v1/AgentUpdate.js'
import type { WatchAgentUpdatesRequest__Output } from '../../../proto/generated/sigil/agent/v1/WatchAgentUpdatesRequest.js'
import { toGrpcError } from '../grpc-status.js'
import type { AgentApiContext } from './agent-api-deps.js'
import type { AgentAuthenticator } from './agent-authenticator.js'
import { changePiece, crlUpdate, revocationPieces } from './revocation-updates.js'

type Call = ServerWritableStream<WatchAgentUpdatesRequest__Output, AgentUpdate>

/** The handler and a way to end every open stream (at shutdown). */
export interface AgentUpdateStreams {
  readonly handler: handleServerStreamingCall<WatchAgentUpdatesRequest__Output, AgentUpdate>
  /** Ends every open stream with UNAVAILABLE; later calls are refused the same way. */
  endAll(): void
  /** How many streams are open. */
  readonly open: number
}

/**
 * Builds the WatchAgentUpdates handler.
 *
 * @example
 * const streams = watchAgentUpdates(deps, authenticator)
 * handlers.WatchAgentUpdates = streams.handler
 */
export function watchAgentUpdates(
  deps: AgentApiContext,
  authenticator: AgentAuthenticator,
): AgentUpdateStreams {
  const open = new Map<Call, () => void>()
  let ending = false
  const unavailable = { code: status.UNAVAILABLE, details: 'the server is shutting down' }

  const finish = (call: Call) => {
    open.get(call)?.()
    open.delete(call)
  }

  const handler = (call: Call): void => {
    if (ending) {
      call.emit('error', unavailable)
      return
    }
    authenticator.authenticate(call).then(
      (caller) => {
        if (call.cancelled || ending) return
        const known = Number(call.request.revocation_sequence ?? 0)
        const pieces = revocationPieces(deps.revocations, Number.isSafeInteger(known) ? known : 0)
        const unsubscribe = deps.revocations.subscribe((change) => {
          if (!call.cancelled && !call.writableEnded) call.write({ revocations: changePiece(change) })
        })
        const unsubscribeCrls = deps.crls.onChange((set) => {
          if (!call.cancelled && !call.writableEnded) call.write({ crls: crlUpdate(set) })
        })
        const unsubscribePolicy =
          deps.policies?.onChange((p) => {
            if (!call.cancelled && !call.writableEnded) call.write({ policy: p })
          }) ?? (() => {})
        const taint = (t: { x509: string[]; jwt: string[] }) => ({
          tainted_authorities: { x509_authority_ids: t.x509, jwt_authority_ids: t.jwt },
        })
        const unsubscribeTaint = deps.ca.onTaintChange?.((t) => {
          if (!call.cancelled && !call.writableEnded) call.write(taint(t))
        })
        const unsubscribeEntries = deps.changes?.onEntriesChanged(() => {
          if (!call.cancelled && !call.writableEnded) call.write({ entries_changed: {} })
        })
        const unsubscribeBundle = deps.ca.onBundleChange?.((b) => {
          if (!call.cancelled && !call.writableEnded)
            call.write({ bundle_changed: { sequence_number: b.sequenceNumber } })
        })
        open.set(call, () => {
          unsubscribe()
          unsubscribeCrls()
          unsubscribePolicy()
          unsubscribeTaint?.()
          unsubscribeEntries?.()
          unsubscribeBundle?.()
        })
        call.on('cancelled', () => finish(call))
        call.on('close', () => finish(call))
        for (const piece of pieces) call.write({ revocations: piece })
        call.write({ crls: crlUpdate(deps.crls.current()) })
        // the policy in force, always (version 0, empty: no policy), so an agent drops a stale one
        call.write({ policy: deps.policies?.inForce() ?? { version: 0, text: '', sha256: '' } })
        const tainted = deps.ca.taintedAuthorities?.()
        if (tainted && tainted.x509.length + tainted.jwt.length > 0) call.write(taint(tainted))
        deps.logger.debug(
          { agent_id: caller.agentId.toString(), sequence: deps.revocations.sequence },
          'agent update stream opened',
        )
      },
      (e: unknown) => {
        if (!call.cancelled) call.emit('error', toGrpcError(e, deps.logger, 'WatchAgentUpdates'))
      },
    )
  }

  return {
    handler,
    endAll() {
      ending = true
      for (const call of [...open.keys()]) {
        finish(call)
        if (!call.cancelled && !call.writableEnded) call.emit('error', unavailable)
      }
    },
    get open() {
      return open.size
    },
  }
}
