/**
 * OIDC discovery on a listener of its own (`--oidc-discovery-address`), for when the
 * discovery URL must live on another port or name than the bundle endpoint (a cloud
 * relying party needs a publicly trusted certificate on port 443; the bundle endpoint may
 * stay internal). HTTPS with the bundle endpoint's certificate settings; plain HTTP only on a
 * loopback address, for a TLS-terminating proxy on the same host. Only the two discovery
 * paths are served (oidc-discovery.ts); everything else is 404, methods other than GET 405.
 *
 * Trust: public, like the bundle endpoint; `Host` is checked against the allow-list.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { SigilError } from '../../certs/errors.js'
import { isLoopbackHost } from '../../common/config/host-port.js'
import type { Log } from '../../common/logging/logger.js'
import {
  formatHost,
  type HttpsCertificateSource,
  listenPublic,
  type PublicListener,
  startHttpsListener,
} from './https-listener.js'
import { isOidcDiscoveryPath, type OidcDiscoveryConfig, serveOidcDiscovery } from './oidc-discovery.js'
import { pathOf, reply } from './public-http.js'

/** Everything the discovery listener needs. */
export interface OidcDiscoveryEndpointConfig {
  readonly address: { readonly host: string; readonly port: number }
  /** HTTPS certificate (the bundle endpoint's settings), or `'plain-http'` (loopback only). */
  readonly transport: HttpsCertificateSource | 'plain-http'
  readonly discovery: OidcDiscoveryConfig
  readonly logger: Log
}

/**
 * Starts the discovery listener. Throws `ERR_CONFIG_INVALID` for plain HTTP on a
 * non-loopback address, `ERR_UNAVAILABLE` when it cannot listen.
 *
 * @example
 * await startOidcDiscoveryEndpoint({ address: { host: '127.0.0.1', port: 8080 }, transport: 'plain-http', discovery, logger })
 */
export async function startOidcDiscoveryEndpoint(cfg: OidcDiscoveryEndpointConfig): Promise<PublicListener> {
  const handler = (req: IncomingMessage, res: ServerResponse) => serve(cfg.discovery, req, res)
  let listener: PublicListener
  let scheme: 'http' | 'https'
  if (cfg.transport === 'plain-http') {
    if (!isLoopbackHost(cfg.address.host)) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `oidc-discovery-plain-http: plain HTTP is allowed only on a loopback address, not ${cfg.address.host}`,
      )
    }
    const server = createHttpServer(handler)
    listener = await listenPublic(server, cfg.address, 'OIDC discovery')
    scheme = 'http'
  } else {
    listener = await startHttpsListener(
      { name: 'OIDC discovery', address: cfg.address, cert: cfg.transport, logger: cfg.logger },
      handler,
    )
    scheme = 'https'
  }
  cfg.logger.info(
    { oidc_discovery: `${scheme}://${formatHost(cfg.address.host)}:${listener.port}/` },
    'OIDC discovery listening',
  )
  return listener
}

function serve(discovery: OidcDiscoveryConfig, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    reply(res, 405, 'method not allowed', { Allow: 'GET' })
    return
  }
  const path = pathOf(req.url)
  if (path !== undefined && isOidcDiscoveryPath(path)) {
    serveOidcDiscovery(discovery, path, req, res)
    return
  }
  reply(res, 404, 'not found')
}
