// Workload Proof Tokens (draft-ietf-wimse-wpt): created by us and checked by jose, and every
// bad case the verifier must refuse.
import { createHash } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { signCompactJws } from '../../../certs/jws/compact-jws.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { validateWitSvid } from '../../../certs/witsvid/validate-wit-svid.js'
import { WitSvidSigner } from '../../../certs/witsvid/wit-svid-signer.js'
import { createWorkloadProofToken, tokenHash } from '../../../certs/wpt/create-workload-proof-token.js'
import { JtiReplayCache } from '../../../certs/wpt/jti-replay-cache.js'
import { verifyWorkloadProofToken } from '../../../certs/wpt/verify-workload-proof-token.js'
import { keyPair, sigilCode } from '../bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const id = SpiffeId.parse('spiffe://example.org/client')
const now = new Date('2030-06-01T12:00:00Z')
const nowSec = Math.floor(now.getTime() / 1000)
const witKey = keyPair('ec-p256')
const workload = keyPair('ec-p256')
const bundle = TrustBundle.create({
  trustDomain: td,
  witAuthorities: [{ kid: 'w', publicKey: witKey.publicKey }],
})
const signer = new WitSvidSigner({ privateKey: witKey.privateKey, kid: 'w' })
const wit = signer.sign({ spiffeId: id, workloadKey: workload.publicKey, ttlSeconds: 3600, now }).token
const validatedWit = validateWitSvid(wit, { bundleFor: () => bundle, now })
const aud = 'https://orders.example.org/v1/orders'

t.test('a WPT carries the draft claims; jose verifies it with the cnf key', async (t) => {
  const wpt = createWorkloadProofToken({
    wit,
    privateKey: workload.privateKey,
    audience: aud,
    now,
    txnToken: 'txn.token.x',
  })
  t.same(decodeProtectedHeader(wpt), { alg: 'ES256', typ: 'wpt+jwt' })
  const { payload } = await jwtVerify(wpt, workload.publicKey, {
    typ: 'wpt+jwt',
    audience: aud,
    currentDate: now,
  })
  t.equal(payload.exp, nowSec + 60)
  t.equal(payload.wth, createHash('sha256').update(wit).digest('base64url'))
  t.equal(payload.tth, tokenHash('txn.token.x'))
  t.equal(Buffer.from(payload.jti as string, 'base64url').length, 16, '128-bit jti')
  const v = verifyWorkloadProofToken(wpt, { wit, validatedWit, audience: aud, now, txnToken: 'txn.token.x' })
  t.equal(v.audience, aud)
})

t.test('the verifier refuses each bad case', async (t) => {
  const base = { wit, validatedWit, audience: aud, now }
  const make = (o: Partial<Parameters<typeof createWorkloadProofToken>[0]> = {}) =>
    createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, now, ...o })
  const claims = { aud, exp: nowSec + 60, jti: 'abcdefghijklmnopqrstuv', wth: tokenHash(wit) }
  const other = keyPair('ec-p256')
  const otherWit = signer.sign({ spiffeId: id, workloadKey: workload.publicKey, ttlSeconds: 3600, now }).token
  const cases: [string, () => unknown, string][] = [
    [
      'wrong aud',
      () => verifyWorkloadProofToken(make({ audience: 'https://evil.example.org/' }), base),
      'ERR_JWT_AUDIENCE_MISMATCH',
    ],
    [
      'expired',
      () => verifyWorkloadProofToken(make({ now: new Date(now.getTime() - 120_000) }), base),
      'ERR_JWT_EXPIRED',
    ],
    [
      'exp too far ahead',
      () =>
        verifyWorkloadProofToken(
          signCompactJws(
            { alg: 'ES256', typ: 'wpt+jwt' },
            { ...claims, exp: nowSec + 3600 },
            workload.privateKey,
          ),
          base,
        ),
      'ERR_JWT_INVALID',
    ],
    [
      'no exp',
      () =>
        verifyWorkloadProofToken(
          signCompactJws(
            { alg: 'ES256', typ: 'wpt+jwt' },
            { ...claims, exp: undefined },
            workload.privateKey,
          ),
          base,
        ),
      'ERR_JWT_INVALID',
    ],
    [
      'no jti',
      () =>
        verifyWorkloadProofToken(
          signCompactJws(
            { alg: 'ES256', typ: 'wpt+jwt' },
            { ...claims, jti: undefined },
            workload.privateKey,
          ),
          base,
        ),
      'ERR_JWT_INVALID',
    ],
    ['wth for another WIT', () => verifyWorkloadProofToken(make({ wit: otherWit }), base), 'ERR_JWT_INVALID'],
    [
      'alg none',
      () =>
        verifyWorkloadProofToken(
          `${Buffer.from('{"alg":"none","typ":"wpt+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.AA`,
          base,
        ),
      'ERR_JWT_ALG_NOT_ALLOWED',
    ],
    [
      'signed by a key other than cnf.jwk',
      () =>
        verifyWorkloadProofToken(
          signCompactJws({ alg: 'ES256', typ: 'wpt+jwt' }, claims, other.privateKey),
          base,
        ),
      'ERR_JWT_SIGNATURE_INVALID',
    ],
    [
      'typ JWT',
      () =>
        verifyWorkloadProofToken(
          signCompactJws({ alg: 'ES256', typ: 'JWT' }, claims, workload.privateKey),
          base,
        ),
      'ERR_JWT_INVALID',
    ],
    [
      'tth missing for the Txn-Token sent',
      () => verifyWorkloadProofToken(make(), { ...base, txnToken: 'a.b.c' }),
      'ERR_JWT_INVALID',
    ],
    [
      'tth for another Txn-Token',
      () => verifyWorkloadProofToken(make({ txnToken: 'x.y.z' }), { ...base, txnToken: 'a.b.c' }),
      'ERR_JWT_INVALID',
    ],
    [
      'tth without a Txn-Token',
      () => verifyWorkloadProofToken(make({ txnToken: 'x.y.z' }), base),
      'ERR_JWT_INVALID',
    ],
    [
      'ath for another access token',
      () => verifyWorkloadProofToken(make({ accessToken: 'at1' }), { ...base, accessToken: 'at2' }),
      'ERR_JWT_INVALID',
    ],
    [
      'oth missing a token',
      () => verifyWorkloadProofToken(make(), { ...base, otherTokens: { 'X-Thing': 'q' } }),
      'ERR_JWT_INVALID',
    ],
  ]
  for (const [what, fn, code] of cases) t.throws(fn, sigilCode(code), what)
  t.ok(
    verifyWorkloadProofToken(make({ accessToken: 'at1', otherTokens: { 'X-Thing': 'q' } }), {
      ...base,
      accessToken: 'at1',
      otherTokens: { 'X-Thing': 'q' },
    }),
    'ath and oth bound',
  )
})

t.test('a reused jti is refused; the replay cache is bounded and fails closed', async (t) => {
  const cache = new JtiReplayCache({ maxEntries: 2 })
  const opts = { wit, validatedWit, audience: aud, now, replayCache: cache }
  const wpt = createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, now })
  verifyWorkloadProofToken(wpt, opts)
  t.throws(() => verifyWorkloadProofToken(wpt, opts), sigilCode('ERR_TOKEN_USED'))
  verifyWorkloadProofToken(
    createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, now }),
    opts,
  )
  t.throws(
    () =>
      verifyWorkloadProofToken(
        createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, now }),
        opts,
      ),
    sigilCode('ERR_RESOURCE_EXHAUSTED'),
  )
  const later = new Date(now.getTime() + 200_000)
  const fresh = createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, now: later })
  t.ok(verifyWorkloadProofToken(fresh, { ...opts, now: later, validatedWit }), 'expired entries are pruned')
  t.equal(cache.size, 1)
})

t.test(
  'createWorkloadProofToken refuses a key that is not the cnf key type and an audience with a query',
  async (t) => {
    t.throws(
      () => createWorkloadProofToken({ wit, privateKey: keyPair('rsa-2048').privateKey, audience: aud }),
      TypeError,
    )
    t.throws(
      () => createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: `${aud}?x=1` }),
      TypeError,
    )
    t.throws(
      () =>
        createWorkloadProofToken({ wit, privateKey: workload.privateKey, audience: aud, ttlSeconds: 3600 }),
      TypeError,
    )
  },
)
