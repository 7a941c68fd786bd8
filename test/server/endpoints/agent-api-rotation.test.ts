// CA rotation under a running agent API, no restart: once the next CA is active, the server
// presents an SVID from it (ServerIdentity's loop), agents attested with it are accepted over
// mTLS (the TLS roots follow the bundle), and agents holding SVIDs from the previous CA keep
// working. The fake clock starts 50 s in the past so every certificate is also valid for
// OpenSSL's wall-clock checks in the TLS handshakes.
import { X509Certificate } from 'node:crypto'
import { connect } from 'node:tls'
import t from 'tap'
import type { SyncAuthorizedEntriesResponse__Output } from '../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import { waitUntil } from '../../helpers/wait-until.js'
import {
  attestJoinToken,
  createJoinToken,
  type Kit,
  SERVER_ID,
  startKit,
  unary,
} from '../api/agent/agent-api-test-kit.js'

function serverLeaf(kit: Kit): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: kit.api.port,
      ca: kit.rootPem(),
      ALPNProtocols: ['h2'],
      checkServerIdentity: (_h, c) =>
        c.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error('wrong'),
    })
    socket.once('secureConnect', () => {
      resolve(new X509Certificate(socket.getPeerCertificate().raw))
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

const until = (what: string, ok: () => boolean | Promise<boolean>) =>
  waitUntil(what, ok, { timeoutMs: 10_000 })

t.test('the agent API follows a CA rotation without a restart', async (t) => {
  const kit = await startKit(t, {
    caTtlSeconds: 60,
    clockStart: Math.floor(Date.now() / 1000) * 1000 - 50_000,
    tlsRefreshMs: 50,
    x509pop: false,
  })
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const ca1 = new X509Certificate(kit.ca.caCertificateChain()[0]!)
  const agentA = await attestJoinToken(kit, await createJoinToken(kit))
  t.ok(new X509Certificate(agentA.chain[0]!).checkIssued(ca1), 'agent A holds an SVID from CA 1')
  const loop = kit.identity.run(controller.signal)

  kit.clock.advance(30_000)
  await kit.ca.rotate()
  t.equal(kit.ca.currentBundle().x509Authorities.length, 2, 'the next CA is published')
  kit.clock.advance(20_000)
  await kit.ca.rotate()
  const ca2 = new X509Certificate(kit.ca.caCertificateChain()[0]!)
  t.not(ca2.fingerprint256, ca1.fingerprint256, 'CA 2 is active')

  await until('the server SVID from CA 2', async () => (await serverLeaf(kit)).checkIssued(ca2))
  t.pass('new TLS connections get a server SVID signed by CA 2')

  const agentB = await attestJoinToken(kit, await createJoinToken(kit))
  t.ok(new X509Certificate(agentB.chain[0]!).checkIssued(ca2), 'agent B holds an SVID from CA 2')
  const b = await unary<SyncAuthorizedEntriesResponse__Output>(
    kit.agentClient(agentB),
    'SyncAuthorizedEntries',
    {},
  )
  t.equal(
    b.bundle?.sequence_number,
    kit.ca.currentBundle().sequenceNumber,
    'agent B (CA 2) is accepted over mTLS',
  )
  const a = await unary<SyncAuthorizedEntriesResponse__Output>(
    kit.agentClient(agentA),
    'SyncAuthorizedEntries',
    {},
  )
  t.ok(a.bundle, 'agent A (CA 1, still in the bundle) is still accepted')
  controller.abort()
  await loop
})
