/**
 * The Workload API security header (SPIFFE.md §5.2): every call must carry the metadata
 * `workload.spiffe.io: true`, exactly one value, exactly "true". It proves the call was made on
 * purpose by a SPIFFE client, not forwarded by something tricked into it (SSRF). Calls without
 * it fail INVALID_ARGUMENT, which clients do not retry.
 */
import type { Metadata } from '@grpc/grpc-js'

/** The metadata key. */
export const SECURITY_HEADER = 'workload.spiffe.io'

/** The status message SPIRE uses (clients match neither, but operators may). */
export const SECURITY_HEADER_MISSING = 'security header missing from request'

/**
 * True when `metadata` carries the security header exactly once with the value "true".
 *
 * @example
 * hasSecurityHeader(call.metadata) // false → INVALID_ARGUMENT
 */
export function hasSecurityHeader(metadata: Metadata): boolean {
  const values = metadata.get(SECURITY_HEADER)
  return values.length === 1 && values[0] === 'true'
}
