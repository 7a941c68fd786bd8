/**
 * Sigil's one error family. Every error that untrusted input can cause is a
 * {@link SigilError} with a stable `code` from {@link ErrorCode}; callers (the
 * gRPC and HTTP boundaries, the CLIs) map codes to statuses and exit codes and
 * never parse messages. A caller's own bug (a wrong argument type) is a plain
 * `TypeError` instead.
 *
 * @example
 * try { SpiffeId.parse(input) } catch (e) {
 *   if (isSigilError(e, 'ERR_SPIFFE_ID_INVALID')) console.error(e.message)
 * }
 */

/** The closed set of error codes. Add a code here before throwing it anywhere. */
export const ERROR_CODES = [
  // identifiers
  'ERR_SPIFFE_ID_INVALID',
  'ERR_TRUST_DOMAIN_INVALID',
  'ERR_TRUST_DOMAIN_MISMATCH',
  'ERR_SELECTOR_INVALID',
  // keys and certificates
  'ERR_KEY_INVALID',
  'ERR_KEY_UNSUPPORTED',
  'ERR_CSR_INVALID',
  'ERR_CERT_INVALID',
  'ERR_SVID_INVALID',
  'ERR_SVID_EXPIRED',
  'ERR_SVID_NOT_YET_VALID',
  'ERR_SVID_UNTRUSTED',
  /** The credential (X.509 serial, JWT jti, or the Txn-Token txn it carries) has been revoked. */
  'ERR_SVID_REVOKED',
  // JWT
  'ERR_JWT_INVALID',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_NOT_YET_VALID',
  'ERR_JWT_ALG_NOT_ALLOWED',
  'ERR_JWT_KID_UNKNOWN',
  'ERR_JWT_AUDIENCE_MISMATCH',
  'ERR_JWT_SIGNATURE_INVALID',
  // bundles
  'ERR_BUNDLE_INVALID',
  'ERR_BUNDLE_NOT_FOUND',
  // server / agent
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_USED',
  'ERR_NOT_AUTHORIZED',
  'ERR_AGENT_BANNED',
  'ERR_ENTRY_INVALID',
  'ERR_ENTRY_EXISTS',
  'ERR_NOT_FOUND',
  'ERR_CONFIG_INVALID',
  'ERR_ATTESTATION_FAILED',
  'ERR_UNAVAILABLE',
  'ERR_INVALID_ARGUMENT',
  'ERR_DATASTORE',
  /** The server's storage is out of space (SQLITE_FULL, ENOSPC): retry once space returns. */
  'ERR_DATASTORE_FULL',
  // tasks
  /** The task has already ended: it can neither issue credentials nor end again. */
  'ERR_TASK_ENDED',
  /** A bounded resource (e.g. a process's open tasks) is used up. */
  'ERR_RESOURCE_EXHAUSTED',
  // approvals
  /** The approval has already been decided, or its hold has expired: it cannot be decided again. */
  'ERR_APPROVAL_DECIDED',
  /** A valid request the current state refuses (e.g. revoking the active signing authority). */
  'ERR_FAILED_PRECONDITION',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** The base error: a stable `code`, a human message, an optional `cause`. */
export class SigilError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'SigilError'
  }
}

/**
 * True when `e` is a {@link SigilError}, optionally with one of the given codes.
 *
 * @example
 * if (isSigilError(err, 'ERR_JWT_EXPIRED', 'ERR_JWT_INVALID')) reply(400)
 */
export function isSigilError(e: unknown, ...codes: ErrorCode[]): e is SigilError {
  return e instanceof SigilError && (codes.length === 0 || codes.includes(e.code))
}
