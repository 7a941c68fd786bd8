// Txn-Tokens (draft-ietf-oauth-transaction-tokens-10) and RFC 8693 `act` chains: what the
// signer writes, checked by jose over the JWT bundle JWKS, and what the verifier refuses.
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose'
import t from 'tap'
import { encodeJwtBundle } from '../../../certs/bundle/jwt-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildActClaim, MAX_ACT_DEPTH, parseActClaim } from '../../../certs/txntoken/act-chain.js'
import { signTxnToken, TXN_TOKEN_TYPE } from '../../../certs/txntoken/sign-txn-token.js'
import { verifyTxnToken } from '../../../certs/txntoken/verify-txn-token.js'
import { keyPair } from '../bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const otherTd = TrustDomain.parse('other.org')
const planner = SpiffeId.parse('spiffe://example.org/planner')
const researcher = SpiffeId.parse('spiffe://example.org/researcher')
const now = new Date('2030-06-01T12:00:00.000Z')
const nowSec = Math.floor(now.getTime() / 1000)
const deadline = new Date(now.getTime() + 120_000)
const key = keyPair('ec-p256')
const signer = new JwtSvidSigner({ privateKey: key.privateKey, kid: 'k1' })
const bundle = TrustBundle.create({
  trustDomain: td,
  jwtAuthorities: [{ kid: 'k1', publicKey: key.publicKey }],
})
const scope = ['spiffe://example.org/tool-api', 'https://search.example.org']

const base = {
  trustDomain: td,
  txn: 'task-1',
  subject: 'spiffe://example.org/user/alice',
  requestingWorkload: researcher,
  purpose: 'nightly report',
  scope,
  deadline,
  actors: [researcher.toString(), planner.toString()],
  now,
}

t.test('header, claims, and jose verification over the JWT bundle JWKS', async (t) => {
  const minted = await signTxnToken(signer, base)
  t.same(decodeProtectedHeader(minted.token), { alg: 'ES256', kid: 'k1', typ: 'txntoken+jwt' })
  const claims = decodeJwt(minted.token)
  t.same(claims, {
    txn: 'task-1',
    sub: 'spiffe://example.org/user/alice',
    aud: 'spiffe://example.org',
    scope: 'spiffe://example.org/tool-api https://search.example.org',
    req_wl: 'spiffe://example.org/researcher',
    tctx: { purpose: 'nightly report', scope, deadline: nowSec + 120 },
    iat: nowSec,
    exp: nowSec + 120,
    act: { sub: researcher.toString(), act: { sub: planner.toString() } },
  })
  const jwks = createLocalJWKSet(JSON.parse(encodeJwtBundle(bundle)))
  const viaJose = await jwtVerify(minted.token, jwks, {
    typ: TXN_TOKEN_TYPE,
    audience: 'spiffe://example.org',
    currentDate: now,
    algorithms: ['ES256'],
  })
  t.equal(viaJose.payload.txn, 'task-1')
  const verified = await verifyTxnToken(minted.token, { trustDomain: td, bundle, now })
  t.equal(verified.txn, 'task-1')
  t.equal(verified.subject, 'spiffe://example.org/user/alice')
  t.equal(verified.requestingWorkload.toString(), researcher.toString())
  t.same(verified.scope, scope)
  t.same(verified.actors, [researcher.toString(), planner.toString()])
  t.equal(verified.deadline.getTime(), deadline.getTime())
})

t.test('exp never passes the deadline or the key cap; no act when not delegated', async (t) => {
  const capped = await signTxnToken(signer, {
    ...base,
    actors: [],
    notAfterCap: new Date(now.getTime() + 30_000),
  })
  t.equal(capped.claims.exp, nowSec + 30)
  t.notOk('act' in decodeJwt(capped.token))
  await t.rejects(signTxnToken(signer, { ...base, deadline: now }), { code: 'ERR_INVALID_ARGUMENT' })
  await t.rejects(signTxnToken(signer, { ...base, scope: [] }), { code: 'ERR_INVALID_ARGUMENT' })
  await t.rejects(signTxnToken(signer, { ...base, scope: ['a b'] }), { code: 'ERR_INVALID_ARGUMENT' })
})

t.test('the verifier refuses expired, foreign, forged and mistyped tokens', async (t) => {
  const { token } = await signTxnToken(signer, base)
  await t.rejects(
    verifyTxnToken(token, { trustDomain: td, bundle, now: new Date(deadline.getTime() + 60_000) }),
    {
      code: 'ERR_JWT_EXPIRED',
    },
  )
  // another trust domain's token, signed by a key that its own bundle publishes
  const foreignKey = keyPair('ec-p256')
  const foreignSigner = new JwtSvidSigner({ privateKey: foreignKey.privateKey, kid: 'k1' })
  const foreign = await signTxnToken(foreignSigner, { ...base, trustDomain: otherTd })
  await t.rejects(verifyTxnToken(foreign.token, { trustDomain: td, bundle, now }), {
    code: 'ERR_JWT_SIGNATURE_INVALID',
  })
  const foreignBundle = TrustBundle.create({
    trustDomain: td,
    jwtAuthorities: [{ kid: 'k1', publicKey: foreignKey.publicKey }],
  })
  await t.rejects(verifyTxnToken(foreign.token, { trustDomain: td, bundle: foreignBundle, now }), {
    code: 'ERR_TRUST_DOMAIN_MISMATCH',
  })
  // a JWT-SVID is not a Txn-Token
  const svid = await signer.sign({ spiffeId: planner, audience: ['x'], ttlSeconds: 60, now })
  await t.rejects(verifyTxnToken(svid.token, { trustDomain: td, bundle, now }), { code: 'ERR_JWT_INVALID' })
  // unknown kid, tampered payload
  const otherKid = new JwtSvidSigner({ privateKey: key.privateKey, kid: 'k2' })
  const unknown = await signTxnToken(otherKid, base)
  await t.rejects(verifyTxnToken(unknown.token, { trustDomain: td, bundle, now }), {
    code: 'ERR_JWT_KID_UNKNOWN',
  })
  const [h, , s] = token.split('.')
  const widened = Buffer.from(
    JSON.stringify({ ...decodeJwt(token), scope: 'spiffe://example.org/admin' }),
  ).toString('base64url')
  await t.rejects(verifyTxnToken(`${h}.${widened}.${s}`, { trustDomain: td, bundle, now }), {
    code: 'ERR_JWT_SIGNATURE_INVALID',
  })
  // signed correctly but exp after tctx.deadline
  const late = await new SignJWT({ ...decodeJwt(token), exp: nowSec + 500 })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'txntoken+jwt' })
    .sign(key.privateKey)
  await t.rejects(verifyTxnToken(late, { trustDomain: td, bundle, now }), {
    code: 'ERR_JWT_INVALID',
    message: /deadline/,
  })
  await t.rejects(verifyTxnToken('a.b', { trustDomain: td, bundle, now }), { code: 'ERR_JWT_INVALID' })
})

t.test('task JWT-SVIDs carry txn and act, and still validate as JWT-SVIDs', async (t) => {
  const minted = await signer.sign({
    spiffeId: researcher,
    audience: ['spiffe://example.org/tool-api'],
    ttlSeconds: 60,
    now,
    txn: 'task-1',
    actors: [researcher.toString(), planner.toString()],
  })
  const claims = decodeJwt(minted.token)
  t.equal(claims.txn, 'task-1')
  t.same(claims.act, { sub: researcher.toString(), act: { sub: planner.toString() } })
  t.same(decodeProtectedHeader(minted.token), { alg: 'ES256', kid: 'k1', typ: 'JWT' })
  const v = await validateJwtSvid(minted.token, {
    audience: 'spiffe://example.org/tool-api',
    bundleFor: (d) => (d.equals(td) ? bundle : undefined),
    now,
  })
  t.same(parseActClaim(v.claims.act), [researcher.toString(), planner.toString()])
  const plain = decodeJwt(
    (await signer.sign({ spiffeId: planner, audience: ['x'], ttlSeconds: 60, now })).token,
  )
  t.notOk('txn' in plain || 'act' in plain, 'ordinary JWT-SVIDs have neither')
})

t.test('act chains: build, parse, limits', async (t) => {
  t.equal(buildActClaim([]), undefined)
  t.same(parseActClaim(undefined), [])
  const chain = Array.from({ length: MAX_ACT_DEPTH }, (_, i) => `spiffe://example.org/w${i}`)
  t.same(parseActClaim(buildActClaim(chain)), chain)
  t.throws(() => buildActClaim([...chain, 'x']), { code: 'ERR_INVALID_ARGUMENT' })
  let deep: unknown = { sub: 'a' }
  for (let i = 0; i < MAX_ACT_DEPTH; i++) deep = { sub: 'a', act: deep }
  t.throws(() => parseActClaim(deep), { code: 'ERR_JWT_INVALID' })
  t.throws(() => parseActClaim({ act: { sub: 'a' } }), { code: 'ERR_JWT_INVALID' })
  t.throws(() => parseActClaim([{ sub: 'a' }]), { code: 'ERR_JWT_INVALID' })
  t.same(parseActClaim({ sub: 'a', iss: 'x', act: { sub: 'b' } }), ['a', 'b'], 'other members are ignored')
})
