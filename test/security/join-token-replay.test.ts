// Attack family: a join token seen once (in a log, a shell history, a leaked provisioning
// script) is replayed to attest a rogue agent, or used after it expired. A real sigil-server
// process; attestation over the real agent API (scripts/bench/agent-api-client.ts) and a real
// sigil-agent process.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgentProcess } from '../helpers/agent-process.js'
import { attestWithJoinToken, refusal, sigilCodeOf, startAttackServer, statusName } from './harness.js'

const TD = 'spiffe://example.org'
const { dir, server, admin, rootPem } = await startAttackServer(t)
writeFileSync(join(dir, 'bundle.pem'), rootPem)
const attest = (token: string) => attestWithJoinToken(server.agentApiAddress, rootPem, token)

// Attack: a used join token is presented again.
t.test('a used join token is refused on its second attestation', async (t) => {
  const { token } = await admin.call('CreateJoinToken', { spiffe_id: `${TD}/node-1`, ttl: 600 })
  const first = await attest(token)
  t.ok(first.chainPem.includes('BEGIN CERTIFICATE'), 'the first use attests')
  for (let replay = 1; replay <= 3; replay++) {
    const err = await refusal(attest(token), `replay ${replay}`)
    t.equal(statusName(err), 'PERMISSION_DENIED', `replay ${replay}: PermissionDenied`)
    t.equal(sigilCodeOf(err), 'ERR_TOKEN_USED', `replay ${replay}: ERR_TOKEN_USED`)
  }
})

// Attack: two rogue agents race one token, hoping both get through before it is marked used.
t.test('one token raced by 6 concurrent attestations attests exactly one agent', async (t) => {
  const { token } = await admin.call('CreateJoinToken', { spiffe_id: `${TD}/node-race`, ttl: 600 })
  const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => attest(token)))
  const won = outcomes.filter((o) => o.status === 'fulfilled')
  t.equal(won.length, 1, 'exactly one winner')
  for (const o of outcomes) {
    if (o.status === 'rejected')
      t.equal(sigilCodeOf(o.reason), 'ERR_TOKEN_USED', 'the others: ERR_TOKEN_USED')
  }
})

// Attack: a rogue agent presents a token after its lifetime ended.
t.test('an expired join token is refused', async (t) => {
  const { token, expires_at } = await admin.call('CreateJoinToken', { spiffe_id: `${TD}/node-2`, ttl: 1 })
  const expiresMs = Number(expires_at) * 1000
  // Wait (bounded: the token lives 1 s) until the server's clock is past the expiry.
  const deadline = Date.now() + 5_000
  while (Date.now() <= expiresMs + 1_000) {
    if (Date.now() > deadline) throw new Error('the 1 s token did not reach its expiry within 5 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  const err = await refusal(attest(token), 'expired token')
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.equal(sigilCodeOf(err), 'ERR_TOKEN_EXPIRED')
})

// Attack: a rogue agent guesses a token.
t.test('an unknown join token is refused', async (t) => {
  const err = await refusal(attest('0123456789abcdef0123456789abcdef'), 'guessed token')
  t.equal(statusName(err), 'PERMISSION_DENIED')
  t.equal(sigilCodeOf(err), 'ERR_TOKEN_INVALID')
})

// Attack: a real sigil-agent process on a second node is started with a token another node used.
t.test('a real sigil-agent started with a used token does not come up', async (t) => {
  const { token } = await admin.call('CreateJoinToken', { spiffe_id: `${TD}/node-3`, ttl: 600 })
  await attest(token)
  const err = await refusal(
    startAgentProcess({
      serverAddress: server.agentApiAddress,
      dataDir: join(dir, 'rogue-agent'),
      socketPath: join(dir, 'rogue.sock'),
      joinToken: token,
      trustBundle: join(dir, 'bundle.pem'),
    }),
    'rogue agent start',
  )
  t.match(String(err), /ERR_TOKEN_USED|token.*used|PERMISSION_DENIED/i, 'it stops on the refusal')
  const agents = await admin.call('ListAgents', {})
  t.equal(
    agents.agents.filter((a) => a.spiffe_id === `${TD}/node-3`).length,
    1,
    'only the first node is known under that ID',
  )
})
