/**
 * For services called by tasks: checks an HTTP request's task credentials — the JWT-SVID in
 * `Authorization: Bearer …` (for this service's audience, carrying a `txn` claim) and the
 * Txn-Token in the `Txn-Token` header (signed by the caller's trust domain, for that trust
 * domain) — and that both name the same task (`txn`), that the audience is in the task's scope,
 * and that neither is revoked.
 *
 * Trust: both tokens are verified against the bundle of the caller's trust domain, which the
 * caller of this function supplies (a `JWTSource` fed by the agent, or a `BundleSource` fed by a
 * bundle endpoint). Revocation is only as current as the `isRevoked` answer. The returned actor
 * chain is informational past its first element (RFC 8693: decide on the top-level claims and
 * the current actor).
 */
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { validateJwtSvid } from '../certs/jwtsvid/validate-jwt-svid.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { parseActClaim } from '../certs/txntoken/act-chain.js'
import { verifyTxnToken } from '../certs/txntoken/verify-txn-token.js'

/** Request headers: Node's `IncomingHttpHeaders`, a fetch `Headers`, or a plain record. */
export type TaskRequestHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>

/** Where the bundles come from: a function, a `JWTSource` (agent) or a `BundleSource` (bundle endpoint). */
export type TaskBundleSource =
  | ((trustDomain: TrustDomain) => TrustBundle | undefined)
  | { getJwtBundleForTrustDomain(trustDomain: TrustDomain): TrustBundle | undefined }
  | { getBundleForTrustDomain(trustDomain: TrustDomain): TrustBundle | undefined }

/** Options of {@link verifyTaskRequest}. */
export interface VerifyTaskRequestOptions {
  /** This service's audience: the JWT-SVID must name it, and the task's scope must hold it. */
  readonly audience: string
  readonly bundles: TaskBundleSource
  /** Revocation lookup (e.g. fed by the agent or the bundle endpoint's feed); default: none revoked. */
  readonly isRevoked?: (ids: { readonly jti?: string; readonly txn?: string }) => boolean
  readonly now?: Date
  readonly leewaySeconds?: number
}

/** A verified task request. */
export interface VerifiedTaskRequest {
  /** The workload that called (the JWT-SVID's `sub`). */
  readonly caller: SpiffeId
  readonly task: {
    readonly id: string
    /** The principal the work is for (the Txn-Token's `sub`). */
    readonly subject: string
    readonly purpose: string
    readonly deadline: Date
    readonly requestingWorkload: SpiffeId
  }
  /** Actors, current first (RFC 8693 `act`); `[]` when the task is not delegated. */
  readonly actChain: readonly string[]
  readonly scope: readonly string[]
}

/** One header of a request (lowercase `name`); `ERR_NOT_AUTHORIZED` when it is sent more than once. */
export function header(headers: TaskRequestHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined
  }
  const value = (headers as Record<string, string | readonly string[] | undefined>)[name]
  if (Array.isArray(value)) {
    if (value.length !== 1)
      throw new SigilError('ERR_NOT_AUTHORIZED', `exactly one ${name} header is required`)
    return value[0]
  }
  return value as string | undefined
}

/**
 * Verifies a task request. Throws `ERR_NOT_AUTHORIZED` (missing or disagreeing credentials, an
 * audience outside the task's scope, a revoked credential, not a task token) or the JWT codes of
 * the failing token (`ERR_JWT_EXPIRED`, `ERR_JWT_SIGNATURE_INVALID`, …).
 *
 * @example
 * const { caller, task, actChain } = await verifyTaskRequest(req.headers, { audience: 'spiffe://example.org/tool-api', bundles: jwtSource })
 */
export async function verifyTaskRequest(
  headers: TaskRequestHeaders,
  opts: VerifyTaskRequestOptions,
): Promise<VerifiedTaskRequest> {
  if (typeof headers !== 'object' || headers === null) throw new TypeError('headers must be an object')
  if (typeof opts?.audience !== 'string' || opts.audience === '') throw new TypeError('audience is required')
  const bundles = opts.bundles
  const bundleFor =
    typeof bundles === 'function'
      ? bundles
      : 'getJwtBundleForTrustDomain' in bundles
        ? (td: TrustDomain) => bundles.getJwtBundleForTrustDomain(td)
        : (td: TrustDomain) => bundles.getBundleForTrustDomain(td)
  const refuse = (why: string): never => {
    throw new SigilError('ERR_NOT_AUTHORIZED', `task request refused: ${why}`)
  }
  const authorization = header(headers, 'authorization')
  const bearer = authorization?.match(/^Bearer +(\S+)$/i)?.[1]
  if (bearer === undefined) refuse('no "Authorization: Bearer" JWT-SVID')
  const txnHeader = header(headers, 'txn-token')
  if (!txnHeader) refuse('no Txn-Token header')
  const common = {
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.leewaySeconds !== undefined ? { leewaySeconds: opts.leewaySeconds } : {}),
  }
  const jwt = await validateJwtSvid(bearer as string, { audience: opts.audience, bundleFor, ...common })
  const jwtTxn = jwt.claims.txn
  if (typeof jwtTxn !== 'string' || jwtTxn === '') refuse('the JWT-SVID is not bound to a task (no "txn")')
  const td = jwt.spiffeId.trustDomain
  const bundle = bundleFor(td)
  if (bundle === undefined)
    throw new SigilError('ERR_BUNDLE_NOT_FOUND', `no bundle for trust domain "${td.name}"`)
  const txn = await verifyTxnToken(txnHeader as string, { trustDomain: td, bundle, ...common })
  if (txn.txn !== jwtTxn) refuse('the JWT-SVID and the Txn-Token name different tasks')
  if (!txn.scope.includes(opts.audience)) refuse("this service is not in the task's scope")
  const jti = typeof jwt.claims.jti === 'string' ? jwt.claims.jti : undefined
  if (opts.isRevoked?.({ ...(jti ? { jti } : {}), txn: txn.txn }))
    refuse('a credential of this task is revoked')
  let actChain: string[]
  try {
    actChain = parseActClaim(jwt.claims.act)
  } catch {
    return refuse('the JWT-SVID has a malformed "act" claim')
  }
  return {
    caller: jwt.spiffeId,
    task: {
      id: txn.txn,
      subject: txn.subject,
      purpose: txn.purpose,
      deadline: txn.deadline,
      requestingWorkload: txn.requestingWorkload,
    },
    actChain,
    scope: txn.scope,
  }
}
