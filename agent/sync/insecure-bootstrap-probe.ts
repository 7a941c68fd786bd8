/**
 * Insecure bootstrap (`--insecure-bootstrap`): the agent has no bundle yet, so it cannot verify
 * the server. It still refuses a server that does not even claim to be the server: before the
 * credential is sent, this probe opens a TLS connection without verification, reads the chain
 * the server presents, and requires a well-formed X509-SVID for `spiffe://<td>/sigil/server`.
 * Once attestation returns a bundle, {@link confirmProbedServer} verifies that same chain
 * against it, so the bundle the agent pins is one that vouches for the server it spoke to.
 * Trust: none before confirmation; anyone on the network path can impersonate the server. (The
 * attestation call itself runs on a second, unverified connection: grpc-js reports the peer
 * certificate only for connections that OpenSSL verified, so the two cannot be compared.)
 */
import { connect } from 'node:tls'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseX509Svid } from '../../certs/x509svid/parse-x509-svid.js'
import { checkServerSvid, peerChainDer, serverSpiffeId } from './server-tls.js'

/** The `host` and `port` of a `host:port` address (IPv6 in brackets). */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address)
  if (!m) throw new TypeError(`expected host:port, got "${address}"`)
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) }
}

/**
 * Connects without verification and returns the server's certificate chain (DER, leaf first),
 * after checking that the leaf names the server. Throws `ERR_UNAVAILABLE` when the server cannot
 * be reached and `ERR_SVID_UNTRUSTED` when it presents another identity.
 *
 * @example
 * const chain = await probeServerChain('127.0.0.1:8081', trustDomain, { timeoutMs: 5000 })
 */
export function probeServerChain(
  address: string,
  trustDomain: TrustDomain,
  opts: { timeoutMs: number },
): Promise<Buffer[]> {
  const { host, port } = splitHostPort(address)
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] })
    const fail = (e: Error) => {
      socket.destroy()
      reject(e)
    }
    socket.setTimeout(opts.timeoutMs, () =>
      fail(
        new SigilError('ERR_UNAVAILABLE', `server ${address}: TLS handshake timed out`, {
          cause: Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' }),
        }),
      ),
    )
    socket.once('error', (cause) =>
      fail(new SigilError('ERR_UNAVAILABLE', `server ${address}: ${cause.message}`, { cause })),
    )
    socket.once('secureConnect', () => {
      const chain = peerChainDer(socket.getPeerCertificate(true))
      socket.end()
      socket.destroy()
      const expected = serverSpiffeId(trustDomain).toString()
      try {
        const { spiffeId } = parseX509Svid(chain)
        if (spiffeId.toString() !== expected) throw new Error(`it presented "${spiffeId}"`)
      } catch (cause) {
        reject(
          new SigilError(
            'ERR_SVID_UNTRUSTED',
            `server ${address} is not ${expected}: ${(cause as Error).message}`,
            { cause },
          ),
        )
        return
      }
      resolve(chain)
    })
  })
}

/**
 * After insecure bootstrap: throws `ERR_SVID_UNTRUSTED` unless the probed chain verifies as the
 * server's SVID against the bundle the server returned.
 */
export function confirmProbedServer(
  chain: readonly Buffer[],
  trustDomain: TrustDomain,
  bundle: TrustBundle,
  now: Date,
): void {
  const problem = checkServerSvid(chain, trustDomain, bundle, now)
  if (problem) {
    throw new SigilError(
      'ERR_SVID_UNTRUSTED',
      `insecure bootstrap: the bundle received does not vouch for the server: ${problem.message}`,
    )
  }
}
