/**
 * The Workload API's one place that turns errors into gRPC statuses (STYLE.md habit 6), with
 * the codes of SPIFFE.md §5.5: bad input → INVALID_ARGUMENT; a caller the kernel and /proc
 * cannot vouch for, or with no identity → PERMISSION_DENIED; server unreachable →
 * UNAVAILABLE; anything unexpected → INTERNAL with a generic message (the cause is logged).
 */
import { Metadata, type ServiceError, status } from '@grpc/grpc-js'
import { type ErrorCode, isSigilError } from '../../certs/errors.js'

/** An error that already knows its gRPC status. */
export class WorkloadApiStatus extends Error {
  readonly code: status
  readonly details: string
  constructor(code: status, details: string) {
    super(details)
    this.code = code
    this.details = details
    this.name = 'WorkloadApiStatus'
  }
}

import { ATTESTATION_FAILED } from './status-details.js'

export { ATTESTATION_FAILED, AUDIENCE_REQUIRED, NO_IDENTITY } from './status-details.js'

/**
 * The Workload API status for every error code: a total map, so a code added to `ERROR_CODES`
 * does not compile until this boundary decides its status. INTERNAL means "not the caller's
 * doing": the caller gets a generic message and the cause is logged. Only the codes the caller's
 * request can cause (a malformed or invalid JWT-SVID, an unknown trust domain) are INVALID_ARGUMENT.
 */
export const WORKLOAD_STATUS_BY_CODE: Readonly<Record<ErrorCode, status>> = {
  ERR_SPIFFE_ID_INVALID: status.INVALID_ARGUMENT,
  ERR_TRUST_DOMAIN_INVALID: status.INVALID_ARGUMENT,
  ERR_TRUST_DOMAIN_MISMATCH: status.INTERNAL,
  ERR_SELECTOR_INVALID: status.INTERNAL,
  ERR_KEY_INVALID: status.INTERNAL,
  ERR_KEY_UNSUPPORTED: status.INTERNAL,
  ERR_CSR_INVALID: status.INTERNAL,
  ERR_CERT_INVALID: status.INTERNAL,
  ERR_SVID_INVALID: status.INTERNAL,
  ERR_SVID_EXPIRED: status.INTERNAL,
  ERR_SVID_NOT_YET_VALID: status.INTERNAL,
  ERR_SVID_UNTRUSTED: status.INTERNAL,
  ERR_SVID_REVOKED: status.INVALID_ARGUMENT,
  ERR_JWT_INVALID: status.INVALID_ARGUMENT,
  ERR_JWT_EXPIRED: status.INVALID_ARGUMENT,
  ERR_JWT_NOT_YET_VALID: status.INVALID_ARGUMENT,
  ERR_JWT_ALG_NOT_ALLOWED: status.INVALID_ARGUMENT,
  ERR_JWT_KID_UNKNOWN: status.INVALID_ARGUMENT,
  ERR_JWT_AUDIENCE_MISMATCH: status.INVALID_ARGUMENT,
  ERR_JWT_SIGNATURE_INVALID: status.INVALID_ARGUMENT,
  ERR_BUNDLE_INVALID: status.INTERNAL,
  ERR_BUNDLE_NOT_FOUND: status.INVALID_ARGUMENT,
  ERR_TOKEN_INVALID: status.INTERNAL,
  ERR_TOKEN_EXPIRED: status.INTERNAL,
  ERR_TOKEN_USED: status.INTERNAL,
  ERR_NOT_AUTHORIZED: status.PERMISSION_DENIED,
  ERR_AGENT_BANNED: status.INTERNAL,
  ERR_ENTRY_INVALID: status.INTERNAL,
  ERR_ENTRY_EXISTS: status.INTERNAL,
  ERR_NOT_FOUND: status.INTERNAL,
  ERR_CONFIG_INVALID: status.INTERNAL,
  ERR_ATTESTATION_FAILED: status.PERMISSION_DENIED,
  ERR_UNAVAILABLE: status.UNAVAILABLE,
  ERR_INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  ERR_DATASTORE: status.INTERNAL,
  ERR_TASK_ENDED: status.FAILED_PRECONDITION,
  ERR_APPROVAL_DECIDED: status.FAILED_PRECONDITION,
  ERR_FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ERR_RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  ERR_DATASTORE_FULL: status.INTERNAL,
}

/** A status and whether it is unexpected (worth an error log). */
export interface MappedStatus {
  readonly code: status
  readonly details: string
  readonly unexpected: boolean
}

/**
 * Maps any error to the status the caller gets.
 *
 * @example
 * statusOf(new SigilError('ERR_ATTESTATION_FAILED', '...')) // { code: PERMISSION_DENIED, details: 'workload attestation failed' }
 */
export function statusOf(err: unknown): MappedStatus {
  if (err instanceof WorkloadApiStatus) return { code: err.code, details: err.details, unexpected: false }
  if (isSigilError(err)) {
    const code = WORKLOAD_STATUS_BY_CODE[err.code]
    if (code !== status.INTERNAL) {
      // Attestation failures name /proc paths and pids: the caller gets a fixed message.
      const details = err.code === 'ERR_ATTESTATION_FAILED' ? ATTESTATION_FAILED : err.message
      return { code, details, unexpected: false }
    }
  }
  return { code: status.INTERNAL, details: 'internal error', unexpected: true }
}

/** The error object grpc-js sends as a status (unary callback, or `emit('error')` on a stream). */
export function serviceError(s: Pick<MappedStatus, 'code' | 'details'>): Partial<ServiceError> {
  return { code: s.code, details: s.details, message: s.details, metadata: new Metadata() }
}
