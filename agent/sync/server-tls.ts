/**
 * TLS to the server's agent API. The server must present an X509-SVID for
 * `spiffe://<trust domain>/sigil/server` that verifies (certs' `verifyX509Svid`, at the agent's
 * clock) against the X.509 authorities of the bundle the agent trusts: the bootstrap bundle
 * (`--trust-bundle`) until the first attestation, then always the latest bundle received over
 * an authenticated channel. The hostname plays no part: Node's hostname check is replaced by
 * the SPIFFE ID check. After attestation the agent presents its own SVID (mutual TLS).
 *
 * Insecure bootstrap (`--insecure-bootstrap`, development only) has no bundle to verify against,
 * so OpenSSL's verdict is ignored for that one connection; `insecure-bootstrap-probe.ts` still
 * requires the server's SPIFFE ID and later checks the chain against the bundle received.
 */
import type { KeyObject } from 'node:crypto'
import type { PeerCertificate } from 'node:tls'
import { type ChannelCredentials, credentials } from '@grpc/grpc-js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'

/** Path of the server's own SPIFFE ID. */
export const SERVER_ID_PATH = '/sigil/server'

/** `spiffe://<td>/sigil/server`, the only identity the agent accepts for the server. */
export function serverSpiffeId(trustDomain: TrustDomain): SpiffeId {
  return SpiffeId.fromPath(trustDomain, SERVER_ID_PATH)
}

/** The agent's own credential for mutual TLS. */
export interface ClientSvid {
  /** DER, leaf first. */
  readonly chainDer: readonly Buffer[]
  readonly privateKey: KeyObject
}

/** What {@link serverChannelCredentials} needs. */
export interface ServerTlsOptions {
  readonly trustDomain: TrustDomain
  /** The bundle the server's SVID must chain to; `undefined` only for insecure bootstrap. */
  readonly bundle: TrustBundle | undefined
  /** Present this SVID (mutual TLS); absent for attestation. */
  readonly clientSvid?: ClientSvid
  readonly clock: () => Date
}

/**
 * Walks Node's detailed peer certificate (`getPeerCertificate(true)`) into a DER chain, leaf first.
 *
 * @example
 * peerChainDer(tlsSocket.getPeerCertificate(true)) // [leafDer, intermediateDer, ...]
 */
export function peerChainDer(cert: PeerCertificate): Buffer[] {
  const chain: Buffer[] = []
  const seen = new Set<unknown>()
  let current: PeerCertificate | undefined = cert
  while (current?.raw && !seen.has(current) && chain.length < 16) {
    seen.add(current)
    chain.push(current.raw)
    const issuer: unknown = (current as { issuerCertificate?: unknown }).issuerCertificate
    if (issuer === current || typeof issuer !== 'object' || issuer === null) break
    current = issuer as PeerCertificate
  }
  return chain
}

/**
 * Checks that `chainDer` is the server's X509-SVID for `trustDomain`, trusted by `bundle` at
 * `now`; returns an Error saying why not (the form Node's `checkServerIdentity` wants).
 */
export function checkServerSvid(
  chainDer: readonly Buffer[],
  trustDomain: TrustDomain,
  bundle: TrustBundle,
  now: Date,
): Error | undefined {
  const expected = serverSpiffeId(trustDomain).toString()
  try {
    const { spiffeId } = verifyX509Svid(
      chainDer,
      (td) => (td.equals(trustDomain) ? bundle.x509Authorities : undefined),
      { now },
    )
    if (spiffeId.toString() !== expected) {
      return new Error(`server presented "${spiffeId}", expected "${expected}"`)
    }
    return undefined
  } catch (e) {
    return new Error(`server certificate refused: ${(e as Error).message}`, { cause: e })
  }
}

/**
 * gRPC channel credentials for the agent API (see the module comment).
 *
 * @example
 * const creds = serverChannelCredentials({ trustDomain, bundle, clientSvid: identity, clock })
 * const client = new AgentApi.Client('127.0.0.1:8081', creds)
 */
export function serverChannelCredentials(opts: ServerTlsOptions): ChannelCredentials {
  const { trustDomain, bundle, clientSvid, clock } = opts
  const key = clientSvid ? Buffer.from(privateKeyToPkcs8Pem(clientSvid.privateKey)) : null
  const chain = clientSvid ? Buffer.from(certificatesToPem([...clientSvid.chainDer])) : null
  if (!bundle) {
    return credentials.createSsl(null, key, chain, { rejectUnauthorized: false })
  }
  if (bundle.x509Authorities.length === 0) throw new TypeError('the trust bundle has no X.509 authorities')
  const roots = Buffer.from(certificatesToPem([...bundle.x509Authorities]))
  return credentials.createSsl(roots, key, chain, {
    checkServerIdentity: (_hostname, cert) =>
      checkServerSvid(peerChainDer(cert), trustDomain, bundle, clock()),
  })
}
