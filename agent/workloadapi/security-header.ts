/**
 * The Workload API security header (SPIFFE.md §5.2): every call must carry the metadata
 * `workload.spiffe.io: true`, exactly one value, exactly "true". It proves the call was made on
 * purpose by a SPIFFE client, not forwarded by something tricked into it (SSRF). Calls without
 * it fail INVALID_ARGUMENT, which clients do not retry.
 *
 * The check is made once, as a server interceptor ({@link requireSecurityHeader}) on the gRPC
 * server that owns the socket, so it runs before any handler of any service on that socket
 * (SPIRE: `middleware.Preprocess(verifySecurityHeader)`); handlers never check it themselves.
 */
import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from '@grpc/grpc-js'

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

/**
 * Server interceptor that ends a call without the security header with INVALID_ARGUMENT
 * {@link SECURITY_HEADER_MISSING} before its handler runs: the request metadata is never passed
 * on, so the handler is never started, reads no message and attests no one.
 *
 * @example
 * new Server({ interceptors: [requireSecurityHeader] })
 */
export const requireSecurityHeader: ServerInterceptor = (_method, call: ServerInterceptingCallInterface) => {
  const listener = new ServerListenerBuilder()
    .withOnReceiveMetadata((metadata, next) => {
      if (hasSecurityHeader(metadata)) next(metadata)
      else call.sendStatus({ code: status.INVALID_ARGUMENT, details: SECURITY_HEADER_MISSING })
    })
    .build()
  const responder = new ResponderBuilder().withStart((next) => next(listener)).build()
  return new ServerInterceptingCall(call, responder)
}
