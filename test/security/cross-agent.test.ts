// Attack family: an attested agent (a compromised node) reaches for identities registered under
// another agent — by CSR, by JWT-SVID request, through sync — or forges an agent certificate.
// A real sigil-server process; both agents are real agent-API clients over mTLS
// (scripts/bench/agent-api-client.ts), attested with join tokens.
import type { ServiceError } from '@grpc/grpc-js'
import t from 'tap'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import type { BatchNewX509SvidResponse__Output } from '../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { createTestCa } from '../helpers/testca.js'
import {
  type AgentCredential,
  agentApiClient,
  refusal,
  sigilCodeOf,
  startAttackServer,
  statusName,
} from './harness.js'

const TD = 'spiffe://example.org'
const { server, admin, rootPem, attest } = await startAttackServer(t)

async function entry(spiffeId: string, parent: string): Promise<string> {
  const created = await admin.call('CreateEntry', {
    entry: { spiffe_id: spiffeId, parent_id: parent, selectors: [{ type: 'unix', value: 'uid:1000' }] },
  })
  return created.entry?.id ?? ''
}

const credA = await attest('node-a')
const credB = await attest('node-b')
const entryA = await entry(`${TD}/service-a`, `${TD}/node-a`)
const entryB = await entry(`${TD}/service-b`, `${TD}/node-b`)
const clientA = agentApiClient(server.agentApiAddress, rootPem, credA)
const clientB = agentApiClient(server.agentApiAddress, rootPem, credB)
t.teardown(() => {
  clientA.close()
  clientB.close()
})

function batch(client: AgentAPIClient, entryIds: string[]): Promise<BatchNewX509SvidResponse__Output> {
  return Promise.all(
    entryIds.map(async (id) => ({ entry_id: id, csr: await createCsr(await generateKeyPair('ec-p256')) })),
  ).then(
    (params) =>
      new Promise((resolve, reject) =>
        client.BatchNewX509Svid({ params }, { deadline: Date.now() + 10_000 }, (err, res) =>
          err || !res ? reject(err ?? new Error('empty answer')) : resolve(res),
        ),
      ),
  )
}

function sync(client: AgentAPIClient): Promise<SyncAuthorizedEntriesResponse__Output> {
  return new Promise((resolve, reject) =>
    client.SyncAuthorizedEntries({}, { deadline: Date.now() + 10_000 }, (err, res) =>
      err || !res ? reject(err ?? new Error('empty answer')) : resolve(res),
    ),
  )
}

// Attack: agent A sends a CSR for an entry parented to agent B.
t.test('agent A’s CSR for agent B’s entry is refused with PermissionDenied', async (t) => {
  const err = await refusal(batch(clientA, [entryB]), 'CSR for B’s entry')
  t.equal(statusName(err), 'PERMISSION_DENIED', (err as ServiceError).details)
  t.equal(sigilCodeOf(err), 'ERR_NOT_AUTHORIZED')
  const mixed = await refusal(batch(clientA, [entryA, entryB]), 'batch mixing A’s and B’s entries')
  t.equal(
    statusName(mixed),
    'PERMISSION_DENIED',
    'a batch that smuggles B’s entry among A’s is refused whole',
  )
  const own = await batch(clientA, [entryA])
  t.same(
    own.results.map((r) => r.entry_id),
    [entryA],
    'A still gets its own entry (the refusal is not a broken channel)',
  )
  const bOwn = await batch(clientB, [entryB])
  t.equal(bOwn.results.length, 1, 'B gets its own entry')
})

// Attack: agent A asks for a JWT-SVID of agent B's entry.
t.test('agent A’s JWT-SVID request for agent B’s entry is refused with PermissionDenied', async (t) => {
  const err = await refusal(
    new Promise((resolve, reject) =>
      clientA.NewJwtSvid({ entry_id: entryB, audience: ['db'] }, { deadline: Date.now() + 10_000 }, (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    ),
    'JWT-SVID for B’s entry',
  )
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.equal(sigilCodeOf(err), 'ERR_NOT_AUTHORIZED')
})

// Attack: agent A syncs, hoping the server lists (and so leaks) agent B's entries.
t.test('agent A’s sync never returns agent B’s entries', async (t) => {
  for (let round = 0; round < 3; round++) {
    const got = await sync(clientA)
    t.same(
      got.entries.map((e) => e.id),
      [entryA],
      `round ${round}: A's entries only`,
    )
    // A later entry for B must not reach A either (the server's per-agent cache is keyed right).
    if (round === 0) await entry(`${TD}/service-b2`, `${TD}/node-b`)
  }
  const bSync = await sync(clientB)
  t.equal(bSync.entries.length, 2, 'B sees both of its entries')
  t.notOk(
    bSync.entries.some((e) => e.id === entryA),
    'and never A’s',
  )
})

// Attack: a node without any attestation presents a self-made certificate claiming agent B's ID.
t.test('a forged agent certificate (foreign CA, agent B’s SPIFFE ID) is refused', async (t) => {
  const foreign = await createTestCa({ trustDomain: 'example.org' })
  const forged = await foreign.mintSvid('/node-b')
  const cred: AgentCredential = {
    chainPem: certificatesToPem([...forged.chainDer]),
    keyPem: privateKeyToPkcs8Pem(forged.privateKey),
  }
  const client = agentApiClient(server.agentApiAddress, rootPem, cred)
  t.teardown(() => client.close())
  const err = await refusal(sync(client), 'sync with a forged certificate')
  t.equal(statusName(err), 'UNAUTHENTICATED', `refused: ${(err as ServiceError).details}`)
})
