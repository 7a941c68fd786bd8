// Failover between servers of one deployment, against real in-process agent APIs (two
// listeners on one SQLite datastore, CA and server identity; real TLS and gRPC): the agent
// attests once, moves to the other server when its own stops answering (calls retried at once,
// the push stream reconnected there), needs no new SVID, and goes back home when the home
// returns. A dead first address does not delay attestation; a refusal is not a failover. And
// the TLS check accepts any server whose SVID chains to a CA of the bundle (each server of a
// deployment has its own CA).
import { createServer as createNetServer, type Socket } from 'node:net'
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { RevocationSet } from '../../../agent/cache/revocation-set.js'
import { AgentUpdateWatch } from '../../../agent/sync/agent-update-watch.js'
import { ServerClient } from '../../../agent/sync/server-client.js'
import { type FailoverReason, ServerEndpoints } from '../../../agent/sync/server-endpoints.js'
import { checkServerSvid, peerChainDer } from '../../../agent/sync/server-tls.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { createCsr } from '../../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { freePort } from '../../helpers/agent-process.js'
import { createTestCa } from '../../helpers/testca.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { recordingLogger, startServerKit } from './server-kit.js'

function recordingEndpoints(addresses: string[]) {
  const failovers: [string, FailoverReason, string | undefined][] = []
  const recovered: string[] = []
  const endpoints = new ServerEndpoints({
    addresses,
    random: () => 0, // the first address is home
    initialBackoffMs: 100,
    maxBackoffMs: 200,
    onFailover: (from, reason, to) => failovers.push([from.address, reason, to?.address]),
    onRecovered: (e) => recovered.push(e.address),
  })
  return { endpoints, failovers, recovered }
}

t.test('attest once, fail over with no new SVID, the push stream follows, and back home', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const other = await kit.startExtraApi()
  const home = kit.address
  await kit.createJoinToken('failover-token')
  const { endpoints, failovers, recovered } = recordingEndpoints([home, other.address])
  const revocations = new RevocationSet()
  const client = new ServerClient({
    endpoints,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
    revocations,
  })
  t.teardown(() => client.close())
  const { identity } = await client.attest({ type: 'join_token', token: 'failover-token' })
  const agentId = identity.spiffeId.toString()
  const entry = await kit.createEntry('spiffe://example.org/web', agentId)
  t.equal((await client.syncAuthorizedEntries()).entries.length, 1)
  t.same(
    endpoints.status().map((s) => [s.address, s.state]),
    [
      [home, 'up'],
      [other.address, 'unknown'],
    ],
    'everything went home so far',
  )

  const watchLog = recordingLogger()
  const watch = new AgentUpdateWatch({
    connection: client,
    revocations,
    logger: watchLog,
    initialBackoffMs: 50,
  })
  const ac = new AbortController()
  const running = watch.run(ac.signal)
  t.teardown(async () => {
    ac.abort()
    await running
  })
  await waitUntil('the push stream open', () => watch.health().connected, { timeoutMs: 5000 })

  // the home stops answering: the next calls succeed on the other server, with the same SVID
  await kit.stopApi()
  const failoverStart = process.hrtime.bigint()
  const synced = await client.syncAuthorizedEntries()
  t.comment(
    `sync with the home down: ${Number(process.hrtime.bigint() - failoverStart) / 1e6} ms (failed + retried)`,
  )
  t.same(
    synced.entries.map((e) => e.id),
    [entry.id],
    'the sync succeeded at once, on the other server',
  )
  t.equal(failovers.length, 1, 'one failover')
  t.equal(failovers[0]?.[0], home)
  t.match(failovers[0]?.[1], /^(connection_refused|unavailable)$/)
  t.equal(failovers[0]?.[2], other.address)
  const keys = await generateKeyPair('ec-p256')
  const [svid] = await client.newX509Svids([{ entryId: entry.id, csrDer: await createCsr(keys) }])
  t.equal(svid?.spiffeId, 'spiffe://example.org/web', 'an X509-SVID signed by the other server')
  t.equal((await client.newJwtSvid(entry.id, ['db'])).spiffeId, 'spiffe://example.org/web', 'and a JWT-SVID')
  t.equal(client.identity, identity, 'the same agent SVID')
  t.equal((await kit.datastore.getAttestedAgent(agentId))?.serialNumber, identity.serial, 'no new agent SVID')
  await kit.revocations.revoke({ kind: 'jwt_jti', value: 'after-failover' })
  await waitUntil(
    'the push stream reconnected to the other server',
    () => revocations.isRevoked('jwt_jti', 'after-failover'),
    { timeoutMs: 10_000 },
  )
  t.equal(endpoints.healthyCount(), 1)

  // a renewal on the other server: the new SVID works everywhere
  const renewed = await client.renew()
  t.not(renewed.serial, identity.serial)

  // the home returns (same port): the sync finds it, and calls go home again
  await kit.startApi()
  t.equal(kit.address, home)
  await waitUntil(
    'a sync to reach the home again',
    async () => {
      await client.syncAuthorizedEntries()
      return recovered.includes(home)
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  )
  t.equal((await endpoints.candidates('call'))[0]?.address, home, 'home first again')
  t.equal(endpoints.healthyCount(), 2)
  await waitUntil(
    'the push stream to move home',
    () => watchLog.entries.some((e) => e.msg === 'agent update stream moving to a preferred server'),
    { timeoutMs: 5000 },
  )
  await waitUntil('the stream open at home', () => watch.health().connected, { timeoutMs: 5000 })
  const broken = () => watchLog.entries.filter((e) => e.msg.startsWith('agent update stream broken')).length
  const brokenBefore = broken()
  await other.close()
  t.equal((await client.syncAuthorizedEntries()).entries.length, 1, 'served by the home alone')
  await kit.revocations.revoke({ kind: 'jwt_jti', value: 'back-home' })
  await waitUntil('a push from the home', () => revocations.isRevoked('jwt_jti', 'back-home'), {
    timeoutMs: 5000,
  })
  t.equal(broken(), brokenBefore, 'the stream was already home: closing the other server broke nothing')
  t.equal((await kit.datastore.getAttestedAgent(agentId))?.serialNumber, renewed.serial)
})

t.test('a dead first address: attestation goes on to the next; a refusal is not a failover', async (t) => {
  const kit = await startServerKit()
  t.teardown(() => kit.close())
  const dead = `127.0.0.1:${await freePort()}`
  await kit.createJoinToken('dead-first')
  const { endpoints, failovers } = recordingEndpoints([dead, kit.address])
  const client = new ServerClient({ endpoints, trustDomain: kit.trustDomain, bundle: kit.bundle() })
  t.teardown(() => client.close())
  const { identity } = await client.attest({ type: 'join_token', token: 'dead-first' })
  t.same(failovers, [[dead, 'connection_refused', kit.address]], 'the dead one was tried and skipped at once')
  const foreign = await kit.createEntry('spiffe://example.org/other', 'spiffe://example.org/sigil/agent/x')
  const mine = await kit.createEntry('spiffe://example.org/mine', identity.spiffeId.toString())
  await t.rejects(client.newJwtSvid(foreign.id, ['a']), { code: 'ERR_NOT_AUTHORIZED' })
  t.equal(failovers.length, 1, 'a refusal is an answer, not a failover')
  t.equal(endpoints.status().find((s) => s.address === kit.address)?.state, 'up')
  t.equal((await client.newJwtSvid(mine.id, ['a'])).spiffeId, 'spiffe://example.org/mine')

  // every server down: the error is ERR_UNAVAILABLE, as with one server
  await kit.stopApi()
  await t.rejects(client.syncAuthorizedEntries(), { code: 'ERR_UNAVAILABLE' })
  t.equal(endpoints.healthyCount(), 0)
})

t.test('the TLS check accepts any server whose SVID chains to a CA of the bundle', async (t) => {
  const td = TrustDomain.parse('example.org')
  const [caA, caB, stranger] = await Promise.all([createTestCa(), createTestCa(), createTestCa()])
  const bundle = TrustBundle.create({
    trustDomain: td,
    x509Authorities: [caA.rootDer, caB.rootDer],
    jwtAuthorities: [],
  })
  const roots = certificatesToPem([...bundle.x509Authorities])
  async function handshake(ca: typeof caA, path = '/sigil/server'): Promise<string> {
    const svid = await ca.mintSvid(path)
    const server = createTlsServer({
      key: privateKeyToPkcs8Pem(svid.privateKey),
      cert: certificatesToPem([...svid.chainDer]),
    })
    server.on('secureConnection', (s) => s.end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    try {
      return await new Promise<string>((resolve) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port,
          servername: 'example.org',
          ca: roots,
          checkServerIdentity: (_h, cert) => checkServerSvid(peerChainDer(cert), td, bundle, new Date()),
        })
        socket.once('secureConnect', () => {
          socket.destroy()
          resolve('accepted')
        })
        socket.once('error', (e) => resolve(`refused: ${e.message}`))
      })
    } finally {
      server.close()
    }
  }
  t.equal(await handshake(caA), 'accepted', 'server A (its own CA) is accepted')
  t.equal(await handshake(caB), 'accepted', 'server B (another CA of the same bundle) is accepted')
  t.match(await handshake(stranger), /^refused/, 'a CA outside the bundle is refused')
  t.match(
    await handshake(caB, '/web'),
    /^refused: server presented "spiffe:\/\/example.org\/web"/,
    'another identity is refused',
  )
})

t.test(
  'a server that accepts connections and never answers: DEADLINE_EXCEEDED, then the next server',
  async (t) => {
    const kit = await startServerKit()
    t.teardown(() => kit.close())
    const sockets = new Set<Socket>()
    const blackhole = createNetServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r))
    t.teardown(() => {
      for (const s of sockets) s.destroy()
      blackhole.close()
    })
    const silent = `127.0.0.1:${(blackhole.address() as { port: number }).port}`
    await kit.createJoinToken('blackhole')
    const { endpoints, failovers } = recordingEndpoints([silent, kit.address])
    const client = new ServerClient({
      endpoints,
      trustDomain: kit.trustDomain,
      bundle: kit.bundle(),
      callTimeoutMs: 1_000,
    })
    t.teardown(() => client.close())
    await client.attest({ type: 'join_token', token: 'blackhole' })
    t.same(failovers, [[silent, 'deadline_exceeded', kit.address]], 'the silent server timed out once')
    t.ok(sockets.size >= 1, 'it was really dialled')
    t.equal(
      (await client.syncAuthorizedEntries()).entries.length,
      0,
      'the sync goes to the server that answers',
    )
  },
)
