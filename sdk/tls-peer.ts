/**
 * The SPIFFE side of mutual TLS, shared by `tls-server.ts` and `tls-client.ts`: the TLS
 * credentials built from a source's current SVID and bundles, and the check of a peer's
 * certificate chain. OpenSSL's own chain check (against every trusted root at once) runs first
 * during the handshake; this check is the one that counts: the peer's chain is verified as an
 * X509-SVID against the bundle of the peer's own trust domain only (SPIFFE.md §2), then the
 * authorizer decides on the verified SPIFFE ID. Host names play no part.
 */

import { X509Certificate } from 'node:crypto'
import {
  createSecureContext,
  type DetailedPeerCertificate,
  type SecureContext,
  type TLSSocket,
} from 'node:tls'
import type { TrustBundle } from '../certs/bundle/trust-bundle.js'
import { SigilError } from '../certs/errors.js'
import { privateKeyToPkcs8Pem } from '../certs/keys/keys.js'
import type { SpiffeId } from '../certs/spiffeid/spiffe-id.js'
import { normalizeSerial } from '../certs/x509svid/crl.js'
import { certificatesToPem } from '../certs/x509svid/pem.js'
import { verifyX509Svid } from '../certs/x509svid/verify-x509-svid.js'
import type { Authorizer } from './authorizers.js'
import type { X509Svid } from './x509-context.js'

/** What mTLS reads from a source on every handshake (an {@link X509Source} is one). */
export interface MtlsSource {
  getX509Svid(): X509Svid
  /** X.509 bundles by trust-domain name. */
  getX509Bundles(): ReadonlyMap<string, TrustBundle>
  /** Calls the listener after every update; returns the unsubscribe function. */
  onUpdate(listener: () => void): () => void
  /** Revoked serials (lowercase hex) from the agent's CRLs; absent: none are checked. */
  getRevokedSerials?(): ReadonlySet<string>
}

/** PEM material for `tls.createSecureContext` / `server.setSecureContext`. */
export interface TlsCredentials {
  readonly key: string
  readonly cert: string
  readonly ca: string[]
}

/** Longest chain a peer may present (leaf included). */
const MAX_PEER_CHAIN = 10

const PEER_ID = Symbol('sigil.peerSpiffeId')

/**
 * Returns a function giving the current TLS credentials (and a SecureContext) of a source,
 * rebuilt only when the SVID or the bundles change.
 *
 * @example
 * const current = credentialsOf(source)
 * tls.connect({ secureContext: current().context, ... })
 */
export function credentialsOf(source: MtlsSource): () => TlsCredentials & { context: SecureContext } {
  let svid: X509Svid | undefined
  let bundles: ReadonlyMap<string, TrustBundle> | undefined
  let built: (TlsCredentials & { context: SecureContext }) | undefined
  return () => {
    const nowSvid = source.getX509Svid()
    const nowBundles = source.getX509Bundles()
    if (built === undefined || nowSvid !== svid || nowBundles !== bundles) {
      const ca = [...nowBundles.values()].flatMap((b) =>
        b.x509Authorities.map((der) => certificatesToPem([der])),
      )
      const material = {
        key: privateKeyToPkcs8Pem(nowSvid.privateKey),
        cert: certificatesToPem([...nowSvid.chainDer]),
        ca,
      }
      built = { ...material, context: createSecureContext(material) }
      svid = nowSvid
      bundles = nowBundles
    }
    return built
  }
}

/**
 * The certificates a TLS peer presented, leaf first, from `getPeerCertificate(true)`.
 *
 * @example
 * peerChainOf(socket.getPeerCertificate(true)) // [leafDer, ...]
 */
export function peerChainOf(cert: DetailedPeerCertificate | Record<string, never> | undefined): Buffer[] {
  const chain: Buffer[] = []
  let c = cert as DetailedPeerCertificate | undefined
  while (c?.raw && chain.length < MAX_PEER_CHAIN) {
    const raw = c.raw
    if (chain.some((d) => d.equals(raw))) break
    chain.push(raw)
    c = c.issuerCertificate === c ? undefined : c.issuerCertificate
  }
  return chain
}

/**
 * Verifies a peer's chain as an X509-SVID against the source's bundles, then authorizes it.
 * Throws `ERR_NOT_AUTHORIZED` (no certificate, or the authorizer refused) or the verifier's
 * `ERR_SVID_*` / `ERR_CERT_INVALID` codes.
 *
 * @example
 * const id = verifyPeer(peerChainOf(cert), source, authorizeId('spiffe://example.org/db'), new Date())
 */
export function verifyPeer(
  chain: readonly Buffer[],
  source: Pick<MtlsSource, 'getX509Bundles' | 'getRevokedSerials'>,
  authorizer: Authorizer,
  now: Date,
): SpiffeId {
  if (chain.length === 0) throw new SigilError('ERR_NOT_AUTHORIZED', 'the peer presented no certificate')
  const bundles = source.getX509Bundles()
  const { spiffeId, verifiedChain } = verifyX509Svid(
    [...chain],
    (td) => bundles.get(td.name)?.x509Authorities,
    {
      now,
    },
  )
  const revoked = source.getRevokedSerials?.()
  if (revoked !== undefined && revoked.size > 0) {
    const serial = normalizeSerial(new X509Certificate(chain[0]!).serialNumber)
    if (revoked.has(serial)) {
      throw new SigilError('ERR_SVID_REVOKED', `the peer's X509-SVID (serial ${serial}) has been revoked`)
    }
  }
  authorizer(spiffeId, verifiedChain)
  return spiffeId
}

/**
 * Records the verified SPIFFE ID of a connection's peer (for {@link peerSpiffeId}).
 *
 * @example
 * setPeerSpiffeId(socket, verifyPeer(peerChainOf(socket.getPeerCertificate(true)), source, authorizer, new Date()))
 */
export function setPeerSpiffeId(socket: TLSSocket, id: SpiffeId): void {
  Object.defineProperty(socket, PEER_ID, { value: id, configurable: false, enumerable: false })
}

/**
 * The verified SPIFFE ID of the client on a connection accepted by `serveMtls` (for https,
 * `req.socket`; for http2, `req.socket` or `stream.session.socket`). Throws
 * `ERR_NOT_AUTHORIZED` for a connection whose peer was not verified that way.
 *
 * @example
 * https.createServer(tlsServerOptions(source), (req, res) => res.end(`hello ${peerSpiffeId(req.socket)}`))
 */
export function peerSpiffeId(socket: object): SpiffeId {
  const id = (socket as { [PEER_ID]?: SpiffeId } | null)?.[PEER_ID]
  if (id === undefined) {
    throw new SigilError('ERR_NOT_AUTHORIZED', 'the peer of this connection was not verified by serveMtls')
  }
  return id
}
