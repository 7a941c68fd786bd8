// The agent API endpoint itself: the server's TLS identity (and its renewal without a
// restart), oversized requests, graceful close with a call in flight, and bind failures.
import { connect, type PeerCertificate } from 'node:tls'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { signX509popChallenge } from '../../../certs/x509pop/x509pop-proof.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { createCsr } from '../../../certs/x509svid/csr.js'
import type { AttestAgentResponse__Output } from '../../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import { startAgentApiServer } from '../../../server/endpoints/agent-api-server.js'
import {
  attestJoinToken,
  createJoinToken,
  entryInput,
  type Kit,
  SERVER_ID,
  startKit,
  unary,
} from '../api/agent/agent-api-test-kit.js'
import { opensslVerify } from '../ca/ca-test-kit.js'

const serialOf = (cert: PeerCertificate) => readCertificateFacts(cert.raw).serialHex

/** The certificate the server presents on a fresh TLS connection. */
function serverCertificate(kit: Kit): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: kit.api.port,
      ca: kit.rootPem(),
      ALPNProtocols: ['h2'],
      checkServerIdentity: (_h, cert) =>
        cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error(String(cert.subjectaltname)),
    })
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate())
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

t.test('the server presents its SVID and a renewed one without a restart', async (t) => {
  const kit = await startKit(t)
  const before = await serverCertificate(kit)
  t.equal(before.subjectaltname, `URI:${SERVER_ID}`)
  t.equal(serialOf(before), kit.identity.current().serialHex)
  const ossl = opensslVerify({
    leaf: before.raw,
    roots: [...kit.ca.currentBundle().x509Authorities],
    at: kit.clock.now(),
  })
  t.ok(ossl.ok, `server SVID verifies: ${ossl.output}`)

  await kit.identity.renew()
  await new Promise((r) => setImmediate(r))
  const after = await serverCertificate(kit)
  t.equal(
    after.serialNumber.toLowerCase(),
    kit.identity.current().serialHex,
    'new connections see the new SVID',
  )
  t.not(after.serialNumber, before.serialNumber)
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  t.ok(agent.svid.serial, 'the API works after the swap')
})

t.test('oversized requests are RESOURCE_EXHAUSTED and the server keeps serving', async (t) => {
  const kit = await startKit(t, { maxMessageBytes: 64 * 1024 })
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  const entry = await kit.ds.createEntry(
    entryInput({ spiffeId: 'spiffe://example.org/web', parentId: agent.svid.spiffe_id }),
  )
  const client = kit.agentClient(agent)
  const err = await t.rejects(
    unary(client, 'BatchNewX509Svid', { params: [{ entry_id: entry.id, csr: Buffer.alloc(100 * 1024, 1) }] }),
  )
  t.equal((err as { code?: number }).code, status.RESOURCE_EXHAUSTED, 'batch over the limit')
  const big = await t.rejects(
    new Promise((resolve, reject) => {
      const s = kit.anonClient().AttestAgent()
      s.on('data', () => {})
      s.on('error', reject)
      s.on('end', resolve)
      s.write({ params: { type: 'join_token', payload: Buffer.alloc(200 * 1024, 0x41) } })
    }),
  )
  t.equal((big as { code?: number }).code, status.RESOURCE_EXHAUSTED, 'attestation over the limit')
  const jwt = await unary<{ token: string }>(client, 'NewJwtSvid', { entry_id: entry.id, audience: ['db'] })
  t.ok(jwt.token, 'a follow-up call succeeds')
  await kit.ds.integrityCheck()
})

t.test('close() lets an in-flight attestation finish, then refuses new calls', async (t) => {
  const kit = await startKit(t)
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  const stream = kit.anonClient().AttestAgent()
  const messages: AttestAgentResponse__Output[] = []
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', reject)
    stream.on('end', resolve)
  })
  const challenged = new Promise<Buffer>((resolve) =>
    stream.on('data', (m: AttestAgentResponse__Output) => {
      messages.push(m)
      if (m.step === 'challenge') resolve(m.challenge!)
    }),
  )
  stream.write({ params: { type: 'x509pop', payload: kit.pki.leafDer, csr } })
  const challenge = await challenged
  const closing = kit.api.close()
  await new Promise((r) => setTimeout(r, 50))
  stream.write({ challenge_response: signX509popChallenge(kit.pki.leafKey, challenge) })
  await done
  t.equal(messages.at(-1)?.step, 'result', 'the in-flight attestation completed')
  await closing
  const err = await t.rejects(unary(kit.anonClient(), 'GetBundle', {}))
  t.equal((err as { code?: number }).code, status.UNAVAILABLE, 'nothing listens after close')
  await kit.ds.integrityCheck()
})

t.test('a port in use is ERR_UNAVAILABLE; bad numbers are TypeErrors', async (t) => {
  const kit = await startKit(t)
  const base = {
    trustDomain: kit.ca.currentBundle().trustDomain,
    ca: kit.ca,
    datastore: kit.ds,
    identity: kit.identity,
    logger: kit.logger,
    clock: kit.clock.now,
    agentSvidTtlSeconds: 3600,
    defaultX509SvidTtlSeconds: 3600,
    defaultJwtSvidTtlSeconds: 300,
    revocations: kit.revocations,
    crls: kit.crls,
  }
  const err = await t.rejects(
    startAgentApiServer({ ...base, address: { host: '127.0.0.1', port: kit.api.port } }),
  )
  t.equal((err as { code?: string }).code, 'ERR_UNAVAILABLE')
  await t.rejects(
    startAgentApiServer({ ...base, address: { host: '127.0.0.1', port: 0 }, agentSvidTtlSeconds: 0 }),
    TypeError,
  )
})
