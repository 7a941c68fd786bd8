/**
 * The gRPC status codes, as numbers on the wire (the gRPC protocol's `grpc-status` trailer),
 * for code that must name or compare a status without loading `@grpc/grpc-js` — the CLIs
 * decide `--help`, usage errors and exit codes before they open a connection. The values
 * are grpc-js's `status` enum (test/proto/grpc-status.test.ts compares them).
 */

/** Every gRPC status code by name. */
export const GrpcStatus = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const)

/** A gRPC status name, e.g. `PERMISSION_DENIED`. */
export type GrpcStatusName = keyof typeof GrpcStatus

const NAMES = Object.keys(GrpcStatus) as GrpcStatusName[]

/**
 * The name of a status code; the number itself (as text) for a code gRPC does not define.
 *
 * @example
 * grpcStatusName(7) // 'PERMISSION_DENIED'
 */
export function grpcStatusName(code: number): string {
  return NAMES.find((n) => GrpcStatus[n] === code) ?? String(code)
}
