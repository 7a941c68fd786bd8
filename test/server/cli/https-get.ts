// A small HTTPS client for tests: one request on a fresh connection, with the peer chain.
import { request } from 'node:https'
import type { PeerCertificate } from 'node:tls'

export interface HttpsAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The body's bytes (for binary answers such as GET /crl). */
  raw: Buffer
  /** The server's certificate chain as sent (DER, leaf first). */
  peerChain: Buffer[]
}

/** Sends one request (fresh TLS connection, no keep-alive) and collects the answer. */
export function httpsRequest(
  url: string,
  opts: {
    method?: string
    ca?: string | Buffer
    servername?: string
    rejectUnauthorized?: boolean
    /** Extra request headers (`host` replaces the Host header). */
    headers?: Record<string, string>
  } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: false,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
        ...(opts.headers ? { headers: opts.headers } : {}),
      },
      (res) => {
        const peerChain: Buffer[] = []
        const socket = res.socket as import('node:tls').TLSSocket
        let cert: PeerCertificate | undefined = socket.getPeerCertificate(true)
        const seen = new Set<string>()
        while (cert?.raw && !seen.has(cert.fingerprint256)) {
          seen.add(cert.fingerprint256)
          peerChain.push(cert.raw)
          cert = (cert as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate
        }
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            raw: Buffer.concat(chunks),
            peerChain,
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
