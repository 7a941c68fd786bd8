// The SDK against the real sigil-server and sigil-agent processes (issue 5 acceptance): the
// Workload API client and sources on the agent's socket; an https server and client built from
// X509Sources keep answering while their 5 s SVIDs rotate under a live connection loop;
// authorizers refuse the wrong SPIFFE ID on either side; http2 works the same way.
import { once } from 'node:events'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import t from 'tap'
import type { SigilError } from '../../certs/errors.js'
import { authorizeId, authorizeMemberOf } from '../../sdk/authorizers.js'
import { JWTSource } from '../../sdk/jwt-source.js'
import { tlsClientOptions } from '../../sdk/tls-client.js'
import { peerSpiffeId } from '../../sdk/tls-peer.js'
import { serveMtls, tlsServerOptions } from '../../sdk/tls-server.js'
import { WorkloadApiClient } from '../../sdk/workload-api-client.js'
import { X509Source } from '../../sdk/x509-source.js'
import { startSigilNode } from '../helpers/agent-process.js'

const SERVER_ID = 'spiffe://example.org/sdk/server'
const CLIENT_ID = 'spiffe://example.org/sdk/client'
const uid = process.getuid?.() ?? 0

const node = await startSigilNode(t)
// Two entries with the same selector: this one test process holds both identities.
await node.createEntry(SERVER_ID, [`unix:uid:${uid}`], ['--x509-svid-ttl', '5s'])
await node.createEntry(CLIENT_ID, [`unix:uid:${uid}`], ['--x509-svid-ttl', '5s'])
const socketPath = node.agent.socketPath
const sourceFor = (id: string) =>
  X509Source.create({
    socketPath,
    picker: (svids) => svids.find((s) => s.spiffeId.toString() === id),
    signal: AbortSignal.timeout(30_000),
  })

type Answer = { status: number; body: string; serverSerial: string }

function get(port: number, options: object): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
      const serverSerial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? ''
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serverSerial }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function listen(server: https.Server | http2.Http2SecureServer): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

t.test('the Workload API client on the agent socket, found through SPIFFE_ENDPOINT_SOCKET', async (t) => {
  const client = new WorkloadApiClient({ env: { SPIFFE_ENDPOINT_SOCKET: `unix://${socketPath}` } })
  t.teardown(() => client.close())
  const ctx = await client.fetchX509Context()
  t.same(ctx.svids.map((s) => s.spiffeId.toString()).sort(), [CLIENT_ID, SERVER_ID])
  t.ok(ctx.bundles.get('example.org')?.x509Authorities.length, 'own trust domain bundle')
  const x509Bundles = await client.fetchX509Bundles()
  t.ok(x509Bundles.get('example.org')?.equals(ctx.bundles.get('example.org')!))
  const jwtBundles = await client.fetchJwtBundles()
  t.ok(jwtBundles.get('example.org')?.jwtAuthorities.length, 'JWT keys')

  const svid = await client.fetchJwtSvid({ audience: ['tool-api'], spiffeId: CLIENT_ID })
  t.equal(svid.spiffeId.toString(), CLIENT_ID)
  const byAgent = await client.validateJwtSvid(svid.token, 'tool-api')
  t.equal(byAgent.spiffeId.toString(), CLIENT_ID)
  t.equal(byAgent.claims.sub, CLIENT_ID)
  await t.rejects(client.validateJwtSvid(svid.token, 'not-me'), { code: 'ERR_JWT_INVALID' })

  const jwt = await JWTSource.create({ socketPath, signal: AbortSignal.timeout(30_000) })
  t.teardown(() => jwt.close())
  const local = await jwt.validateJwtSvid(svid.token, 'tool-api')
  t.equal(local.spiffeId.toString(), CLIENT_ID, 'validated locally with the agent-provided JWT bundle')
  const again = await jwt.fetchJwtSvid({ audience: ['tool-api'], spiffeId: SERVER_ID })
  t.equal(
    (await jwt.fetchJwtSvid({ audience: ['tool-api'], spiffeId: SERVER_ID })).token,
    again.token,
    'cached',
  )
})

t.test(
  'https server and client rotate SVIDs under a live connection loop with no failed request',
  async (t) => {
    const serverSource = await sourceFor(SERVER_ID)
    const clientSource = await sourceFor(CLIENT_ID)
    t.teardown(() => {
      serverSource.close()
      clientSource.close()
    })
    const clientSerialsSeen = new Set<string>()
    const refused: SigilError[] = []
    const server = serveMtls(
      https.createServer(tlsServerOptions(serverSource), (req, res) => {
        const socket = req.socket as TLSSocket
        clientSerialsSeen.add(socket.getPeerX509Certificate()?.serialNumber ?? '')
        res.end(peerSpiffeId(socket).toString())
      }),
      serverSource,
      authorizeId(CLIENT_ID),
      { onRefused: (e) => refused.push(e) },
    )
    t.teardown(() => server.close())
    const port = await listen(server)
    const clientOptions = tlsClientOptions(clientSource, authorizeId(SERVER_ID))

    const serverSerials = new Set<string>()
    const failures: string[] = []
    let requests = 0
    // Until both certificates have rotated under the loop (5 s SVIDs: within about 5 s).
    const rotated = () => serverSerials.size >= 2 && clientSerialsSeen.size >= 2
    const deadline = Date.now() + 30_000
    while (!rotated() && Date.now() < deadline) {
      requests++
      try {
        const answer = await get(port, clientOptions)
        if (answer.status !== 200 || answer.body !== CLIENT_ID)
          failures.push(`${answer.status} ${answer.body}`)
        serverSerials.add(answer.serverSerial)
      } catch (err) {
        failures.push(String(err))
      }
      await new Promise((r) => setTimeout(r, 25))
    }
    t.same(failures, [], `no failed request out of ${requests}`)
    t.same(refused, [], 'the server refused no one')
    t.ok(serverSerials.size >= 2, `the server certificate rotated (${serverSerials.size} serials seen)`)
    t.ok(
      clientSerialsSeen.size >= 2,
      `the client certificate rotated (${clientSerialsSeen.size} serials seen)`,
    )
  },
)

t.test('authorizers refuse a wrong SPIFFE ID with a clear error, on both sides', async (t) => {
  const serverSource = await sourceFor(SERVER_ID)
  const clientSource = await sourceFor(CLIENT_ID)
  t.teardown(() => {
    serverSource.close()
    clientSource.close()
  })
  const refused: SigilError[] = []
  let handled = 0
  const server = serveMtls(
    https.createServer(tlsServerOptions(serverSource), (_req, res) => {
      handled++
      res.end('ok')
    }),
    serverSource,
    authorizeMemberOf('other.org'),
    { onRefused: (e) => refused.push(e) },
  )
  t.teardown(() => server.close())
  const port = await listen(server)

  // The client expects another server.
  const wrongServer = get(
    port,
    tlsClientOptions(clientSource, authorizeId('spiffe://example.org/sdk/somebody-else')),
  )
  const err = await wrongServer.catch((e: unknown) => e as SigilError)
  t.equal((err as SigilError).code, 'ERR_NOT_AUTHORIZED', 'the client refuses the server')
  t.match((err as SigilError).message, SERVER_ID, 'naming the presented ID')
  t.match((err as SigilError).message, 'spiffe://example.org/sdk/somebody-else', 'and the expected one')

  // The server expects clients of another trust domain.
  await t.rejects(get(port, tlsClientOptions(clientSource, authorizeId(SERVER_ID))), 'the request fails')
  t.equal(refused.length, 1)
  t.equal(refused[0]?.code, 'ERR_NOT_AUTHORIZED', 'the server refuses the client')
  t.match(refused[0]?.message, CLIENT_ID)
  t.match(refused[0]?.message, 'other.org')

  // A client with no certificate does not get through the handshake.
  const ca = [...clientSource.getX509Bundles().values()].flatMap((b) =>
    b.x509Certificates.map((c) => c.toString()),
  )
  await t.rejects(
    get(port, { ca, checkServerIdentity: () => undefined }),
    'no client certificate, no connection',
  )
  t.equal(handled, 0, 'no request reached the handler')
})

t.test('http2 with the same options and the peer ID in the handler', async (t) => {
  const serverSource = await sourceFor(SERVER_ID)
  const clientSource = await sourceFor(CLIENT_ID)
  t.teardown(() => {
    serverSource.close()
    clientSource.close()
  })
  const server = serveMtls(
    http2.createSecureServer(tlsServerOptions(serverSource), (req, res) => {
      res.end(`hello ${peerSpiffeId(req.socket)}`)
    }),
    serverSource,
    authorizeId(CLIENT_ID),
  )
  t.teardown(() => server.close())
  const port = await listen(server)
  const session = http2.connect(
    `https://127.0.0.1:${port}`,
    tlsClientOptions(clientSource, authorizeId(SERVER_ID)),
  )
  t.teardown(() => session.close())
  const body = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ':path': '/' })
    let text = ''
    stream.on('data', (d: Buffer) => {
      text += d.toString()
    })
    stream.on('end', () => resolve(text))
    stream.on('error', reject)
    session.on('error', reject)
    stream.end()
  })
  t.equal(body, `hello ${CLIENT_ID}`)
})
