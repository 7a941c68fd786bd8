/**
 * The HTTPS listener the public endpoints share (the bundle endpoint, the OIDC discovery
 * listener): Mozilla-intermediate TLS (bundle-endpoint-tls.ts), a certificate from the
 * profile (`https_web`: operator files or the development pair; `https_spiffe`: the server's
 * X509-SVID, replaced on rotation without a restart), request timeouts, and a close() that
 * lets open requests finish for a short grace period.
 *
 * Trust: the listener asks for no client certificate; what it serves is the handler's business.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { SigilError } from '../../certs/errors.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { loadOrCreateDevCertificate } from './bundle-dev-certificate.js'
import {
  type BundleEndpointIdentity,
  bundleEndpointTlsOptions,
  identityPair,
  readWebPair,
} from './bundle-endpoint-tls.js'

/** How long a request may take to arrive (headers and all). */
export const PUBLIC_REQUEST_TIMEOUT_MS = 10_000
/** How long close() lets open connections finish. */
export const PUBLIC_SHUTDOWN_GRACE_MS = 2_000

/** Where a public HTTPS listener gets its certificate. */
export interface HttpsCertificateSource {
  readonly profile: 'https_web' | 'https_spiffe'
  /** https_web: PEM certificate chain (with keyFile); unset → the development pair. */
  readonly certFile?: string
  /** https_web: PEM private key (with certFile). */
  readonly keyFile?: string
  /** Where the development pair lives (`<dataDir>/bundle-endpoint/`). */
  readonly dataDir: string
  readonly trustDomain: TrustDomain
  /** https_spiffe: the server's X509-SVID source. */
  readonly identity?: BundleEndpointIdentity
  /**
   * Listen hosts the development certificate names besides localhost, 127.0.0.1 and ::1
   * (every public listener's, so they share one pair); default: this listener's host.
   */
  readonly devCertificateHosts?: readonly string[]
  /** For the development pair's validity; default the system clock. */
  readonly clock?: () => Date
}

/** A running public listener. */
export interface PublicListener {
  /** The port actually bound. */
  readonly port: number
  /** Stops listening and closes connections (after a short grace period). */
  close(): Promise<void>
}

/**
 * Starts an HTTPS listener with the certificate of `cert`'s profile.
 *
 * @example
 * const l = await startHttpsListener({ name: 'bundle endpoint', address, cert, logger }, (req, res) => …)
 */
export async function startHttpsListener(
  cfg: {
    /** For log lines and errors ("bundle endpoint", "OIDC discovery"). */
    readonly name: string
    readonly address: { readonly host: string; readonly port: number }
    readonly cert: HttpsCertificateSource
    readonly logger: Log
  },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<PublicListener> {
  const { logger, cert, name } = cfg
  const pair = await initialPair(cfg)
  const server = createServer(bundleEndpointTlsOptions(pair), handler)
  server.on('tlsClientError', () => {}) // scanners and bad handshakes are not worth a log line
  let closed = false
  if (cert.profile === 'https_spiffe') {
    const identity = cert.identity as BundleEndpointIdentity
    identity.onChange(() => {
      if (closed) return
      try {
        server.setSecureContext(bundleEndpointTlsOptions(identityPair(identity)))
        logger.info({ not_after: identity.current().notAfter.toISOString() }, `${name} certificate rotated`)
      } catch (err) {
        logger.error({ err: errorText(err) }, `${name} rotation failed`)
      }
    })
  }
  const listener = await listenPublic(server, cfg.address, name)
  return {
    port: listener.port,
    close() {
      closed = true
      return listener.close()
    },
  }
}

/**
 * Applies the public-listener timeouts to `server`, listens, and returns its port and a
 * graceful close. Throws `ERR_UNAVAILABLE` naming the address when it cannot listen.
 */
export async function listenPublic(
  server: Server | import('node:http').Server,
  address: { readonly host: string; readonly port: number },
  name: string,
): Promise<PublicListener> {
  server.requestTimeout = PUBLIC_REQUEST_TIMEOUT_MS
  server.headersTimeout = PUBLIC_REQUEST_TIMEOUT_MS
  server.keepAliveTimeout = 5_000
  await new Promise<void>((done, fail) => {
    const onError = (err: Error) =>
      fail(
        new SigilError(
          'ERR_UNAVAILABLE',
          `${name} cannot listen on ${formatHost(address.host)}:${address.port}: ${err.message}`,
        ),
      )
    server.once('error', onError)
    server.listen(address.port, address.host, () => {
      server.off('error', onError)
      done()
    })
  })
  const port = (server.address() as AddressInfo).port
  let closing: Promise<void> | undefined
  return {
    port,
    close() {
      closing ??= new Promise<void>((done) => {
        const timer = setTimeout(() => server.closeAllConnections(), PUBLIC_SHUTDOWN_GRACE_MS)
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

/** `host` as it goes before `:port` in a URL (IPv6 in brackets). */
export function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

async function initialPair(cfg: {
  name: string
  address: { host: string }
  cert: HttpsCertificateSource
  logger: Log
}): Promise<{ certPem: string; keyPem: string }> {
  const { cert, name } = cfg
  if (cert.profile === 'https_spiffe') {
    if (!cert.identity) throw new TypeError('the https_spiffe profile needs an identity')
    return identityPair(cert.identity)
  }
  if (cert.profile !== 'https_web') throw new TypeError(`unknown ${name} profile ${String(cert.profile)}`)
  const now = (cert.clock ?? (() => new Date()))()
  if (cert.certFile !== undefined || cert.keyFile !== undefined) {
    if (!cert.certFile || !cert.keyFile) {
      throw new SigilError('ERR_CONFIG_INVALID', `${name}: give both a certificate file and a key file`)
    }
    const pair = await readWebPair(cert.certFile, cert.keyFile)
    if (pair.notAfter < now) {
      cfg.logger.warn(
        { cert_file: cert.certFile, not_after: pair.notAfter.toISOString() },
        `${name} certificate has expired`,
      )
    }
    return pair
  }
  const dev = await loadOrCreateDevCertificate({
    dataDir: cert.dataDir,
    trustDomain: cert.trustDomain,
    hosts: cert.devCertificateHosts ?? [cfg.address.host],
    now,
  })
  cfg.logger.warn(
    { ca_file: dev.caPath, generated: dev.generated, not_after: dev.notAfter.toISOString() },
    `${name} uses a development certificate (localhost, 127.0.0.1, ::1); clients must trust ca_file`,
  )
  return dev
}
