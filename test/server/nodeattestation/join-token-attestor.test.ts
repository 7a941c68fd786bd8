// JoinTokenAttestor against the real SQLite store: default and alias IDs, single use,
// expiry, and tokens refused before any datastore work.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { JoinTokenAttestor, joinTokenHash } from '../../../server/nodeattestation/join-token-attestor.js'
import type { NodeAttestor } from '../../../server/nodeattestation/node-attestor.js'
import { FakeClock } from '../ca/ca-test-kit.js'

const td = TrustDomain.parse('example.org')
const noChallenge = async (): Promise<Buffer> => {
  throw new Error('join tokens never challenge')
}

async function setup(t: Test) {
  const clock = new FakeClock()
  const ds = await openDataStore(
    { kind: 'sqlite', path: join(t.testdir(), 'ds.sqlite3') },
    { clock: clock.now },
  )
  t.teardown(() => ds.close())
  let lookups = 0
  const store = {
    consumeJoinToken: (hash: string, now: Date) => {
      lookups++
      return ds.consumeJoinToken(hash, now)
    },
  }
  const attestor: NodeAttestor = new JoinTokenAttestor({ trustDomain: td, store, clock: clock.now })
  const add = (token: string, alias = '', ttlMs = 60_000) =>
    ds.createJoinToken({
      tokenHash: joinTokenHash(token),
      spiffeId: alias,
      expiresAt: new Date(clock.ms + ttlMs),
    })
  return { clock, ds, attestor, add, lookups: () => lookups }
}

t.test('joinTokenHash is lowercase hex SHA-256 of the UTF-8 token', async (t) => {
  t.equal(joinTokenHash('abc'), createHash('sha256').update('abc').digest('hex'))
  t.throws(() => joinTokenHash(42 as unknown as string), TypeError)
})

t.test('a token gives the default join_token ID, once', async (t) => {
  const { attestor, add } = await setup(t)
  await add('tok-123_ABC.x')
  const r = await attestor.attest(Buffer.from('tok-123_ABC.x'), noChallenge)
  t.equal(r.agentId.toString(), 'spiffe://example.org/sigil/agent/join_token/tok-123_ABC.x')
  t.same(r.selectors, [])
  await t.rejects(attestor.attest(Buffer.from('tok-123_ABC.x'), noChallenge), { code: 'ERR_TOKEN_USED' })
})

t.test('an alias becomes the agent ID; an alias outside the trust domain is refused', async (t) => {
  const { attestor, add } = await setup(t)
  await add('with-alias', 'spiffe://example.org/node/a')
  t.equal(
    (await attestor.attest(Buffer.from('with-alias'), noChallenge)).agentId.toString(),
    'spiffe://example.org/node/a',
  )
  await add('foreign-alias', 'spiffe://other.org/node/a')
  await t.rejects(attestor.attest(Buffer.from('foreign-alias'), noChallenge), {
    code: 'ERR_ATTESTATION_FAILED',
  })
})

t.test('expired and unknown tokens', async (t) => {
  const { attestor, add, clock } = await setup(t)
  await add('short', '', 1000)
  clock.advance(1000)
  await t.rejects(attestor.attest(Buffer.from('short'), noChallenge), { code: 'ERR_TOKEN_EXPIRED' })
  await t.rejects(attestor.attest(Buffer.from('unknown'), noChallenge), { code: 'ERR_TOKEN_INVALID' })
})

t.test('malformed tokens are refused without a lookup', async (t) => {
  const { attestor, lookups } = await setup(t)
  for (const bad of [
    Buffer.alloc(0),
    Buffer.from('has space'),
    Buffer.from('nul\u0000'),
    Buffer.alloc(513, 0x61),
  ]) {
    await t.rejects(attestor.attest(bad, noChallenge), { code: 'ERR_TOKEN_INVALID' })
  }
  t.equal(lookups(), 0, 'the datastore was never asked')
})

t.test('a token that cannot form an ID is refused after it is spent', async (t) => {
  const { attestor, add } = await setup(t)
  await add('a/b')
  await t.rejects(attestor.attest(Buffer.from('a/b'), noChallenge), { code: 'ERR_ATTESTATION_FAILED' })
})
