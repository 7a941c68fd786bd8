/**
 * The SPIFFE bundle endpoint (SPIFFE.md §4.2): HTTPS, `GET /` answers the trust domain's
 * SPIFFE bundle (a JWKS with `x509-svid` and `jwt-svid` keys, `spiffe_sequence`,
 * `spiffe_refresh_hint`) as `application/json`; with a revocation source also
 * `GET /revocations`, `GET /crl` and `GET /crl.pem` (revocation-feed.ts); other paths are
 * 404, other methods 405, as in SPIRE. Profiles: `https_web` (operator certificate files, or a generated
 * development pair) and `https_spiffe` (the server's own X509-SVID, replaced on rotation
 * without a restart).
 *
 * Trust: the endpoint is public by design. It asks for no client authentication, reads no
 * request body, and serves only public keys and certificates.
 */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { loadOrCreateDevCertificate } from './bundle-dev-certificate.js'
import {
  type BundleEndpointIdentity,
  bundleEndpointTlsOptions,
  identityPair,
  readWebPair,
} from './bundle-endpoint-tls.js'
import { type RevocationFeedSource, serveRevocationResource } from './revocation-feed.js'

export type { BundleEndpointIdentity } from './bundle-endpoint-tls.js'

/** How long a request may take to arrive (headers and all). */
export const BUNDLE_REQUEST_TIMEOUT_MS = 10_000
/** How long close() lets open connections finish. */
export const BUNDLE_SHUTDOWN_GRACE_MS = 2_000

/** Everything the bundle endpoint needs. */
export interface BundleEndpointConfig {
  /** Listen address; port 0 picks a free port (see the returned `port`). */
  readonly address: { readonly host: string; readonly port: number }
  readonly profile: 'https_web' | 'https_spiffe'
  /** https_web: PEM certificate chain (with keyFile); unset → the development pair. */
  readonly certFile?: string
  /** https_web: PEM private key (with certFile). */
  readonly keyFile?: string
  /** Where the development pair lives (`<dataDir>/bundle-endpoint/`). */
  readonly dataDir: string
  /** The current bundle of our trust domain, asked on every request. */
  readonly bundle: () => TrustBundle
  /** https_spiffe: the server's X509-SVID source. */
  readonly identity?: BundleEndpointIdentity
  readonly logger: Log
  /** The revocation list and CRLs (`/revocations`, `/crl`, `/crl.pem`); absent: those are 404. */
  readonly revocations?: RevocationFeedSource
  /** For the development pair's validity; default the system clock. */
  readonly clock?: () => Date
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
  const { logger } = cfg
  const pair = await initialPair(cfg)
  const server = createServer(bundleEndpointTlsOptions(pair), (req, res) => serve(cfg, req, res))
  server.requestTimeout = BUNDLE_REQUEST_TIMEOUT_MS
  server.headersTimeout = BUNDLE_REQUEST_TIMEOUT_MS
  server.keepAliveTimeout = 5_000
  server.on('tlsClientError', () => {}) // scanners and bad handshakes are not worth a log line

  let closed = false
  if (cfg.profile === 'https_spiffe') {
    const identity = cfg.identity as BundleEndpointIdentity
    identity.onChange(() => {
      if (closed) return
      try {
        server.setSecureContext(bundleEndpointTlsOptions(identityPair(identity)))
        logger.info(
          { not_after: identity.current().notAfter.toISOString() },
          'bundle endpoint certificate rotated',
        )
      } catch (err) {
        logger.error({ err: errorText(err) }, 'bundle endpoint rotation failed')
      }
    })
  }

  await listen(server, cfg.address)
  const port = (server.address() as AddressInfo).port
  logger.info(
    { bundle_endpoint: `https://${formatHost(cfg.address.host)}:${port}/`, profile: cfg.profile },
    'bundle endpoint listening',
  )
  let closing: Promise<void> | undefined
  return {
    port,
    close() {
      closed = true
      closing ??= new Promise<void>((done) => {
        const timer = setTimeout(() => server.closeAllConnections(), BUNDLE_SHUTDOWN_GRACE_MS)
        server.close(() => {
          clearTimeout(timer)
          done()
        })
        server.closeIdleConnections()
      })
      return closing
    },
  }
}

async function initialPair(cfg: BundleEndpointConfig): Promise<{ certPem: string; keyPem: string }> {
  if (cfg.profile === 'https_spiffe') {
    if (!cfg.identity) throw new TypeError('the https_spiffe profile needs an identity')
    return identityPair(cfg.identity)
  }
  if (cfg.profile !== 'https_web')
    throw new TypeError(`unknown bundle endpoint profile ${String(cfg.profile)}`)
  if (cfg.certFile !== undefined || cfg.keyFile !== undefined) {
    if (!cfg.certFile || !cfg.keyFile) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        'bundle endpoint: give both a certificate file and a key file',
      )
    }
    const pair = await readWebPair(cfg.certFile, cfg.keyFile)
    const now = (cfg.clock ?? (() => new Date()))()
    if (pair.notAfter < now) {
      cfg.logger.warn(
        { cert_file: cfg.certFile, not_after: pair.notAfter.toISOString() },
        'bundle endpoint certificate has expired',
      )
    }
    return pair
  }
  const dev = await loadOrCreateDevCertificate({
    dataDir: cfg.dataDir,
    trustDomain: cfg.bundle().trustDomain,
    host: cfg.address.host,
    now: (cfg.clock ?? (() => new Date()))(),
  })
  cfg.logger.warn(
    { ca_file: dev.caPath, generated: dev.generated, not_after: dev.notAfter.toISOString() },
    'bundle endpoint uses a development certificate (localhost, 127.0.0.1, ::1); clients must trust ca_file',
  )
  return dev
}

function serve(cfg: BundleEndpointConfig, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    reply(res, 405, 'method not allowed', { Allow: 'GET' })
    return
  }
  const path = pathOf(req.url)
  if (path !== '/') {
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

function reply(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const body = `${status} ${text}\n`
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  })
  res.end(body)
}

/** The query of a request target (empty when none or unparsable). */
function queryOf(url: string | undefined): URLSearchParams {
  try {
    return new URL(url ?? '/', 'https://bundle.invalid').searchParams
  } catch {
    return new URLSearchParams()
  }
}

/** The path of a request target (origin form `/x?y` or absolute form `https://h/x`). */
function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined
  if (url.startsWith('/')) return url.split('?')[0]
  try {
    return new URL(url).pathname
  } catch {
    return undefined
  }
}

function listen(server: Server, address: { host: string; port: number }): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: Error) =>
      fail(
        new SigilError(
          'ERR_UNAVAILABLE',
          `bundle endpoint cannot listen on ${formatHost(address.host)}:${address.port}: ${err.message}`,
        ),
      )
    server.once('error', onError)
    server.listen(address.port, address.host, () => {
      server.off('error', onError)
      done()
    })
  })
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
