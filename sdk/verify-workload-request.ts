/**
 * For services called with WIT-SVIDs (WIMSE workload-to-workload): checks the
 * `Workload-Identity-Token` (a WIT-SVID, against the WIT bundle of its trust domain) and the
 * `Workload-Proof-Token` (a WPT signed by the WIT's `cnf` key, for this service's configured
 * audience, fresh, used once, bound to this WIT and to the `Txn-Token` / access token the request
 * carries), and that the WIT is not revoked. A WIT sent as `Authorization: Bearer` is refused: a
 * WIT-SVID is never a bearer token.
 *
 * Trust: the audience comes from the service's configuration, never from the request's `Host` or
 * `X-Forwarded-Host`. Replay protection holds within one process and one options object (or one
 * `replayCache` shared by the caller); WPTs live at most `maxLifetimeSeconds`, so a replay cache
 * that forgets expired entries misses nothing. A validated WIT is remembered (by its exact token,
 * at most 1,000, until its `exp`) so a busy service verifies one signature per request.
 */
import type { IncomingMessage } from 'node:http'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { isSigilError, SigilError } from '../certs/errors.js'
import { decodeCompactJws } from '../certs/jws/compact-jws.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { TXN_TOKEN_HEADER } from '../certs/txntoken/sign-txn-token.js'
import { type ValidatedWitSvid, validateWitSvid } from '../certs/witsvid/validate-wit-svid.js'
import { WIT_HEADER, WIT_SVID_TYPE } from '../certs/witsvid/wit-svid-signer.js'
import { WPT_HEADER } from '../certs/wpt/create-workload-proof-token.js'
import { JtiReplayCache } from '../certs/wpt/jti-replay-cache.js'
import {
  type VerifiedWorkloadProofToken,
  verifyWorkloadProofToken,
} from '../certs/wpt/verify-workload-proof-token.js'
import { header, type TaskRequestHeaders } from './verify-task-request.js'

/** Where the WIT bundles come from: a function or a `WITSource`. */
export type WitBundleSource =
  | ((trustDomain: TrustDomain) => TrustBundle | undefined)
  | { bundleFor(trustDomain: TrustDomain): TrustBundle | undefined }

/** Options of {@link verifyWorkloadRequest}; pass the same object on every call (it keeps the caches). */
export interface VerifyWorkloadRequestOptions {
  /** This service's URI(s) as configured (scheme, host, path; no query): the WPT `aud` must be one. */
  readonly audience: string | readonly string[]
  readonly bundles: WitBundleSource
  /** Default: one cache per options object. */
  readonly replayCache?: JtiReplayCache
  /** Revocation lookup (e.g. a `RevocationFeed`): a WIT whose `jti` is revoked is refused. */
  readonly revocations?: { isRevoked(q: { jti?: string }): boolean }
  readonly now?: () => Date
  readonly leewaySeconds?: number
  /** Longest WPT lifetime accepted; default 300 s. */
  readonly maxLifetimeSeconds?: number
}

/** A verified request. */
export interface VerifiedWorkloadRequest {
  /** The calling workload (the WIT's `sub`). */
  readonly spiffeId: SpiffeId
  readonly wit: ValidatedWitSvid
  readonly wpt: VerifiedWorkloadProofToken
}

const MAX_CACHED_WITS = 1000

interface VerifierState {
  readonly replayCache: JtiReplayCache
  readonly wits: Map<string, ValidatedWitSvid>
}
const states = new WeakMap<VerifyWorkloadRequestOptions, VerifierState>()

/**
 * Verifies a request's WIT and WPT. Throws `SigilError`: `ERR_NOT_AUTHORIZED` (no WIT or WPT, a
 * header sent twice, a WIT as a bearer token), `ERR_SVID_REVOKED`, `ERR_TOKEN_USED` (replayed
 * WPT), `ERR_RESOURCE_EXHAUSTED` (replay cache full) or the token codes (`ERR_JWT_EXPIRED`,
 * `ERR_JWT_AUDIENCE_MISMATCH`, `ERR_JWT_SIGNATURE_INVALID`, `ERR_JWT_ALG_NOT_ALLOWED`,
 * `ERR_JWT_INVALID`, `ERR_JWT_KID_UNKNOWN`, `ERR_BUNDLE_NOT_FOUND` …). A handler answers 401 to
 * all of them (see {@link workloadRequestStatus}).
 *
 * @example
 * const verify = { audience: 'https://orders.example.org/v1/orders', bundles: witSource }
 * http.createServer((req, res) => {
 *   try { const { spiffeId } = verifyWorkloadRequest(req, verify); … } catch (e) { res.writeHead(401).end() }
 * })
 */
export function verifyWorkloadRequest(
  req: IncomingMessage | { headers: TaskRequestHeaders },
  opts: VerifyWorkloadRequestOptions,
): VerifiedWorkloadRequest {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options are required')
  let state = states.get(opts)
  if (state === undefined) {
    state = { replayCache: opts.replayCache ?? new JtiReplayCache(), wits: new Map() }
    states.set(opts, state)
  }
  const headers = req.headers as TaskRequestHeaders
  const authorization = header(headers, 'authorization')
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
  if (bearer !== undefined && isWit(bearer)) {
    throw new SigilError(
      'ERR_NOT_AUTHORIZED',
      'a WIT-SVID is not a bearer token: send it with a Workload-Proof-Token',
    )
  }
  const witToken = header(headers, WIT_HEADER.toLowerCase())
  const wptToken = header(headers, WPT_HEADER.toLowerCase())
  if (!witToken || !wptToken) {
    throw new SigilError('ERR_NOT_AUTHORIZED', `both ${WIT_HEADER} and ${WPT_HEADER} headers are required`)
  }
  const now = opts.now?.() ?? new Date()
  const wit = validatedWit(state, witToken, opts, now)
  if (wit.jti !== undefined && opts.revocations?.isRevoked({ jti: wit.jti })) {
    throw new SigilError('ERR_SVID_REVOKED', 'the WIT-SVID has been revoked')
  }
  const txnToken = header(headers, TXN_TOKEN_HEADER.toLowerCase())
  const wpt = verifyWorkloadProofToken(wptToken, {
    wit: witToken,
    validatedWit: wit,
    audience: opts.audience,
    now,
    replayCache: state.replayCache,
    ...(opts.leewaySeconds === undefined ? {} : { leewaySeconds: opts.leewaySeconds }),
    ...(opts.maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds: opts.maxLifetimeSeconds }),
    ...(txnToken === undefined ? {} : { txnToken }),
    ...(bearer === undefined ? {} : { accessToken: bearer }),
  })
  return { spiffeId: wit.spiffeId, wit, wpt }
}

/** The HTTP status for a refusal by {@link verifyWorkloadRequest}: 401, or 503 when the replay cache is full. */
export function workloadRequestStatus(err: unknown): number {
  if (isSigilError(err, 'ERR_RESOURCE_EXHAUSTED')) return 503
  return 401
}

function validatedWit(
  state: VerifierState,
  token: string,
  opts: VerifyWorkloadRequestOptions,
  now: Date,
): ValidatedWitSvid {
  const leeway = opts.leewaySeconds ?? 30
  const cached = state.wits.get(token)
  if (cached !== undefined && now.getTime() < cached.expiresAt.getTime() + leeway * 1000) return cached
  const b = opts.bundles
  const bundleFor = typeof b === 'function' ? b : (td: TrustDomain) => b.bundleFor(td)
  const wit = validateWitSvid(token, {
    bundleFor,
    now,
    ...(opts.leewaySeconds === undefined ? {} : { leewaySeconds: opts.leewaySeconds }),
  })
  if (state.wits.size >= MAX_CACHED_WITS) state.wits.delete(state.wits.keys().next().value as string)
  state.wits.set(token, wit)
  return wit
}

function isWit(token: string): boolean {
  try {
    return decodeCompactJws(token).header.typ === WIT_SVID_TYPE
  } catch {
    return false
  }
}
