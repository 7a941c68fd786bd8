/**
 * The bundle endpoint's revocation resources, for services that verify without an agent:
 * `GET /revocations[?since=N]` — a JSON feed of the revocation list with its sequence number
 * (a delta after N, or everything when N is absent, 0 or ahead of the server); `GET /crl` — every
 * CRL as concatenated DER (`application/pkix-crl`, as the Workload API concatenates
 * certificates); `GET /crl.pem` — the same CRLs as PEM (for `openssl -CRLfile`, nginx
 * `ssl_crl`). Public by design: revoked serials, jtis and txns only, never reasons.
 */
import type { ServerResponse } from 'node:http'
import { crlsToPem } from '../../certs/x509svid/crl.js'
import type { RevocationRecord } from '../datastore/records.js'

/** What the feed reads. */
export interface RevocationFeedSource {
  /** Revocations held, ascending sequence, and the current sequence. */
  readonly revocations: {
    readonly sequence: number
    snapshot(): RevocationRecord[]
    since(n: number): RevocationRecord[]
  }
  /** The current CRLs (DER). */
  crls(): readonly Buffer[]
}

/** Suggested polling interval of the JSON feed, seconds. */
export const REVOCATION_FEED_REFRESH_HINT_SECONDS = 5

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000)

/** The JSON feed body for `?since=` (undefined: everything). */
export function revocationFeedJson(
  source: RevocationFeedSource['revocations'],
  since: number | undefined,
): string {
  const sequence = source.sequence
  const snapshot = since === undefined || since <= 0 || since > sequence
  const records = snapshot ? source.snapshot() : source.since(since)
  return JSON.stringify({
    sequence,
    snapshot,
    refresh_hint: REVOCATION_FEED_REFRESH_HINT_SECONDS,
    revocations: records.map((r) => ({
      kind: r.kind,
      value: r.value,
      revoked_at: seconds(r.revokedAt),
      expires_at: seconds(r.expiresAt),
      sequence: r.sequence,
    })),
  })
}

/**
 * Answers a revocation resource; resolves false when `path` is not one.
 *
 * @example
 * if (!serveRevocationResource(source, path, query, res)) reply(res, 404, 'not found')
 */
export function serveRevocationResource(
  source: RevocationFeedSource,
  path: string,
  query: URLSearchParams,
  res: ServerResponse,
): boolean {
  let body: string | Buffer
  let type: string
  if (path === '/revocations') {
    const raw = query.get('since')
    let since: number | undefined
    if (raw !== null) {
      since = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN
      if (Number.isNaN(since)) {
        const text = '400 since must be a whole number\n'
        res.writeHead(400, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': Buffer.byteLength(text),
        })
        res.end(text)
        return true
      }
    }
    body = revocationFeedJson(source.revocations, since)
    type = 'application/json'
  } else if (path === '/crl') {
    body = Buffer.concat(source.crls())
    type = 'application/pkix-crl'
  } else if (path === '/crl.pem') {
    body = crlsToPem(source.crls())
    type = 'application/x-pem-file'
  } else {
    return false
  }
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
  })
  res.end(body)
  return true
}
