/**
 * A FetchX509SVID stream in gRPC's wire format by hand over node:http2 (the security header, an
 * empty request sent whole): what the flood client and the limits tests open by the thousand,
 * without a gRPC client library deciding for them how to queue, read or cancel.
 */
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2'

/** An empty request message: no compression flag, zero length. */
const EMPTY_REQUEST = Buffer.from([0, 0, 0, 0, 0])

/**
 * Opens one FetchX509SVID stream on `session`; its errors are ignored (the caller watches
 * `response`, `trailers` and `close`).
 *
 * @example
 * const req = rawFetchX509(http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) }))
 * req.pause() // never read: no WINDOW_UPDATE
 */
export function rawFetchX509(session: ClientHttp2Session): ClientHttp2Stream {
  const req = session.request({
    ':method': 'POST',
    ':path': '/SpiffeWorkloadAPI/FetchX509SVID',
    'content-type': 'application/grpc',
    te: 'trailers',
    'workload.spiffe.io': 'true',
  })
  req.on('error', () => {})
  req.end(EMPTY_REQUEST)
  return req
}
