/**
 * HTTPS over mutual TLS for the demo's components, built only from the SDK: a server that
 * presents the component's current X509-SVID and lets in only the peers its authorizer
 * allows (reporting every accepted and refused connection, and why), and a client call that
 * presents the current SVID and accepts only the server its authorizer allows.
 *
 * Trust: peers are verified against the bundles the agent handed this component; a new
 * connection per call, so every call is verified and picks up a rotated SVID.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { createServer, request, type Server } from 'node:https'
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls'
import {
  type Authorizer,
  peerSpiffeId,
  type SpiffeId,
  serveMtls,
  tlsClientOptions,
  tlsServerOptions,
} from '../../sdk/index.js'
import type { Component } from './component-runtime.js'

/** What a handler answers. */
export interface Reply {
  readonly status: number
  readonly body: unknown
}

/** How {@link serveHttps} serves. */
export interface ServeHttpsOptions {
  /** Decides which verified peers may connect. */
  readonly authorizer: Authorizer
  /** Whom the authorizer lets in, for the timeline. */
  readonly accepts: string
  /** Answers one request from a verified, authorized peer. */
  readonly handle: (req: IncomingMessage, peer: SpiffeId, ownSerial: string) => Promise<Reply>
}

/** A call's answer, with the serials each side presented on that connection. */
export interface CallResult {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly ownSerial: string
  readonly peerSerial: string
}

/** The lowercase serial of a certificate Node reports, or '' when there is none. */
export function serialOf(cert: PeerCertificate | object | null | undefined): string {
  const serial = (cert as Partial<PeerCertificate> | null | undefined)?.serialNumber
  return typeof serial === 'string' ? serial.toLowerCase() : ''
}

/** The SPIFFE ID a peer certificate claims (unverified: for reporting refusals only). */
function claimedId(socket: TLSSocket): string | undefined {
  const san = (socket.getPeerCertificate() as Partial<DetailedPeerCertificate>)?.subjectaltname ?? ''
  return /URI:(spiffe:\/\/[^,\s]+)/.exec(san)?.[1]
}

/**
 * A TLS error in a few words: OpenSSL's reason ("peer did not return a certificate") rather
 * than its whole line, and the verification result Node keeps on the socket when it hung up
 * on a client whose certificate did not verify.
 *
 * @example
 * describeTlsError(err) // 'peer did not return a certificate'
 */
export function describeTlsError(err: Error, socket?: TLSSocket): string {
  const verify = socket?.authorizationError
  if (verify) return 'the client certificate does not chain to a CA of the trust bundle'
  return /routines:[^:]*:([^:\n]+)/.exec(err.message)?.[1] ?? err.message.split('\n')[0] ?? ''
}

/**
 * Starts an mTLS HTTPS server on 127.0.0.1 (a free port), reports `listening`, and stops it
 * when the component stops. Resolves the port.
 *
 * @example
 * await serveHttps(c, { authorizer: authorizeId(c.idOf('planner')), accepts: 'planner', handle })
 */
export function serveHttps(c: Component, opts: ServeHttpsOptions): Promise<number> {
  const server: Server = createServer(tlsServerOptions(c.x509), (req, res) => {
    const socket = req.socket as TLSSocket
    const reply = (r: Reply): void => {
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body))
    }
    opts
      .handle(req, peerSpiffeId(socket), serialOf(socket.getCertificate()))
      .then(reply, (err: unknown) => reply({ status: 500, body: { error: (err as Error).message } }))
  })
  // serveMtls closes a refused socket before telling us, so note what the peer claimed first.
  const claimed = new WeakMap<TLSSocket, string | undefined>()
  serveMtls(server, c.x509, opts.authorizer, {
    onRefused: (err, socket) =>
      c.emit({
        kind: 'refused',
        layer: 'mtls',
        peer: claimed.get(socket),
        code: err.code,
        reason: err.message,
      }),
  })
  server.prependListener('secureConnection', (socket: TLSSocket) => claimed.set(socket, claimedId(socket)))
  // Runs after serveMtls's own check: a refused socket is already destroyed.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.destroyed) return
    c.emit({
      kind: 'accepted',
      layer: 'mtls',
      peer: peerSpiffeId(socket).toString(),
      peerSerial: serialOf(socket.getPeerCertificate()),
    })
  })
  // The handshake failed before any SPIFFE check: OpenSSL refused (no certificate, an unknown
  // CA …), or the client hung up (e.g. because it did not accept us).
  server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    if (err.code === 'ECONNRESET' && !socket.authorizationError) {
      c.emit({ kind: 'notice', text: 'a client hung up during the TLS handshake' })
      return
    }
    const code = socket.authorizationError ? String(socket.authorizationError) : (err.code ?? 'ERR_TLS')
    c.emit({ kind: 'refused', layer: 'tls', code, reason: describeTlsError(err, socket) })
  })
  c.onStop(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      c.emit({ kind: 'listening', port, accepts: opts.accepts })
      resolve(port)
    })
  })
}

/**
 * One GET over a new mTLS connection; the server must pass `authorizer`. Rejects with the
 * SDK's `SigilError` when the server is refused, or the socket error when the server hangs up.
 *
 * @example
 * const { body } = await callHttps(c, `${url}/research`, authorizeId(c.idOf('researcher')))
 */
export function callHttps(
  c: Component,
  url: string,
  authorizer: Authorizer,
  headers: OutgoingHttpHeaders = {},
  timeoutMs = 5_000,
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tlsClientOptions(c.x509, authorizer), agent: false, headers }, (res) => {
      const socket = res.socket as TLSSocket
      const ownSerial = serialOf(socket.getCertificate())
      const peerSerial = serialOf(socket.getPeerCertificate())
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('error', reject)
      res.on('end', () => {
        let body: Record<string, unknown> = {}
        try {
          body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>
        } catch {
          body = { error: 'the answer was not JSON' }
        }
        resolve({ status: res.statusCode ?? 0, body, ownSerial, peerSerial })
      })
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}
