/**
 * The Task API handlers (`sigil.task.v1.Tasks`, proto/sigil/task/v1/task.proto), served on the
 * Workload API socket by the same gRPC server: the security header is checked by that server's
 * interceptor before any handler runs, and the caller is identified exactly as for the Workload
 * API (kernel peer credentials of the connection, attested through the caller registry).
 * Errors become statuses through the Workload API's map, except that an unknown task is
 * NOT_FOUND (the server said so; nothing internal leaks).
 */
import { type handleUnaryCall, type ServerUnaryCall, status } from '@grpc/grpc-js'
import { isSigilError, SigilError } from '../../certs/errors.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import type { TasksHandlers } from '../../proto/loader.js'
import type { WorkloadProcess } from '../cache/workload-process.js'
import { serviceError, statusOf } from '../workloadapi/workload-api-status.js'
import type { TaskManager } from './task-manager.js'

/** What the handlers need. */
export interface TaskApiHandlerDeps {
  readonly tasks: Pick<TaskManager, 'begin' | 'fetchJwtSvid' | 'end'>
  readonly callers: { identify(connectionKey: string): Promise<WorkloadProcess> }
  readonly logger: Log
}

/** Longest delegation token accepted (characters). */
const MAX_TOKEN_CHARS = 64 * 1024

/**
 * Builds the handlers for `server.addService(loadTaskApi().service, handlers)`.
 *
 * @example
 * grpcServer.addService(loadTaskApi().service, createTaskApiHandlers({ tasks, callers, logger }))
 */
export function createTaskApiHandlers(deps: TaskApiHandlerDeps): TasksHandlers {
  const { logger } = deps
  function unary<Req, Res>(
    method: string,
    run: (process: WorkloadProcess, req: Req, signal: AbortSignal) => Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback) => {
      // a call held for approval waits; a caller that goes away ends the wait
      const gone = new AbortController()
      call.once('cancelled', () => gone.abort())
      deps.callers
        .identify(call.getPeer())
        .then((process) => run(process, call.request, gone.signal))
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            const s = isSigilError(err, 'ERR_NOT_FOUND')
              ? { code: status.NOT_FOUND, details: err.message, unexpected: false }
              : statusOf(err)
            if (s.unexpected) logger.error({ err: errorText(err), method }, 'Task API call failed')
            callback(serviceError(s))
          },
        )
    }
  }
  return {
    BeginTask: unary('BeginTask', async (process, req, signal) => {
      if (req.on_behalf_of.length > MAX_TOKEN_CHARS || req.parent_txn_token.length > MAX_TOKEN_CHARS) {
        throw new SigilError('ERR_INVALID_ARGUMENT', `tokens are at most ${MAX_TOKEN_CHARS} characters`)
      }
      const res = await deps.tasks.begin(
        process,
        {
          purpose: req.purpose,
          scope: req.scope,
          ttlSeconds: Number(req.ttl_seconds),
          onBehalfOf: req.on_behalf_of,
          parentTxnToken: req.parent_txn_token,
          spiffeId: req.spiffe_id,
        },
        signal,
      )
      return {
        task_id: res.task_id,
        txn_token: res.txn_token,
        expires_at: res.expires_at,
        spiffe_id: res.spiffe_id,
      }
    }),
    FetchTaskJWTSVID: unary('FetchTaskJWTSVID', async (process, req, signal) => {
      const res = await deps.tasks.fetchJwtSvid(process, req.task_id, req.audience, signal)
      return { token: res.token, spiffe_id: res.spiffe_id, expires_at: res.expires_at }
    }),
    EndTask: unary('EndTask', async (process, req) => ({
      outcome: await deps.tasks.end(process, req.task_id, req.outcome),
    })),
  }
}
