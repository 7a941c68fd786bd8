// The node:crypto compact JWS signer, checked by jose as the independent verifier, for every
// algorithm and key type Sigil signs with; and jose-signed tokens checked by our verifier.
import { generateKeyPairSync } from 'node:crypto'
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose'
import t from 'tap'
import {
  decodeCompactJws,
  type JwsAlgorithm,
  signCompactJws,
  verifyCompactJws,
} from '../../../certs/jws/compact-jws.js'
import { keyPair, sigilCode } from '../bundle/fixtures.js'

const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' })
const cases: [
  JwsAlgorithm,
  { privateKey: import('node:crypto').KeyObject; publicKey: import('node:crypto').KeyObject },
][] = [
  ['ES256', keyPair('ec-p256')],
  ['ES384', keyPair('ec-p384')],
  ['ES512', p521],
  ['RS256', keyPair('rsa-2048')],
  ['RS384', keyPair('rsa-2048')],
  ['RS512', keyPair('rsa-2048')],
  ['PS256', keyPair('rsa-2048')],
  ['PS384', keyPair('rsa-2048')],
  ['PS512', keyPair('rsa-2048')],
]

for (const [alg, k] of cases) {
  t.test(`${alg}: ours signs, jose verifies; jose signs, ours verifies`, async (t) => {
    const token = signCompactJws(
      { alg, kid: 'k1', typ: 'JWT' },
      { sub: 'spiffe://example.org/a', n: 1 },
      k.privateKey,
    )
    const { payload, protectedHeader } = await compactVerify(token, k.publicKey, { algorithms: [alg] })
    t.same(protectedHeader, { alg, kid: 'k1', typ: 'JWT' })
    t.same(JSON.parse(Buffer.from(payload).toString()), { sub: 'spiffe://example.org/a', n: 1 })
    t.same(Object.keys(decodeProtectedHeader(token)), ['alg', 'kid', 'typ'], 'member order kept')

    const joseToken = await new CompactSign(Buffer.from('{"a":1}'))
      .setProtectedHeader({ alg })
      .sign(k.privateKey)
    const decoded = decodeCompactJws(joseToken)
    t.ok(verifyCompactJws(decoded, alg, k.publicKey), 'jose-signed token verifies')
    t.same(decoded.payload, { a: 1 })
    const tampered = decodeCompactJws(
      `${joseToken.split('.')[0]}.${Buffer.from('{"a":2}').toString('base64url')}.${joseToken.split('.')[2]}`,
    )
    t.notOk(verifyCompactJws(tampered, alg, k.publicKey), 'tampered payload refused')
  })
}

t.test('verify refuses a wrong key, a key of another type and a mangled signature', async (t) => {
  const a = keyPair('ec-p256')
  const b = keyPair('ec-p256')
  const token = signCompactJws({ alg: 'ES256' }, { x: 1 }, a.privateKey)
  const d = decodeCompactJws(token)
  t.ok(verifyCompactJws(d, 'ES256', a.publicKey))
  t.notOk(verifyCompactJws(d, 'ES256', b.publicKey), 'other key')
  t.notOk(verifyCompactJws(d, 'ES384', a.publicKey), 'alg not fitting the key')
  t.notOk(verifyCompactJws(d, 'RS256', keyPair('rsa-2048').publicKey), 'RSA key for an EC signature')
  t.notOk(
    verifyCompactJws({ ...d, signature: d.signature.subarray(1) }, 'ES256', a.publicKey),
    'short signature',
  )
  t.notOk(verifyCompactJws(d, 'none' as JwsAlgorithm, a.publicKey), 'none')
})

t.test('sign refuses none, HS256 and an algorithm that does not fit the key', async (t) => {
  const k = keyPair('ec-p256')
  t.throws(() => signCompactJws({ alg: 'none' }, {}, k.privateKey), TypeError)
  t.throws(() => signCompactJws({ alg: 'HS256' }, {}, k.privateKey), TypeError)
  t.throws(() => signCompactJws({ alg: 'ES384' }, {}, k.privateKey), TypeError)
  t.throws(() => signCompactJws({ alg: 'ES256' }, {}, k.publicKey), TypeError)
})

t.test('decode refuses malformed tokens with ERR_JWT_INVALID', async (t) => {
  const h = Buffer.from('{"alg":"ES256"}').toString('base64url')
  const p = Buffer.from('{"a":1}').toString('base64url')
  for (const [what, token] of [
    ['two parts', `${h}.${p}`],
    ['JWE', 'a.b.c.d.e'],
    ['JSON serialization', '{"payload":"x"}'],
    ['empty signature', `${h}.${p}.`],
    ['padded base64', `${h}=.${p}.AAAA`],
    ['array payload', `${h}.${Buffer.from('[1]').toString('base64url')}.AAAA`],
    ['not JSON', `${h}.${Buffer.from('nope').toString('base64url')}.AAAA`],
    ['too long', `${h}.${'A'.repeat(70_000)}.AAAA`],
  ] as const) {
    t.throws(() => decodeCompactJws(token), sigilCode('ERR_JWT_INVALID'), what)
  }
})
