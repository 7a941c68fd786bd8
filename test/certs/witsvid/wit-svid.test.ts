// WIT-SVID minting and validation (spiffe/spiffe standards/WIT-SVID.md). jose is the
// independent verifier of what we mint; hand-built tokens probe each rule of the validator.
import { generateKeyPairSync } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import t from 'tap'
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { signCompactJws } from '../../../certs/jws/compact-jws.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import {
  confirmationJwk,
  privateKeyFromJwkString,
  privateKeyToJwkString,
} from '../../../certs/witsvid/confirmation-key.js'
import { validateWitSvid } from '../../../certs/witsvid/validate-wit-svid.js'
import { WitSvidSigner } from '../../../certs/witsvid/wit-svid-signer.js'
import { keyPair, sigilCode } from '../bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const id = SpiffeId.parse('spiffe://example.org/ns/web')
const now = new Date('2030-06-01T12:00:00Z')
const nowSec = Math.floor(now.getTime() / 1000)
const witKey = keyPair('ec-p256')
const jwtKey = keyPair('ec-p256')
const workload = keyPair('ec-p256')
const bundle = TrustBundle.create({
  trustDomain: td,
  jwtAuthorities: [{ kid: 'jwt-1', publicKey: jwtKey.publicKey }],
  witAuthorities: [{ kid: 'wit-1', publicKey: witKey.publicKey }],
})
const bundleFor = (d: TrustDomain) => (d.equals(td) ? bundle : undefined)
const signer = new WitSvidSigner({ privateKey: witKey.privateKey, kid: 'wit-1' })

t.test('a minted WIT-SVID has the profile header and claims; jose verifies it', async (t) => {
  const minted = signer.sign({ spiffeId: id, workloadKey: workload.publicKey, ttlSeconds: 3600, now })
  t.same(decodeProtectedHeader(minted.token), { alg: 'ES256', kid: 'wit-1', typ: 'wit+jwt' })
  const { payload } = await jwtVerify(minted.token, witKey.publicKey, {
    algorithms: ['ES256'],
    typ: 'wit+jwt',
    currentDate: now,
  })
  t.equal(payload.sub, id.toString())
  t.equal(payload.exp, nowSec + 3600)
  t.equal(payload.iat, nowSec)
  t.notOk('aud' in payload, 'no aud')
  t.equal(Buffer.from(payload.jti as string, 'base64url').length, 16)
  t.same((payload.cnf as { jwk: unknown }).jwk, confirmationJwk(workload.publicKey))
  t.equal((payload.cnf as { jwk: { alg: string } }).jwk.alg, 'ES256')
  const v = validateWitSvid(minted.token, { bundleFor, now })
  t.equal(v.spiffeId.toString(), id.toString())
  t.ok(v.confirmationKey.equals(workload.publicKey))
  t.equal(v.confirmationAlgorithm, 'ES256')
})

t.test('RSA and P-384 authorities and workload keys', async (t) => {
  const rsa = keyPair('rsa-2048')
  const p384 = keyPair('ec-p384')
  const b = TrustBundle.create({ trustDomain: td, witAuthorities: [{ kid: 'r', publicKey: rsa.publicKey }] })
  const s = new WitSvidSigner({ privateKey: rsa.privateKey, kid: 'r', algorithm: 'PS256' })
  const { token } = s.sign({ spiffeId: id, workloadKey: p384.privateKey, ttlSeconds: 60, now })
  await jwtVerify(token, rsa.publicKey, { algorithms: ['PS256'], currentDate: now })
  const v = validateWitSvid(token, { bundleFor: () => b, now })
  t.equal(v.confirmationAlgorithm, 'ES384')
  t.ok(v.confirmationKey.equals(p384.publicKey), 'cnf is the public half')
})

t.test('the bundle publishes WIT keys with use "wit-svid", kids unique across the bundle', async (t) => {
  const doc = JSON.parse(encodeSpiffeBundle(bundle))
  t.same(
    doc.keys.map((k: { use: string; kid: string }) => [k.use, k.kid]),
    [
      ['jwt-svid', 'jwt-1'],
      ['wit-svid', 'wit-1'],
    ],
  )
  const back = decodeSpiffeBundle(td, encodeSpiffeBundle(bundle))
  t.ok(back.equals(bundle))
  t.ok(back.findWitAuthority('wit-1'))
  t.notOk(back.findJwtAuthority('wit-1'), 'a WIT key is no JWT key')
  t.throws(
    () =>
      TrustBundle.create({
        trustDomain: td,
        jwtAuthorities: [{ kid: 'x', publicKey: jwtKey.publicKey }],
        witAuthorities: [{ kid: 'x', publicKey: witKey.publicKey }],
      }),
    sigilCode('ERR_BUNDLE_INVALID'),
  )
})

t.test('validation refuses each broken rule', async (t) => {
  const good = {
    sub: id.toString(),
    exp: nowSec + 60,
    iat: nowSec,
    cnf: { jwk: confirmationJwk(workload.publicKey) },
  }
  const sign = (
    claims: Record<string, unknown>,
    header: Record<string, unknown> = { alg: 'ES256', kid: 'wit-1', typ: 'wit+jwt' },
    key = witKey.privateKey,
  ) => signCompactJws(header, claims, key)
  t.ok(validateWitSvid(sign(good), { bundleFor, now }), 'control')
  const cases: [string, string, string][] = [
    ['aud present', sign({ ...good, aud: 'x' }), 'ERR_JWT_INVALID'],
    ['typ JWT', sign(good, { alg: 'ES256', kid: 'wit-1', typ: 'JWT' }), 'ERR_JWT_INVALID'],
    [
      'extra header',
      sign(good, { alg: 'ES256', kid: 'wit-1', typ: 'wit+jwt', jku: 'https://x' }),
      'ERR_JWT_INVALID',
    ],
    ['no kid', sign(good, { alg: 'ES256', typ: 'wit+jwt' }), 'ERR_JWT_KID_UNKNOWN'],
    [
      'kid of a JWT authority',
      sign(good, { alg: 'ES256', kid: 'jwt-1', typ: 'wit+jwt' }, jwtKey.privateKey),
      'ERR_JWT_KID_UNKNOWN',
    ],
    [
      'signed by another key',
      sign(good, undefined, keyPair('ec-p256').privateKey),
      'ERR_JWT_SIGNATURE_INVALID',
    ],
    ['expired', sign({ ...good, exp: nowSec - 31 }), 'ERR_JWT_EXPIRED'],
    ['no exp', sign({ ...good, exp: undefined }), 'ERR_JWT_INVALID'],
    ['nbf ahead', sign({ ...good, nbf: nowSec + 100 }), 'ERR_JWT_NOT_YET_VALID'],
    ['no cnf', sign({ ...good, cnf: undefined }), 'ERR_JWT_INVALID'],
    [
      'cnf.jwk without alg',
      sign({ ...good, cnf: { jwk: { ...good.cnf.jwk, alg: undefined } } }),
      'ERR_JWT_INVALID',
    ],
    [
      'cnf.jwk alg none',
      sign({ ...good, cnf: { jwk: { ...good.cnf.jwk, alg: 'none' } } }),
      'ERR_JWT_INVALID',
    ],
    [
      'cnf.jwk alg not fitting',
      sign({ ...good, cnf: { jwk: { ...good.cnf.jwk, alg: 'RS256' } } }),
      'ERR_JWT_INVALID',
    ],
    [
      'cnf.jwk private',
      sign({ ...good, cnf: { jwk: JSON.parse(privateKeyToJwkString(workload.privateKey)) } }),
      'ERR_JWT_INVALID',
    ],
    ['sub not a SPIFFE ID', sign({ ...good, sub: 'https://x' }), 'ERR_SPIFFE_ID_INVALID'],
    ['foreign trust domain', sign({ ...good, sub: 'spiffe://other.org/a' }), 'ERR_BUNDLE_NOT_FOUND'],
    [
      'alg none',
      `${Buffer.from('{"alg":"none","kid":"wit-1","typ":"wit+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.AA`,
      'ERR_JWT_ALG_NOT_ALLOWED',
    ],
  ]
  for (const [what, token, code] of cases) {
    t.throws(() => validateWitSvid(token, { bundleFor, now }), sigilCode(code), what)
  }
})

t.test('wit_svid_key round-trips as a private JWK with alg', async (t) => {
  const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' })
  for (const k of [workload.privateKey, keyPair('rsa-2048').privateKey, p521.privateKey]) {
    const json = privateKeyToJwkString(k)
    const back = privateKeyFromJwkString(json)
    t.ok(back.privateKey.equals(k))
    t.ok(JSON.parse(json).d, 'private member present')
  }
  t.throws(() => privateKeyFromJwkString('{"kty":"EC"}'), sigilCode('ERR_KEY_INVALID'))
  t.throws(
    () =>
      privateKeyFromJwkString(
        JSON.stringify({ ...JSON.parse(privateKeyToJwkString(workload.privateKey)), alg: 'ES384' }),
      ),
    sigilCode('ERR_KEY_INVALID'),
  )
})
