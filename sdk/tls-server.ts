/**
 * Mutual TLS for Node servers (`tls.createServer`, `https.createServer`,
 * `http2.createSecureServer`) from an SVID source: the server presents the source's current
 * X509-SVID, asks every client for its own, and accepts a connection only when the client's
 * chain verifies as an X509-SVID of a trusted trust domain and the authorizer allows its ID.
 *
 * Two steps, because Node offers no per-connection verification hook in server options:
 * create the server with {@link tlsServerOptions}, then hand it to {@link serveMtls}, which
 * checks each connection before any request on it is read and swaps the server's credentials
 * on every rotation. Without `serveMtls`, OpenSSL still refuses clients whose certificate
 * does not chain to a trusted root, but no authorizer runs and `peerSpiffeId` throws.
 */
import type { Server, TLSSocket, TlsOptions } from 'node:tls'
import { SigilError } from '../certs/errors.js'
import type { Authorizer } from './authorizers.js'
import { credentialsOf, type MtlsSource, peerChainOf, setPeerSpiffeId, verifyPeer } from './tls-peer.js'

/** What {@link serveMtls} takes besides the server, source and authorizer. */
export interface ServeMtlsOptions {
  /** Told about every refused client (the connection is closed). */
  readonly onRefused?: (error: SigilError, socket: TLSSocket) => void
  /** Other TLS context options to keep on every credential swap (ciphers, minVersion …). */
  readonly contextOptions?: Omit<TlsOptions, 'key' | 'cert' | 'ca'>
  /** The verification clock; default `() => new Date()`. */
  readonly now?: () => Date
}

/**
 * Options to create an mTLS server with: the source's current SVID and trust roots, client
 * certificates required. Pass the server to {@link serveMtls} next.
 *
 * @example
 * const server = https.createServer(tlsServerOptions(source), handler)
 * serveMtls(server, source, authorizeId('spiffe://example.org/client'))
 */
export function tlsServerOptions(source: MtlsSource): TlsOptions {
  const { key, cert, ca } = credentialsOf(source)()
  return { key, cert, ca, requestCert: true, rejectUnauthorized: true }
}

/**
 * Makes a server created with {@link tlsServerOptions} verify and authorize every client (the
 * connection is closed before any request is read when that fails) and present the current
 * SVID after every rotation. Returns the server. Stops following the source when it closes.
 *
 * @example
 * const server = serveMtls(https.createServer(tlsServerOptions(source), (req, res) => {
 *   res.end(`hello ${peerSpiffeId(req.socket)}`)
 * }), source, authorizeMemberOf('example.org'))
 */
export function serveMtls<S extends Server>(
  server: S,
  source: MtlsSource,
  authorizer: Authorizer,
  opts: ServeMtlsOptions = {},
): S {
  if (typeof authorizer !== 'function') throw new TypeError('authorizer must be a function')
  const now = opts.now ?? (() => new Date())
  const current = credentialsOf(source)
  const refresh = (): void => {
    const { key, cert, ca } = current()
    server.setSecureContext({ ...opts.contextOptions, key, cert, ca })
  }
  const onSecure = (socket: TLSSocket): void => {
    try {
      setPeerSpiffeId(
        socket,
        verifyPeer(peerChainOf(socket.getPeerCertificate(true)), source, authorizer, now()),
      )
    } catch (err) {
      socket.destroy()
      const error =
        err instanceof SigilError
          ? err
          : new SigilError('ERR_NOT_AUTHORIZED', 'client refused', { cause: err })
      opts.onRefused?.(error, socket)
    }
  }
  // First, so the connection is gone before https/http2 start reading requests from it.
  server.prependListener('secureConnection', onSecure)
  refresh()
  const unsubscribe = source.onUpdate(() => {
    try {
      refresh()
    } catch {
      // Keep serving the previous credentials; the next update tries again.
    }
  })
  server.once('close', unsubscribe)
  return server
}
