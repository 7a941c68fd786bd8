/**
 * How an admin call fails, without gRPC loaded: {@link AdminCallError} carries the gRPC status
 * and the server's stable Sigil error code; {@link exitCodeForStatus} turns the status into the
 * exit code every admin subcommand uses.
 */
import { EXIT_FAILED, EXIT_USAGE } from '../../common/cli/cli-io.js'
import { GrpcStatus } from '../../proto/grpc-status.js'

/** A failed admin call: the gRPC status, the server's message and its Sigil error code. */
export class AdminCallError extends Error {
  readonly status: number
  /** The `sigil-error-code` the server attached, if any. */
  readonly sigilCode: string | undefined
  constructor(code: number, message: string, sigilCode?: string) {
    super(message)
    this.name = 'AdminCallError'
    this.status = code
    this.sigilCode = sigilCode
  }
}

/**
 * The exit code for a failed admin call: 2 when the server judged the input wrong
 * (INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND, FAILED_PRECONDITION such as ending a task that
 * has ended), 1 for everything else (unreachable, refused, internal, timeout).
 *
 * @example
 * exitCodeForStatus(GrpcStatus.ALREADY_EXISTS) // 2
 */
export function exitCodeForStatus(code: number): number {
  return code === GrpcStatus.INVALID_ARGUMENT ||
    code === GrpcStatus.ALREADY_EXISTS ||
    code === GrpcStatus.NOT_FOUND ||
    code === GrpcStatus.FAILED_PRECONDITION
    ? EXIT_USAGE
    : EXIT_FAILED
}
