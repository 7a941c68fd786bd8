/**
 * Translation of Workload API failures (gRPC statuses, SPIFFE.md §5.5) into Sigil's error
 * family, once, at the client boundary. The gRPC error stays attached as `cause`, so a caller
 * that needs the exact status can still read `cause.code`.
 */
import { status as GrpcStatus } from '@grpc/grpc-js'
import { type ErrorCode, SigilError } from '../certs/errors.js'

/**
 * The numeric gRPC status of an error thrown by a gRPC call, or undefined for other errors.
 *
 * @example
 * grpcStatusOf(err) === status.INVALID_ARGUMENT // the agent refused the request itself
 */
export function grpcStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

/** Status → code: refusals of the caller, bad requests, and everything transient. */
function codeFor(status: number | undefined): ErrorCode {
  switch (status) {
    case GrpcStatus.INVALID_ARGUMENT:
      return 'ERR_INVALID_ARGUMENT'
    case GrpcStatus.PERMISSION_DENIED:
    case GrpcStatus.UNAUTHENTICATED:
      return 'ERR_NOT_AUTHORIZED'
    case GrpcStatus.NOT_FOUND:
      return 'ERR_NOT_FOUND'
    default:
      return 'ERR_UNAVAILABLE'
  }
}

/**
 * A {@link SigilError} for a failed Workload API call: `ERR_INVALID_ARGUMENT` (the agent refused
 * the request, e.g. a missing security header), `ERR_NOT_AUTHORIZED` (no identity for this
 * caller), `ERR_NOT_FOUND`, or `ERR_UNAVAILABLE` (unreachable, timed out, anything else).
 * `override` replaces the code for one status (ValidateJWTSVID's InvalidArgument is a bad token).
 *
 * @example
 * call.on('error', (e) => reject(workloadApiError('FetchX509SVID', e)))
 */
export function workloadApiError(
  method: string,
  err: unknown,
  override?: { status: number; code: ErrorCode },
): SigilError {
  if (err instanceof SigilError) return err
  const status = grpcStatusOf(err)
  const details = (err as { details?: unknown } | null)?.details
  const why =
    typeof details === 'string' && details !== '' ? details : err instanceof Error ? err.message : String(err)
  const name = status === undefined ? 'ERROR' : (GrpcStatus[status] ?? String(status))
  const code = override && status === override.status ? override.code : codeFor(status)
  return new SigilError(code, `Workload API ${method} failed: ${why.slice(0, 300)} (${name})`, { cause: err })
}

/**
 * True when a watch must stop rather than retry: the agent refused the request itself (§5.5).
 *
 * @example
 * if (!isTerminalStatus(err)) setTimeout(reconnect, backoff.next())
 */
export function isTerminalStatus(err: unknown): boolean {
  const cause = err instanceof SigilError ? err.cause : err
  return grpcStatusOf(cause) === GrpcStatus.INVALID_ARGUMENT
}
