/**
 * A client of SPIFFE bundle endpoints (SPIFFE.md §4.2): one HTTPS GET of a trust domain's
 * SPIFFE bundle, for services that verify SVIDs of a trust domain without an agent (or
 * federate with one). The trust domain and profile are configured, never inferred from the URL.
 *
 * Trust, by profile: `https_web` authenticates the endpoint like any web server (system
 * roots or a given CA, RFC 6125 host-name check); `https_spiffe` requires the endpoint to
 * present a valid X509-SVID for exactly the configured SPIFFE ID, verified against the bundle
 * of the endpoint's trust domain that the caller supplies (a bootstrap copy at first). The
 * document is then only checked for form: whoever can serve it decides what the trust domain
 * trusts. Redirects are followed (up to 5, HTTPS only) with the same checks.
 */
import { request } from 'node:https'
import type { PeerCertificate } from 'node:tls'
import { decodeSpiffeBundle } from '../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../certs/x509svid/pem.js'
import { authorizeId } from './authorizers.js'
import { peerChainOf, verifyPeer } from './tls-peer.js'

/** Bundle documents larger than this are refused. */
export const MAX_BUNDLE_DOCUMENT_BYTES = 4 * 1024 * 1024
const MAX_REDIRECTS = 5

/** How the endpoint is authenticated. */
export type BundleEndpointProfile =
  | {
      readonly type: 'https_web'
      /** PEM CA certificate(s) to trust instead of the system roots. */
      readonly ca?: string | Buffer | readonly (string | Buffer)[]
    }
  | {
      readonly type: 'https_spiffe'
      /** The SPIFFE ID the endpoint's X509-SVID must carry. */
      readonly endpointSpiffeId: SpiffeId | string
      /** The bundle of the endpoint's trust domain to verify it with. */
      readonly endpointBundle: TrustBundle
    }

/** What {@link fetchSpiffeBundle} needs. */
export interface FetchSpiffeBundleOptions {
  readonly url: string | URL
  /** The trust domain whose bundle the endpoint serves. */
  readonly trustDomain: TrustDomain | string
  readonly profile: BundleEndpointProfile
  /** Give up when the endpoint is silent this long (ms); default 10000. */
  readonly timeoutMs?: number
  /** The clock for verifying an https_spiffe endpoint; default now. */
  readonly now?: Date
}

/**
 * Fetches and decodes a trust domain's SPIFFE bundle from a bundle endpoint. Rejects with
 * `ERR_UNAVAILABLE` (network, TLS, HTTP status), `ERR_BUNDLE_INVALID` (the document), or the
 * verifier's codes (`ERR_NOT_AUTHORIZED`, `ERR_SVID_UNTRUSTED` …) for an https_spiffe endpoint.
 *
 * @example
 * const bundle = await fetchSpiffeBundle({ url: 'https://bundle.other.org/', trustDomain: 'other.org',
 *   profile: { type: 'https_web' } })
 */
export async function fetchSpiffeBundle(opts: FetchSpiffeBundleOptions): Promise<TrustBundle> {
  const trustDomain =
    opts.trustDomain instanceof TrustDomain ? opts.trustDomain : TrustDomain.parse(opts.trustDomain)
  return decodeSpiffeBundle(trustDomain, await fetchFromBundleEndpoint(opts))
}

/**
 * @internal One GET of a resource at a bundle endpoint (the bundle itself, or Sigil's
 * `/revocations` feed) with the profile's checks and redirects; resolves the body.
 */
export async function fetchFromBundleEndpoint(
  opts: Pick<FetchSpiffeBundleOptions, 'url' | 'profile' | 'timeoutMs' | 'now'>,
): Promise<Buffer> {
  const tlsOptions = tlsOptionsFor(opts.profile, opts.now)
  const timeoutMs = opts.timeoutMs ?? 10_000
  let url = new URL(String(opts.url))
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'https:') {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `bundle endpoint URL must be https: ${url.href.slice(0, 200)}`,
      )
    }
    const answer = await get(url, tlsOptions, timeoutMs)
    if (answer.location !== undefined && [301, 302, 303, 307, 308].includes(answer.status)) {
      if (hop >= MAX_REDIRECTS) throw new SigilError('ERR_UNAVAILABLE', 'bundle endpoint: too many redirects')
      url = new URL(answer.location, url)
      continue
    }
    if (answer.status !== 200) {
      throw new SigilError('ERR_UNAVAILABLE', `bundle endpoint ${url.origin} answered HTTP ${answer.status}`)
    }
    return answer.body
  }
}

/** The TLS options of one profile. */
function tlsOptionsFor(profile: BundleEndpointProfile, now: Date | undefined): Record<string, unknown> {
  if (profile?.type === 'https_web') {
    const ca =
      profile.ca === undefined ? undefined : Array.isArray(profile.ca) ? [...profile.ca] : [profile.ca]
    return ca === undefined ? { rejectUnauthorized: true } : { rejectUnauthorized: true, ca }
  }
  if (profile?.type !== 'https_spiffe')
    throw new TypeError('profile.type must be "https_web" or "https_spiffe"')
  const endpointId =
    profile.endpointSpiffeId instanceof SpiffeId
      ? profile.endpointSpiffeId
      : SpiffeId.parse(profile.endpointSpiffeId)
  const bundle = profile.endpointBundle
  if (!(bundle instanceof TrustBundle) || !bundle.trustDomain.equals(endpointId.trustDomain)) {
    throw new TypeError(`endpointBundle must be the TrustBundle of "${endpointId.trustDomain.name}"`)
  }
  const bundles = new Map([[bundle.trustDomain.name, bundle]])
  const authorize = authorizeId(endpointId)
  return {
    rejectUnauthorized: true,
    ca: certificatesToPem([...bundle.x509Authorities]),
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      try {
        verifyPeer(
          peerChainOf(cert as Parameters<typeof peerChainOf>[0]),
          { getX509Bundles: () => bundles },
          authorize,
          now ?? new Date(),
        )
        return undefined
      } catch (err) {
        return err as Error
      }
    },
  }
}

interface Answer {
  status: number
  location: string | undefined
  body: Buffer
}

function get(url: URL, tlsOptions: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void => {
      if (err instanceof SigilError) {
        reject(err)
        return
      }
      const why = err instanceof Error ? err.message : String(err)
      reject(
        new SigilError('ERR_UNAVAILABLE', `bundle endpoint ${url.origin}: ${why.slice(0, 300)}`, {
          cause: err,
        }),
      )
    }
    const req = request(
      url,
      { ...tlsOptions, method: 'GET', agent: false, headers: { accept: 'application/json' } },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_BUNDLE_DOCUMENT_BYTES) {
            req.destroy(
              new SigilError(
                'ERR_BUNDLE_INVALID',
                `bundle document larger than ${MAX_BUNDLE_DOCUMENT_BYTES} bytes`,
              ),
            )
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            body: Buffer.concat(chunks),
          }),
        )
        res.on('error', fail)
      },
    )
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', fail)
    req.end()
  })
}
