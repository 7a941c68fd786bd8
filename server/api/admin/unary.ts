/** Adapts an async admin handler to grpc-js's callback style, mapping errors in the one place. */
import type { handleUnaryCall } from '@grpc/grpc-js'
import type { Log } from '../../../common/logging/logger.js'
import { toGrpcError } from '../grpc-status.js'

/**
 * A unary gRPC handler that runs `fn` on the decoded request; a thrown error becomes a
 * gRPC status through `toGrpcError` (safe message, internal causes logged only).
 *
 * @example
 * const CountEntries = unary('CountEntries', log, async () => ({ count: await ds.countEntries() }))
 */
export function unary<Req, Res>(
  method: string,
  log: Pick<Log, 'error' | 'warn'>,
  fn: (request: Req) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let pending: Promise<Res>
    try {
      pending = fn(call.request)
    } catch (e) {
      callback(toGrpcError(e, log, method))
      return
    }
    pending.then(
      (response) => callback(null, response),
      (e: unknown) => callback(toGrpcError(e, log, method)),
    )
  }
}
