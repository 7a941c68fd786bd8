// Give your service an identity: an HTTPS service that only answers one SPIFFE ID, and a
// client that only trusts the service's SPIFFE ID. Both get rotating X509-SVIDs from the
// agent (SPIFFE_ENDPOINT_SOCKET) and never restart for a rotation.
import https from 'node:https'
import {
  authorizeId,
  peerSpiffeId,
  serveMtls,
  tlsClientOptions,
  tlsServerOptions,
  X509Source,
} from '../../sdk/index.js'

/** Starts the service; `allowedCaller` is the one SPIFFE ID it answers. */
export async function startHelloService(allowedCaller: string, ownId?: string) {
  const source = await X509Source.create({
    picker: (svids) => svids.find((s) => !ownId || s.spiffeId.toString() === ownId),
  })
  const server = https.createServer(tlsServerOptions(source), (req, res) => {
    res.end(`hello, ${peerSpiffeId(req.socket)}\n`) // the caller's verified SPIFFE ID
  })
  serveMtls(server, source, authorizeId(allowedCaller)) // refuses every other caller
  const close = () => {
    server.close()
    source.close()
  }
  return { server, close }
}

/** Calls the service at `url`, accepting only a server whose SPIFFE ID is `serviceId`. */
export async function callHelloService(url: string, serviceId: string, ownId?: string): Promise<string> {
  const source = await X509Source.create({
    picker: (svids) => svids.find((s) => !ownId || s.spiffeId.toString() === ownId),
  })
  try {
    return await new Promise((resolve, reject) => {
      const options = { ...tlsClientOptions(source, authorizeId(serviceId)), agent: false }
      https
        .get(url, options, (res) => {
          let body = ''
          res.on('data', (chunk: Buffer) => {
            body += chunk.toString()
          })
          res.on('end', () => resolve(body))
        })
        .on('error', reject)
    })
  } finally {
    source.close()
  }
}
