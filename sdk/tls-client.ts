/**
 * Mutual TLS for Node clients (`tls.connect`, `https.request`, `http2.connect`) from an SVID
 * source: each new connection presents the source's current X509-SVID and accepts the server
 * only when its chain verifies as an X509-SVID of a trusted trust domain and the authorizer
 * allows its SPIFFE ID; the host name is not checked. A refusal fails the connection (and
 * the request) with that `SigilError`.
 */
import type { ConnectionOptions, PeerCertificate, SecureContext } from 'node:tls'
import type { Authorizer } from './authorizers.js'
import { credentialsOf, type MtlsSource, peerChainOf, verifyPeer } from './tls-peer.js'

/** What {@link tlsClientOptions} takes besides the source and authorizer. */
export interface TlsClientOptionsOptions {
  /** The verification clock; default `() => new Date()`. */
  readonly now?: () => Date
}

/**
 * Connection options for an mTLS client. `secureContext` is a getter read when a connection
 * starts, so reuse the returned object (or call this per request) rather than copying it once.
 * TLS session resumption is turned off so every connection is verified and authorized.
 *
 * @example
 * https.get(`https://127.0.0.1:${port}/`, { ...tlsClientOptions(source, authorizeId(serverId)), agent: false }, onResponse)
 * http2.connect(`https://127.0.0.1:${port}`, tlsClientOptions(source, authorizeMemberOf('example.org')))
 */
export function tlsClientOptions(
  source: MtlsSource,
  authorizer: Authorizer,
  opts: TlsClientOptionsOptions = {},
): ConnectionOptions {
  if (typeof authorizer !== 'function') throw new TypeError('authorizer must be a function')
  const now = opts.now ?? (() => new Date())
  const current = credentialsOf(source)
  return {
    get secureContext(): SecureContext {
      return current().context
    },
    rejectUnauthorized: true,
    // An agent would otherwise resume a cached session and skip checkServerIdentity.
    session: undefined,
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      try {
        verifyPeer(peerChainOf(cert as Parameters<typeof peerChainOf>[0]), source, authorizer, now())
        return undefined
      } catch (err) {
        return err as Error
      }
    },
  }
}
