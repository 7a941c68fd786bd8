// Attack family: one address of an agent's server list (`--server-address a,b`, or a DNS name
// with several addresses) is answered by an impostor: a poisoned DNS record, a hijacked IP, a
// decommissioned server's address reused. The impostor presents an X509-SVID for the server's
// own SPIFFE ID, signed by a CA outside the agent's bundle. The agent must refuse it at the TLS
// handshake, send it nothing (no join token, no CSR, no agent SVID), and attest and sync through
// the genuine server instead. Real in-process agent API (SQLite, CA, TLS), a real TLS listener
// for the impostor.
import { createServer as createTlsServer } from 'node:tls'
import t from 'tap'
import { ServerClient } from '../../agent/sync/server-client.js'
import { type FailoverReason, ServerEndpoints } from '../../agent/sync/server-endpoints.js'
import { privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { startServerKit } from '../agent/sync/server-kit.js'
import { createTestCa } from '../helpers/testca.js'

t.test(
  'an impostor at the first address gets nothing; the agent attests and syncs at the genuine server',
  async (t) => {
    const kit = await startServerKit()
    t.teardown(() => kit.close())
    const impostorCa = await createTestCa({ trustDomain: 'example.org' })
    const impostorSvid = await impostorCa.mintSvid('/sigil/server')
    let handshakes = 0
    let bytesAfterHandshake = 0
    const impostor = createTlsServer(
      {
        key: privateKeyToPkcs8Pem(impostorSvid.privateKey),
        cert: certificatesToPem([...impostorSvid.chainDer]),
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        handshakes++
        socket.on('data', (d: Buffer) => {
          bytesAfterHandshake += d.length
        })
        socket.on('error', () => {})
      },
    )
    const clientErrors: string[] = []
    impostor.on('tlsClientError', (e) => clientErrors.push(e.message))
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r))
    t.teardown(() => impostor.close())
    const impostorAddress = `127.0.0.1:${(impostor.address() as { port: number }).port}`

    await kit.createJoinToken('genuine-only')
    const failovers: [string, FailoverReason][] = []
    const endpoints = new ServerEndpoints({
      addresses: [impostorAddress, kit.address],
      random: () => 0, // the impostor is the agent's home
      onFailover: (from, reason) => failovers.push([from.address, reason]),
    })
    const client = new ServerClient({ endpoints, trustDomain: kit.trustDomain, bundle: kit.bundle() })
    t.teardown(() => client.close())
    const { identity } = await client.attest({ type: 'join_token', token: 'genuine-only' })
    t.equal(
      (await kit.datastore.getAttestedAgent(identity.spiffeId.toString()))?.serialNumber,
      identity.serial,
      'attested at the genuine server',
    )
    await kit.createEntry('spiffe://example.org/web', identity.spiffeId.toString())
    t.equal((await client.syncAuthorizedEntries()).entries.length, 1, 'synced at the genuine server')
    t.equal(failovers[0]?.[0], impostorAddress, 'the impostor was tried and refused')
    t.ok(clientErrors.length >= 1, `the agent aborted the handshake: ${clientErrors[0]}`)
    t.equal(handshakes, 0, 'no TLS session with the impostor was ever completed')
    t.equal(bytesAfterHandshake, 0, 'the impostor received no application data (no token, no CSR)')
    t.equal(endpoints.status().find((s) => s.address === impostorAddress)?.state, 'down')
  },
)
