/**
 * For clients calling a service with a WIT-SVID: the `Workload-Identity-Token` and a fresh
 * `Workload-Proof-Token` for one request (draft-ietf-wimse-wpt), bound to the target URI and to
 * a Txn-Token or access token sent along. Make new headers for every request: a WPT is accepted
 * once.
 */
import { createWorkloadProofToken } from '../certs/wpt/create-workload-proof-token.js'
import type { WitSvid } from './wit-svid.js'

/** Options of {@link workloadRequestHeaders}. */
export interface WorkloadRequestHeadersOptions {
  /** The target URI (scheme, host, path; no query or fragment): the WPT's `aud`. */
  readonly audience: string
  /** WPT lifetime in seconds; default 60. */
  readonly ttlSeconds?: number
  /** A Txn-Token sent along (bound as `tth`; also set as the `Txn-Token` header). */
  readonly txnToken?: string
  /** An OAuth access token sent along (bound as `ath`; also set as `Authorization: Bearer`). */
  readonly accessToken?: string
  readonly now?: Date
}

/**
 * The headers of one request.
 *
 * @example
 * const wit = (await WITSource.create()).getWitSvid()
 * await fetch(url, { headers: workloadRequestHeaders(wit, { audience: url }) })
 */
export function workloadRequestHeaders(
  wit: WitSvid,
  opts: WorkloadRequestHeadersOptions,
): Record<string, string> {
  const wpt = createWorkloadProofToken({
    wit: wit.token,
    privateKey: wit.privateKey,
    audience: opts.audience,
    ...(opts.ttlSeconds === undefined ? {} : { ttlSeconds: opts.ttlSeconds }),
    ...(opts.txnToken === undefined ? {} : { txnToken: opts.txnToken }),
    ...(opts.accessToken === undefined ? {} : { accessToken: opts.accessToken }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  })
  const headers: Record<string, string> = {
    'Workload-Identity-Token': wit.token,
    'Workload-Proof-Token': wpt,
  }
  if (opts.txnToken !== undefined) headers['Txn-Token'] = opts.txnToken
  if (opts.accessToken !== undefined) headers.Authorization = `Bearer ${opts.accessToken}`
  return headers
}
