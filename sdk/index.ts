/**
 * Sigil's SDK for workloads and services, the public surface (`import … from 'sigil/sdk'`):
 * a SPIFFE Workload API client, X.509 and JWT sources that stay current on their own, mTLS
 * for Node's tls/https/http2 with SPIFFE ID authorizers, a bundle endpoint client, and tasks
 * (task-bound credentials: `Task.begin`, and `verifyTaskRequest` for the services they call).
 *
 * Trust: identities come from the local agent over its Unix socket (the kernel tells the agent
 * who is calling); peers are verified as SVIDs against the bundle of their own trust domain
 * and then authorized by SPIFFE ID. Every refusal is a {@link SigilError} with a stable code.
 *
 * @example
 * const source = await X509Source.create() // SPIFFE_ENDPOINT_SOCKET=unix:///…
 * const server = serveMtls(https.createServer(tlsServerOptions(source), handler), source,
 *   authorizeId('spiffe://example.org/client'))
 */

export type { TrustBundle } from '../certs/bundle/trust-bundle.js'
export { type ErrorCode, isSigilError, SigilError } from '../certs/errors.js'
export {
  DEFAULT_JWT_LEEWAY_SECONDS,
  MAX_JWT_LEEWAY_SECONDS,
  type ValidatedJwtSvid,
  type ValidateJwtSvidOptions,
  validateJwtSvid,
} from '../certs/jwtsvid/validate-jwt-svid.js'
export { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
export { TrustDomain } from '../certs/spiffeid/trust-domain.js'
export { TXN_TOKEN_HEADER } from '../certs/txntoken/sign-txn-token.js'
export { type ValidatedWitSvid, validateWitSvid } from '../certs/witsvid/validate-wit-svid.js'
export { WIT_HEADER } from '../certs/witsvid/wit-svid-signer.js'
export {
  type CreateWorkloadProofTokenOptions,
  createWorkloadProofToken,
  WPT_HEADER,
} from '../certs/wpt/create-workload-proof-token.js'
export { JtiReplayCache } from '../certs/wpt/jti-replay-cache.js'
export {
  type AuthorizationDecision,
  type AuthorizeRequestOptions,
  type AuthorizeResource,
  authorizeRequest,
  withAuthorization,
} from './authorize-request.js'
export {
  type Authorizer,
  authorizeAny,
  authorizeId,
  authorizeIf,
  authorizeMemberOf,
  authorizeOneOf,
} from './authorizers.js'
export type { BackoffOptions } from './backoff.js'
export {
  type BundleEndpointProfile,
  type FetchSpiffeBundleOptions,
  fetchSpiffeBundle,
} from './bundle-endpoint-client.js'
export { BundleSource, type BundleSourceOptions, DEFAULT_REFRESH_HINT_SECONDS } from './bundle-source.js'
export {
  ENDPOINT_SOCKET_ENV,
  type EndpointAddress,
  parseEndpointAddress,
  resolveEndpointAddress,
} from './endpoint-address.js'
export { JWTSource, type JWTSourceOptions } from './jwt-source.js'
export type { JwtSvid } from './jwt-svid.js'
export {
  DEFAULT_REVOCATION_POLL_MS,
  RevocationFeed,
  type RevocationFeedOptions,
  type RevocationQuery,
} from './revocation-feed.js'
export { Task, type TaskBeginOptions, type TaskOutcome } from './task.js'
export { type TlsClientOptionsOptions, tlsClientOptions } from './tls-client.js'
export { type MtlsSource, peerSpiffeId } from './tls-peer.js'
export { type ServeMtlsOptions, serveMtls, tlsServerOptions } from './tls-server.js'
export {
  type TaskBundleSource,
  type TaskRequestHeaders,
  type VerifiedTaskRequest,
  type VerifyTaskRequestOptions,
  verifyTaskRequest,
} from './verify-task-request.js'
export {
  type VerifiedWorkloadRequest,
  type VerifyWorkloadRequestOptions,
  verifyWorkloadRequest,
  type WitBundleSource,
  workloadRequestStatus,
} from './verify-workload-request.js'
export type { WatchErrorListener } from './watch-stream.js'
export { WITSource, type WITSourceOptions } from './wit-source.js'
export type { WitSvid } from './wit-svid.js'
export {
  type CancelWatch,
  type JwtSvidParams,
  type ValidatedByAgent,
  WorkloadApiClient,
  type WorkloadApiClientOptions,
} from './workload-api-client.js'
export { type WorkloadRequestHeadersOptions, workloadRequestHeaders } from './workload-request-headers.js'
export type { X509Context, X509Svid } from './x509-context.js'
export { X509Source, type X509SourceOptions, type X509SvidPicker } from './x509-source.js'
