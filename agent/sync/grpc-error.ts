/**
 * Translates a failed agent-API call into Sigil's error family, once, at the client boundary:
 * the server or the network being away (UNAVAILABLE, DEADLINE_EXCEEDED, a TLS failure, ...)
 * becomes `ERR_UNAVAILABLE`, which callers retry with backoff; PERMISSION_DENIED and
 * UNAUTHENTICATED become `ERR_NOT_AUTHORIZED` (evicted, banned, or a stale agent SVID), which
 * callers must not retry blindly; INVALID_ARGUMENT becomes `ERR_INVALID_ARGUMENT`, NOT_FOUND
 * `ERR_NOT_FOUND`, FAILED_PRECONDITION (a task that has ended) `ERR_TASK_ENDED`. The server's
 * status message is kept in the message (it is public by the server's own exposure rule).
 */
import { status as Status } from '@grpc/grpc-js'
import { type ErrorCode, isSigilError, SigilError } from '../../certs/errors.js'
import { errorText } from '../../common/errors/error-text.js'

/** The numeric gRPC status of an error from grpc-js, if it has one. */
export function grpcStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  const code = (err as { code: unknown }).code
  return typeof code === 'number' ? code : undefined
}

/**
 * A {@link SigilError} for a failed call named `what`; SigilErrors pass through unchanged.
 *
 * @example
 * client.SyncAuthorizedEntries({}, opts, (err, res) => err ? reject(fromGrpcError(err, 'sync')) : resolve(res))
 */
export function fromGrpcError(
  err: unknown,
  what: string,
  refusedCode: ErrorCode = 'ERR_NOT_AUTHORIZED',
): SigilError {
  if (isSigilError(err)) return err
  const status = grpcStatusOf(err)
  const detail =
    typeof (err as { details?: unknown })?.details === 'string' ? (err as { details: string }).details : ''
  const message = detail || errorText(err)
  let code: ErrorCode
  if (status === Status.PERMISSION_DENIED || status === Status.UNAUTHENTICATED) code = refusedCode
  else if (status === Status.INVALID_ARGUMENT) code = 'ERR_INVALID_ARGUMENT'
  else if (status === Status.NOT_FOUND) code = 'ERR_NOT_FOUND'
  // a task that has ended (the only FAILED_PRECONDITION the server sends): never worth a retry
  else if (status === Status.FAILED_PRECONDITION) code = 'ERR_TASK_ENDED'
  // UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, transport and TLS failures...: try again later.
  else code = 'ERR_UNAVAILABLE'
  const name = status === undefined ? 'transport error' : (Status[status] ?? String(status))
  return new SigilError(code, `${what} failed (${name}): ${message}`, { cause: err })
}
