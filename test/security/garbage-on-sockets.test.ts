// Attack family: junk on every listening socket — random bytes, an HTTP/1.1 request, a truncated
// HTTP/2 preface, in the clear and inside TLS where the socket speaks TLS, one at a time and in a
// burst of parallel connections — hoping to crash or wedge a daemon. Real sigil-server and
// sigil-agent processes; after every attack each daemon must still be running and answer a
// legitimate request on a new connection.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t, { type Test } from 'tap'
import { AdminClient } from '../../server/cli/admin-client.js'
import { startSigilNode } from '../helpers/agent-process.js'
import {
  type AgentCredential,
  adminAnswers,
  agentApiAnswers,
  attestWithJoinToken,
  bundleEndpointAnswers,
  junkPayloads,
  type RawTarget,
  sendRaw,
  workloadApiAnswers,
} from './harness.js'

const TD = 'spiffe://example.org'
const BURST = 40
const node = await startSigilNode(t)
await node.createEntry(`${TD}/prober`, ['unix:uid:0'])
const rootPem = readFileSync(node.bundlePath, 'utf8')
const admin = AdminClient.open(node.server.adminSocket)
const { token } = await admin.call('CreateJoinToken', { spiffe_id: `${TD}/prober-node`, ttl: 600 })
admin.close()
const cred: AgentCredential = await attestWithJoinToken(node.server.agentApiAddress, rootPem, token)
const bundleHostPort = new URL(node.server.bundleEndpointUrl).host

/** Both daemons are running and every endpoint answers a legitimate request. */
async function allAnswer(t: Test, after: string): Promise<void> {
  t.equal(node.server.child.exitCode, null, `${after}: the server is running`)
  t.equal(node.agent.child.exitCode, null, `${after}: the agent is running`)
  t.same(await workloadApiAnswers(node.agent.socketPath), [`${TD}/prober`], `${after}: Workload API answers`)
  t.match(await adminAnswers(node.server.adminSocket), { serving: true }, `${after}: admin API answers`)
  t.equal(
    await agentApiAnswers(node.server.agentApiAddress, rootPem, cred),
    'example.org',
    `${after}: agent API answers`,
  )
  t.match(
    await bundleEndpointAnswers(node.server.bundleEndpointUrl),
    { status: 200 },
    `${after}: bundle endpoint answers`,
  )
}

const targets: { name: string; target: RawTarget }[] = [
  { name: 'the Workload API socket', target: { path: node.agent.socketPath } },
  { name: 'the admin socket', target: { path: node.server.adminSocket } },
  { name: 'the agent API port (clear)', target: { address: node.server.agentApiAddress } },
  { name: 'the agent API port (inside TLS)', target: { address: node.server.agentApiAddress, tls: true } },
  { name: 'the bundle endpoint (clear)', target: { address: bundleHostPort } },
  { name: 'the bundle endpoint (inside TLS)', target: { address: bundleHostPort, tls: true } },
]

t.test('control: every endpoint answers before the attacks', (t) => allAnswer(t, 'before'))

for (const { name, target } of targets) {
  // Attack: random bytes, then an HTTP/1.1 request, then a truncated HTTP/2 preface, on one socket.
  t.test(`junk on ${name} leaves both daemons up and answering`, async (t) => {
    for (const { name: junk, bytes } of junkPayloads(randomBytes(4096))) {
      await sendRaw(target, bytes)
      await allAnswer(t, junk)
    }
  })
}

// Attack: a burst of parallel junk connections on every socket at once.
t.test(`${BURST} parallel junk connections per socket leave both daemons up and answering`, async (t) => {
  const attacks: Promise<void>[] = []
  for (const { target } of targets) {
    for (let i = 0; i < BURST; i++) {
      const payloads = junkPayloads(randomBytes(64 + i * 16))
      attacks.push(sendRaw(target, (payloads[i % payloads.length] ?? payloads[0])!.bytes, 3_000))
    }
  }
  await Promise.all(attacks)
  await allAnswer(t, 'after the burst')
})
