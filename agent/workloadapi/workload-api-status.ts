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

/** Details of PERMISSION_DENIED when attestation fails. */
export const ATTESTATION_FAILED = 'workload attestation failed'
/** Details of PERMISSION_DENIED when the caller has no identity (SPIRE's wording). */
export const NO_IDENTITY = 'no identity issued'

const INVALID_ARGUMENT_CODES: readonly ErrorCode[] = [
  'ERR_INVALID_ARGUMENT',
  'ERR_SPIFFE_ID_INVALID',
  'ERR_TRUST_DOMAIN_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_NOT_YET_VALID',
  'ERR_JWT_ALG_NOT_ALLOWED',
  'ERR_JWT_KID_UNKNOWN',
  'ERR_JWT_AUDIENCE_MISMATCH',
  'ERR_JWT_SIGNATURE_INVALID',
  'ERR_BUNDLE_NOT_FOUND',
]

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
    if (err.code === 'ERR_ATTESTATION_FAILED') {
      return { code: status.PERMISSION_DENIED, details: ATTESTATION_FAILED, unexpected: false }
    }
    if (err.code === 'ERR_NOT_AUTHORIZED') {
      return { code: status.PERMISSION_DENIED, details: err.message, unexpected: false }
    }
    if (err.code === 'ERR_UNAVAILABLE')
      return { code: status.UNAVAILABLE, details: err.message, unexpected: false }
    if (INVALID_ARGUMENT_CODES.includes(err.code)) {
      return { code: status.INVALID_ARGUMENT, details: err.message, unexpected: false }
    }
  }
  return { code: status.INTERNAL, details: 'internal error', unexpected: true }
}

/** The error object grpc-js sends as a status (unary callback, or `emit('error')` on a stream). */
export function serviceError(s: Pick<MappedStatus, 'code' | 'details'>): Partial<ServiceError> {
  return { code: s.code, details: s.details, message: s.details, metadata: new Metadata() }
}
