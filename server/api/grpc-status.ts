/**
 * The one place where the server turns errors into gRPC statuses (STYLE.md habit 6).
 * SigilError messages describe the caller's input and are safe to return; anything
 * else becomes INTERNAL with a generic message, and its cause is logged, never sent. A full
 * disk (`ERR_DATASTORE_FULL`, from SQLITE_FULL or ENOSPC on any path) is RESOURCE_EXHAUSTED
 * "datastore: no space left", so clients retry instead of reporting a bug.
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { type ErrorCode, SigilError } from '../../certs/errors.js'
import { echo } from '../../certs/lib/echo.js'
import type { Log } from '../../common/logging/logger.js'

/**
 * The gRPC status for every error code: a total map, so a code added to `ERROR_CODES` does not
 * compile until this boundary decides its status. Input-shaped errors are INVALID_ARGUMENT.
 * `ERR_DATASTORE` is INTERNAL and its message is never sent (see {@link toGrpcError}).
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, status>> = {
  ERR_SPIFFE_ID_INVALID: status.INVALID_ARGUMENT,
  ERR_TRUST_DOMAIN_INVALID: status.INVALID_ARGUMENT,
  ERR_TRUST_DOMAIN_MISMATCH: status.INVALID_ARGUMENT,
  ERR_SELECTOR_INVALID: status.INVALID_ARGUMENT,
  ERR_KEY_INVALID: status.INVALID_ARGUMENT,
  ERR_KEY_UNSUPPORTED: status.INVALID_ARGUMENT,
  ERR_CSR_INVALID: status.INVALID_ARGUMENT,
  ERR_CERT_INVALID: status.INVALID_ARGUMENT,
  ERR_SVID_INVALID: status.INVALID_ARGUMENT,
  ERR_SVID_EXPIRED: status.UNAUTHENTICATED,
  ERR_SVID_NOT_YET_VALID: status.UNAUTHENTICATED,
  ERR_SVID_UNTRUSTED: status.UNAUTHENTICATED,
  ERR_SVID_REVOKED: status.UNAUTHENTICATED,
  ERR_JWT_INVALID: status.INVALID_ARGUMENT,
  ERR_JWT_EXPIRED: status.INVALID_ARGUMENT,
  ERR_JWT_NOT_YET_VALID: status.INVALID_ARGUMENT,
  ERR_JWT_ALG_NOT_ALLOWED: status.INVALID_ARGUMENT,
  ERR_JWT_KID_UNKNOWN: status.INVALID_ARGUMENT,
  ERR_JWT_AUDIENCE_MISMATCH: status.INVALID_ARGUMENT,
  ERR_JWT_SIGNATURE_INVALID: status.INVALID_ARGUMENT,
  ERR_BUNDLE_INVALID: status.INVALID_ARGUMENT,
  ERR_BUNDLE_NOT_FOUND: status.INVALID_ARGUMENT,
  ERR_TOKEN_INVALID: status.PERMISSION_DENIED,
  ERR_TOKEN_EXPIRED: status.PERMISSION_DENIED,
  ERR_TOKEN_USED: status.PERMISSION_DENIED,
  ERR_NOT_AUTHORIZED: status.PERMISSION_DENIED,
  ERR_AGENT_BANNED: status.PERMISSION_DENIED,
  ERR_ENTRY_INVALID: status.INVALID_ARGUMENT,
  ERR_ENTRY_EXISTS: status.ALREADY_EXISTS,
  ERR_NOT_FOUND: status.NOT_FOUND,
  ERR_CONFIG_INVALID: status.INVALID_ARGUMENT,
  ERR_ATTESTATION_FAILED: status.PERMISSION_DENIED,
  ERR_UNAVAILABLE: status.UNAVAILABLE,
  ERR_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  ERR_DATASTORE: status.INTERNAL,
  ERR_TASK_ENDED: status.FAILED_PRECONDITION,
  ERR_FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ERR_RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  ERR_DATASTORE_FULL: status.RESOURCE_EXHAUSTED,
  ERR_APPROVAL_DECIDED: status.FAILED_PRECONDITION,
}

/** gRPC status for an error code. */
export function grpcStatusFor(code: ErrorCode): status {
  return STATUS_BY_CODE[code]
}

/**
 * Longest status message sent. The message travels in the HTTP/2 trailers; a header block
 * over Node's 64 KB send limit is never sent, the call never ends and the connection stops
 * answering, so a message that echoes a huge input must be cut here at the latest.
 */
export const MAX_STATUS_MESSAGE_CHARS = 1024

/** The metadata key carrying the stable Sigil error code to our own clients (CLI, agent). */
export const ERROR_CODE_METADATA_KEY = 'sigil-error-code'

/**
 * Converts any thrown value into a gRPC ServiceError-shaped object for a callback/emit,
 * logging internal causes.
 *
 * @example
 * try { ... } catch (e) { callback(toGrpcError(e, log, 'BatchNewX509Svid')) }
 */
export function toGrpcError(
  e: unknown,
  log: Pick<Log, 'error' | 'warn'>,
  method: string,
): Partial<ServiceError> {
  if (e instanceof SigilError && e.code !== 'ERR_DATASTORE') {
    const code = grpcStatusFor(e.code)
    if (code === status.PERMISSION_DENIED)
      log.warn({ method, err_code: e.code, reason: e.message }, 'request refused')
    if (code === status.RESOURCE_EXHAUSTED) log.error({ method, err: e }, 'storage is full')
    const metadata = new Metadata()
    metadata.set(ERROR_CODE_METADATA_KEY, e.code)
    const details = echo(e.message, MAX_STATUS_MESSAGE_CHARS)
    return { code, details, message: details, metadata }
  }
  log.error({ method, err: e }, 'internal error')
  return { code: status.INTERNAL, details: 'internal error', message: 'internal error' }
}
