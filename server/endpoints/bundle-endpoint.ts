/**
 * The SPIFFE bundle endpoint (SPIFFE.md §4.2): HTTPS, `GET /` answers the trust domain's
 * SPIFFE bundle (a JWKS with `x509-svid` and `jwt-svid` keys, `spiffe_sequence`,
 * `spiffe_refresh_hint`) as `application/json`; with a revocation source also
 * `GET /revocations`, `GET /crl` and `GET /crl.pem` (revocation-feed.ts); with OIDC discovery
 * also `GET /.well-known/openid-configuration` and `GET /keys` (oidc-discovery.ts, `Host`
 * checked); other paths are 404, other methods 405, as in SPIRE. Profiles: `https_web`
 * (operator certificate files, or a generated development pair) and `https_spiffe` (the
 * server's own X509-SVID, replaced on rotation without a restart); https-listener.ts.
 *
 * Trust: the endpoint is public by design. It asks for no client authentication, reads no
 * request body, and serves only public keys and certificates.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { formatHost, type HttpsCertificateSource, startHttpsListener } from './https-listener.js'
import { isOidcDiscoveryPath, type OidcDiscoveryConfig, serveOidcDiscovery } from './oidc-discovery.js'
import { pathOf, queryOf, reply } from './public-http.js'
import { type RevocationFeedSource, serveRevocationResource } from './revocation-feed.js'

export type { BundleEndpointIdentity } from './bundle-endpoint-tls.js'

/**
 * Everything the bundle endpoint needs: the certificate settings of https-listener.ts (its
 * trust domain is the bundle's; `devCertificateHosts` adds other public listeners' hosts to
 * this one's) and what it serves.
 */
export interface BundleEndpointConfig extends Omit<HttpsCertificateSource, 'trustDomain'> {
  /** Listen address; port 0 picks a free port (see the returned `port`). */
  readonly address: { readonly host: string; readonly port: number }
  /** The current bundle of our trust domain, asked on every request. */
  readonly bundle: () => TrustBundle
  readonly logger: Log
  /** The revocation list and CRLs (`/revocations`, `/crl`, `/crl.pem`); absent: those are 404. */
  readonly revocations?: RevocationFeedSource
  /** OIDC discovery (`/.well-known/openid-configuration`, `/keys`); absent: those are 404. */
  readonly oidcDiscovery?: OidcDiscoveryConfig
}

/** A running bundle endpoint. */
export interface BundleEndpoint {
  /** The port actually bound. */
  readonly port: number
  /** Stops listening and closes connections (after a short grace period). */
  close(): Promise<void>
}

/**
 * Starts the HTTPS bundle endpoint.
 *
 * @example
 * const endpoint = await startBundleEndpoint({ address: { host: '127.0.0.1', port: 8443 },
 *   profile: 'https_web', dataDir, bundle: () => ca.currentBundle(), logger })
 * // curl --cacert <dataDir>/bundle-endpoint/dev-ca.pem https://localhost:8443/
 */
export async function startBundleEndpoint(cfg: BundleEndpointConfig): Promise<BundleEndpoint> {
  if (typeof cfg.bundle !== 'function')
    throw new TypeError('bundle must be a function returning a TrustBundle')
  const listener = await startHttpsListener(
    {
      name: 'bundle endpoint',
      address: cfg.address,
      logger: cfg.logger,
      cert: {
        ...cfg,
        trustDomain: cfg.bundle().trustDomain,
        devCertificateHosts: [cfg.address.host, ...(cfg.devCertificateHosts ?? [])],
      },
    },
    (req, res) => serve(cfg, req, res),
  )
  cfg.logger.info(
    {
      bundle_endpoint: `https://${formatHost(cfg.address.host)}:${listener.port}/`,
      profile: cfg.profile,
    },
    'bundle endpoint listening',
  )
  return listener
}

function serve(cfg: BundleEndpointConfig, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    reply(res, 405, 'method not allowed', { Allow: 'GET' })
    return
  }
  const path = pathOf(req.url)
  if (path !== '/') {
    if (path !== undefined && cfg.oidcDiscovery && isOidcDiscoveryPath(path)) {
      serveOidcDiscovery(cfg.oidcDiscovery, path, req, res)
      return
    }
    if (path !== undefined && cfg.revocations) {
      try {
        if (serveRevocationResource(cfg.revocations, path, queryOf(req.url), res)) return
      } catch (err) {
        cfg.logger.error({ err: errorText(err) }, 'bundle endpoint cannot serve revocations')
        reply(res, 503, 'revocations not available')
        return
      }
    }
    reply(res, 404, 'not found')
    return
  }
  let body: string
  try {
    body = encodeSpiffeBundle(cfg.bundle())
  } catch (err) {
    cfg.logger.error({ err: errorText(err) }, 'bundle endpoint has no bundle to serve')
    reply(res, 503, 'bundle not available')
    return
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}
