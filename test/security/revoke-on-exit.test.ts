// Attack family: an agent reports "exited" serials (RevokeExitedSvids) it has no right to
// revoke — another agent's workload SVIDs, SVIDs of an entry without --revoke-on-exit, serials
// nobody issued, garbage, a flood. Only serials the server issued to the calling agent for an
// entry with revoke_on_exit are revoked; everything else is refused and logged, not revoked.
// A real sigil-server process; both agents are real agent-API clients over mTLS.
import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { generateKeyPair } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import type { BatchNewX509SvidResponse__Output } from '../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import type { RevokeExitedSvidsResponse__Output } from '../../proto/generated/sigil/agent/v1/RevokeExitedSvidsResponse.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { agentApiClient, refusal, sigilCodeOf, startAttackServer, statusName } from './harness.js'

const TD = 'spiffe://example.org'
const { server, admin, rootPem, attest } = await startAttackServer(t)

async function entry(spiffeId: string, parent: string, revokeOnExit: boolean): Promise<string> {
  const created = await admin.call('CreateEntry', {
    entry: {
      spiffe_id: spiffeId,
      parent_id: parent,
      selectors: [{ type: 'unix', value: 'uid:1000' }],
      revoke_on_exit: revokeOnExit,
    },
  })
  return created.entry?.id ?? ''
}

const credA = await attest('node-a')
const credB = await attest('node-b')
const ephemeralA = await entry(`${TD}/job-a`, `${TD}/node-a`, true)
const plainA = await entry(`${TD}/service-a`, `${TD}/node-a`, false)
const ephemeralB = await entry(`${TD}/job-b`, `${TD}/node-b`, true)
const clientA = agentApiClient(server.agentApiAddress, rootPem, credA)
const clientB = agentApiClient(server.agentApiAddress, rootPem, credB)
t.teardown(() => {
  clientA.close()
  clientB.close()
})

/** Signs one X509-SVID for the entry and returns its serial (lowercase hex). */
async function serialFor(client: AgentAPIClient, entryId: string): Promise<string> {
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  const res = await new Promise<BatchNewX509SvidResponse__Output>((resolve, reject) =>
    client.BatchNewX509Svid(
      { params: [{ entry_id: entryId, csr }] },
      { deadline: Date.now() + 10_000 },
      (e, r) => (e || !r ? reject(e ?? new Error('empty answer')) : resolve(r)),
    ),
  )
  const der = res.results[0]?.svid?.cert_chain[0]
  if (!der) throw new Error('no SVID signed')
  return new X509Certificate(der).serialNumber.toLowerCase()
}

function report(client: AgentAPIClient, serials: string[]): Promise<RevokeExitedSvidsResponse__Output> {
  return new Promise((resolve, reject) =>
    client.RevokeExitedSvids({ serials }, { deadline: Date.now() + 10_000 }, (e, r) =>
      e || !r ? reject(e ?? new Error('empty answer')) : resolve(r),
    ),
  )
}

async function revokedSerials(): Promise<string[]> {
  const res = await server.cli('revocation', 'list', '--output', 'json')
  if (res.code !== 0) throw new Error(`revocation list failed: ${res.stderr}`)
  const parsed = JSON.parse(res.stdout) as { revocations: { kind: string; value: string }[] }
  return parsed.revocations.filter((r) => r.kind === 'x509_serial').map((r) => r.value)
}

const norm = (s: string) => s.replace(/^0+/, '')

// Attack: agent B reports agent A's revoke-on-exit serial as "exited" to take A's workload down.
t.test("agent B cannot revoke agent A's serials; A can revoke its own", async (t) => {
  const serialA = await serialFor(clientA, ephemeralA)
  const byB = await report(clientB, [serialA])
  t.same(byB.revoked, [], 'B revokes nothing')
  t.equal(byB.refused.length, 1, "A's serial is refused for B")
  t.notOk((await revokedSerials()).map(norm).includes(norm(serialA)), 'not on the revocation list')
  const serialB = await serialFor(clientB, ephemeralB)
  const byA = await report(clientA, [serialB, serialA])
  t.same(byA.revoked.map(norm), [norm(serialA)], "A revokes only its own serial, not B's in the same call")
  const listed = (await revokedSerials()).map(norm)
  t.ok(listed.includes(norm(serialA)), "A's exited serial is revoked")
  t.notOk(listed.includes(norm(serialB)), "B's serial is not")
})

// Attack: an agent revokes SVIDs of an entry that does not revoke on exit (long-lived services).
t.test('serials of an entry without --revoke-on-exit, unknown serials and garbage are refused', async (t) => {
  const plain = await serialFor(clientA, plainA)
  const res = await report(clientA, [plain, 'abcdef0123', 'not-hex!', ''])
  t.same(res.revoked, [])
  t.equal(res.refused.length, 4)
  t.notOk((await revokedSerials()).map(norm).includes(norm(plain)))
  const flood = await refusal(
    report(
      clientA,
      Array.from({ length: 1001 }, (_, i) => i.toString(16)),
    ),
    'flood',
  )
  t.equal(statusName(flood), 'INVALID_ARGUMENT')
  t.equal(sigilCodeOf(flood), 'ERR_INVALID_ARGUMENT')
  const still = await report(clientA, [await serialFor(clientA, ephemeralA)])
  t.equal(still.revoked.length, 1, 'the agent still works after the refusals')
})
