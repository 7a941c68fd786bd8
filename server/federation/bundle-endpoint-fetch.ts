/**
 * One bounded HTTPS GET of a foreign trust domain's bundle endpoint (SPIFFE Federation §5),
 * for the server's refresher. Bounded on every axis a hostile or broken endpoint controls: a
 * total deadline (a slow drip counts, not only silence), a size cap, at most a few redirects
 * (HTTPS only, each with the same checks), HTTP 200 only.
 *
 * Trust, by profile: `https_web` checks the endpoint like any web server (system roots plus
 * the operator's extra CAs, RFC 6125 host name); `https_spiffe` requires an X509-SVID for
 * exactly the configured SPIFFE ID, verified against the bundle of that ID's trust domain
 * only (the caller passes the stored copy). What the endpoint serves is only checked for form
 * afterwards (`accept-federated-bundle.ts`): whoever passes these checks speaks for the domain.
 */
import { request } from 'node:https'
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls'
import { rootCertificates } from 'node:tls'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import type { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'

/** How the endpoint is authenticated. */
export type EndpointTrust =
  | { readonly profile: 'https_web'; readonly extraCaPem?: readonly string[] }
  | {
      readonly profile: 'https_spiffe'
      readonly endpointSpiffeId: SpiffeId
      readonly endpointBundle: TrustBundle
    }

/** The bounds of one fetch. */
export interface FetchLimits {
  /** The whole exchange (connect, TLS, redirects, body) must end within this (ms). */
  readonly timeoutMs: number
  /** Larger bodies are refused. */
  readonly maxBytes: number
  /** Aborts the fetch early (the daemon is shutting down). */
  readonly signal?: AbortSignal
}

const MAX_REDIRECTS = 3
const MAX_CHAIN = 10

/**
 * Fetches the body served at `url`. Rejects `ERR_UNAVAILABLE` (network, TLS, authentication
 * of the endpoint, HTTP status, deadline) or `ERR_BUNDLE_INVALID` (larger than the cap).
 *
 * @example
 * const body = await fetchBundleDocument(new URL('https://b.other.org/'), { profile: 'https_web' },
 *   { timeoutMs: 10_000, maxBytes: 1 << 20 }, new Date())
 */
export async function fetchBundleDocument(
  url: URL,
  trust: EndpointTrust,
  limits: FetchLimits,
  now: Date,
): Promise<Buffer> {
  const timeout = AbortSignal.timeout(limits.timeoutMs)
  const deadline = limits.signal === undefined ? timeout : AbortSignal.any([timeout, limits.signal])
  const tls = tlsOptionsFor(trust, now)
  let target = url
  for (let hop = 0; ; hop++) {
    if (target.protocol !== 'https:') {
      throw new SigilError(
        'ERR_UNAVAILABLE',
        `bundle endpoint redirected to a non-https URL (${target.protocol})`,
      )
    }
    const answer = await getOnce(target, tls, limits, deadline)
    if ([301, 302, 303, 307, 308].includes(answer.status) && answer.location !== undefined) {
      if (hop >= MAX_REDIRECTS) throw new SigilError('ERR_UNAVAILABLE', 'bundle endpoint: too many redirects')
      target = new URL(answer.location, target)
      continue
    }
    if (answer.status !== 200) {
      throw new SigilError('ERR_UNAVAILABLE', `bundle endpoint answered HTTP ${answer.status}`)
    }
    return answer.body
  }
}

function tlsOptionsFor(trust: EndpointTrust, now: Date): Record<string, unknown> {
  if (trust.profile === 'https_web') {
    const extra = trust.extraCaPem ?? []
    return extra.length === 0 ? {} : { ca: [...rootCertificates, ...extra] }
  }
  const { endpointSpiffeId, endpointBundle } = trust
  return {
    ca: certificatesToPem([...endpointBundle.x509Authorities]),
    // Replaces the host-name check: the endpoint is named by its SPIFFE ID, not its host.
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      try {
        const { spiffeId } = verifyX509Svid(
          chainOf(cert as DetailedPeerCertificate),
          (td) => (td.equals(endpointBundle.trustDomain) ? endpointBundle.x509Authorities : undefined),
          { now },
        )
        if (!spiffeId.equals(endpointSpiffeId)) {
          return new Error(`endpoint presented ${spiffeId}, expected ${endpointSpiffeId}`)
        }
        return undefined
      } catch (e) {
        return e as Error
      }
    },
  }
}

function chainOf(cert: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = []
  let c: DetailedPeerCertificate | undefined = cert
  while (c?.raw && chain.length < MAX_CHAIN && !chain.some((d) => d.equals(c!.raw))) {
    chain.push(c.raw)
    c = c.issuerCertificate === c ? undefined : c.issuerCertificate
  }
  return chain
}

interface Answer {
  readonly status: number
  readonly location: string | undefined
  readonly body: Buffer
}

function getOnce(
  url: URL,
  tls: Record<string, unknown>,
  limits: FetchLimits,
  deadline: AbortSignal,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const fail = (e: unknown): void => {
      if (e instanceof SigilError) reject(e)
      else {
        const why = limits.signal?.aborted
          ? 'stopped: the server is shutting down'
          : deadline.aborted
            ? `no complete answer within ${limits.timeoutMs} ms`
            : e instanceof Error
              ? e.message
              : String(e)
        reject(
          new SigilError('ERR_UNAVAILABLE', `bundle endpoint ${url.origin}: ${why.slice(0, 300)}`, {
            cause: e,
          }),
        )
      }
    }
    const req = request(
      url,
      {
        ...tls,
        method: 'GET',
        agent: false,
        rejectUnauthorized: true,
        signal: deadline,
        headers: { accept: 'application/json' },
      },
      (res) => {
        const declared = Number(res.headers['content-length'])
        if (Number.isFinite(declared) && declared > limits.maxBytes) {
          req.destroy(tooLarge(limits.maxBytes))
          return
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > limits.maxBytes) req.destroy(tooLarge(limits.maxBytes))
          else chunks.push(chunk)
        })
        res.on('end', () => {
          if (!res.complete) return
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            body: Buffer.concat(chunks),
          })
        })
        res.on('error', fail)
        res.on('aborted', () => fail(new Error('the answer was cut short')))
      },
    )
    req.on('error', fail)
    req.end()
  })
}

function tooLarge(max: number): SigilError {
  return new SigilError('ERR_BUNDLE_INVALID', `bundle document larger than ${max} bytes`)
}
