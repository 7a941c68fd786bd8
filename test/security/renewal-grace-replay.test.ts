// Attack family: an agent's previous SVID, stolen (a copied key file, a backup) after the agent
// renewed, is replayed to another server of the same deployment (issue 15: several sigil-servers
// on one PostgreSQL database). The renewal grace — the previous SVID stays acceptable until the
// agent first presents its new one, so a lost RenewAgent answer does not lock the agent out —
// lives in the datastore: once the agent used its new SVID on one server, no server accepts the
// old one. Two real sigil-server processes; the agent and the attacker are raw agent-API clients.
import t from 'tap'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import type { RenewAgentResponse__Output } from '../../proto/generated/sigil/agent/v1/RenewAgentResponse.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentAPIClient } from '../../proto/loader.js'
import { startServerPair } from '../helpers/server-pair.js'
import {
  type AgentCredential,
  agentApiClient,
  attestWithJoinToken,
  refusal,
  sigilCodeOf,
  statusName,
} from './harness.js'

const { a: serverA, b: serverB } = await startServerPair(t)
const rootPem = (await serverB.cli('bundle', 'show')).stdout

const clients: AgentAPIClient[] = []
t.teardown(() => {
  for (const c of clients) c.close()
})
/** A new mTLS channel to `address` presenting `cred` (a new connection: no session reuse). */
function client(address: string, cred: AgentCredential): AgentAPIClient {
  const c = agentApiClient(address, rootPem, cred)
  clients.push(c)
  return c
}

function sync(c: AgentAPIClient): Promise<SyncAuthorizedEntriesResponse__Output> {
  return new Promise((resolve, reject) =>
    c.SyncAuthorizedEntries({}, { deadline: Date.now() + 10_000 }, (err, res) =>
      err || !res ? reject(err ?? new Error('empty answer')) : resolve(res),
    ),
  )
}

async function renew(c: AgentAPIClient): Promise<AgentCredential> {
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  const res = await new Promise<RenewAgentResponse__Output>((resolve, reject) =>
    c.RenewAgent({ csr }, { deadline: Date.now() + 10_000 }, (err, r) =>
      err || !r ? reject(err ?? new Error('empty answer')) : resolve(r),
    ),
  )
  const chain = res.svid?.cert_chain
  if (!chain || chain.length === 0) throw new Error('RenewAgent returned no SVID')
  return { chainPem: certificatesToPem(chain), keyPem: privateKeyToPkcs8Pem(keys.privateKey) }
}

t.test(
  'a stolen previous agent SVID replayed to another server after the agent used its new one is refused',
  async (t) => {
    const token = (await serverA.cli('token', 'generate', '--spiffe-id', 'spiffe://example.org/node-g'))
      .stdout
    const stolen = await attestWithJoinToken(serverA.agentApiAddress, rootPem, token.trim())
    const renewed = await renew(client(serverA.agentApiAddress, stolen))

    // the defence this must not break: before the agent used its new SVID, the old one is its
    // way back (a lost RenewAgent answer), on either server
    t.ok((await sync(client(serverB.agentApiAddress, stolen))).bundle, 'grace: the previous SVID on B')

    t.ok((await sync(client(serverA.agentApiAddress, renewed))).bundle, 'the agent uses its new SVID on A')
    for (const [name, address] of [
      ['B', serverB.agentApiAddress],
      ['A', serverA.agentApiAddress],
    ] as const) {
      const err = await refusal(sync(client(address, stolen)), `the stolen previous SVID on ${name}`)
      t.equal(statusName(err), 'PERMISSION_DENIED', `on ${name}: PERMISSION_DENIED`)
      t.equal(sigilCodeOf(err), 'ERR_NOT_AUTHORIZED', `on ${name}: ERR_NOT_AUTHORIZED`)
      const renewal = await refusal(renew(client(address, stolen)), `a renewal with it on ${name}`)
      t.equal(statusName(renewal), 'PERMISSION_DENIED', `renewal on ${name}: PERMISSION_DENIED`)
    }
    t.ok((await sync(client(serverB.agentApiAddress, renewed))).bundle, 'the agent carries on through B')
  },
)
