// NewWitSvid on the real agent API (mTLS, SQLite, CA manager): a WIT-SVID for the agent's own
// entry, bound to the public JWK sent, TTL from the entry's X509-SVID TTL, recorded under its jti;
// another agent's entry, an unknown entry and malformed or private keys are refused.
import { generateKeyPairSync } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { confirmationJwk, privateKeyToJwkString } from '../../../../certs/witsvid/confirmation-key.js'
import { validateWitSvid } from '../../../../certs/witsvid/validate-wit-svid.js'
import type { NewWitSvidResponse__Output } from '../../../../proto/generated/sigil/agent/v1/NewWitSvidResponse.js'
import { attestJoinToken, createJoinToken, entryInput, startKit, unary } from './agent-api-test-kit.js'

const kit = await startKit(t)
const a = await attestJoinToken(kit, await createJoinToken(kit))
const b = await attestJoinToken(kit, await createJoinToken(kit))
const entryA = await kit.ds.createEntry(
  entryInput({ spiffeId: 'spiffe://example.org/web', parentId: a.svid.spiffe_id, x509SvidTtl: 600 }),
)
const entryB = await kit.ds.createEntry(
  entryInput({ spiffeId: 'spiffe://example.org/db', parentId: b.svid.spiffe_id }),
)
const clientA = kit.agentClient(a)
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const jwk = JSON.stringify(confirmationJwk(key.publicKey))

t.test(
  'a WIT-SVID for the agent entry: bound to the key sent, entry TTL, recorded with its jti',
  async (t) => {
    const res = await unary<NewWitSvidResponse__Output>(clientA, 'NewWitSvid', {
      entry_id: entryA.id,
      public_key_jwk: jwk,
    })
    t.equal(res.spiffe_id, 'spiffe://example.org/web')
    t.equal(res.expires_at - res.issued_at, 600, 'the entry X509-SVID TTL')
    const bundle = kit.ca.currentBundle()
    const v = validateWitSvid(res.token, { bundleFor: () => bundle, now: kit.clock.now() })
    t.ok(v.confirmationKey.equals(key.publicKey), 'cnf.jwk is the key sent')
    const recs = await kit.ds.listIssuedSvids({ spiffeId: 'spiffe://example.org/web' })
    t.ok(recs.some((r) => r.kind === 'jwt' && r.serialOrJti === v.jti && r.agentId === a.svid.spiffe_id))
  },
)

t.test('refusals', async (t) => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
  const cases: [string, object, number][] = [
    ["another agent's entry", { entry_id: entryB.id, public_key_jwk: jwk }, status.PERMISSION_DENIED],
    ['an unknown entry', { entry_id: 'no-such-entry', public_key_jwk: jwk }, status.PERMISSION_DENIED],
    ['no entry ID', { public_key_jwk: jwk }, status.INVALID_ARGUMENT],
    ['no key', { entry_id: entryA.id }, status.INVALID_ARGUMENT],
    ['not JSON', { entry_id: entryA.id, public_key_jwk: '{' }, status.INVALID_ARGUMENT],
    [
      'no alg',
      { entry_id: entryA.id, public_key_jwk: JSON.stringify({ ...JSON.parse(jwk), alg: undefined }) },
      status.INVALID_ARGUMENT,
    ],
    [
      'alg none',
      { entry_id: entryA.id, public_key_jwk: JSON.stringify({ ...JSON.parse(jwk), alg: 'none' }) },
      status.INVALID_ARGUMENT,
    ],
    [
      'alg not fitting the key',
      {
        entry_id: entryA.id,
        public_key_jwk: JSON.stringify({ ...confirmationJwk(p384.publicKey), alg: 'ES256' }),
      },
      status.INVALID_ARGUMENT,
    ],
    [
      'a private key',
      { entry_id: entryA.id, public_key_jwk: privateKeyToJwkString(key.privateKey) },
      status.INVALID_ARGUMENT,
    ],
    ['a 1 MB key', { entry_id: entryA.id, public_key_jwk: 'x'.repeat(1 << 20) }, status.INVALID_ARGUMENT],
  ]
  for (const [what, req, code] of cases) {
    const err = await t.rejects(unary(clientA, 'NewWitSvid', req))
    t.equal((err as { code?: number }).code, code, what)
  }
  const ok = await unary<NewWitSvidResponse__Output>(clientA, 'NewWitSvid', {
    entry_id: entryA.id,
    public_key_jwk: jwk,
  })
  t.ok(ok.token, 'still serving')
})
