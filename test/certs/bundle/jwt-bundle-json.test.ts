import t from 'tap'
import { decodeJwtBundle, encodeJwtBundle, jwtAuthorityToJwk } from '../../../certs/bundle/jwt-bundle-json.js'
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { isSigilError } from '../../../certs/errors.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, prng, sigilCode } from './fixtures.js'

const td = TrustDomain.parse('example.org')
const keys = [keyPair('ec-p256'), keyPair('ec-p384'), keyPair('rsa-2048')]
const bundle = TrustBundle.create({
  trustDomain: td,
  x509Authorities: [makeCa('ec-p256').der],
  jwtAuthorities: keys.map((k, i) => ({ kid: `k${i}`, publicKey: k.publicKey })),
  sequenceNumber: 9,
  refreshHintSeconds: 60,
})
const INVALID = sigilCode('ERR_BUNDLE_INVALID')

t.test('FetchJWTBundles form: JWT keys only, each with kid, no use, no spiffe_* members', async (t) => {
  const doc = JSON.parse(encodeJwtBundle(bundle))
  t.same(Object.keys(doc), ['keys'])
  t.equal(doc.keys.length, 3, 'the X.509 authority is left out')
  for (const [i, k] of doc.keys.entries()) {
    t.equal(k.kid, `k${i}`)
    t.notOk('use' in k)
    t.notOk('x5c' in k)
    const { kid: _k, ...fields } = k
    t.same(fields, keys[i]?.publicKey.export({ format: 'jwk' }))
  }
  t.same(jwtAuthorityToJwk({ kid: 'z', publicKey: keys[0]?.publicKey as never }), {
    ...doc.keys[0],
    kid: 'z',
  })
})

t.test('decode(encode(b)) keeps the JWT authorities', async (t) => {
  const back = decodeJwtBundle(td, encodeJwtBundle(bundle))
  t.ok(back.equals(TrustBundle.create({ trustDomain: td, jwtAuthorities: bundle.jwtAuthorities })))
  t.equal(back.sequenceNumber, 0)
  t.equal(back.x509Authorities.length, 0)
})

t.test('a SPIFFE bundle document also decodes as a JWT bundle (x509-svid keys skipped)', async (t) => {
  const b = decodeJwtBundle(td, encodeSpiffeBundle(bundle))
  t.same(
    b.jwtAuthorities.map((a) => a.kid),
    ['k0', 'k1', 'k2'],
  )
})

t.test('odd and malformed keys', async (t) => {
  const k0 = jwtAuthorityToJwk(bundle.jwtAuthorities[0] as never)
  const ok: [string, unknown, number][] = [
    ['use sig accepted', { keys: [{ ...k0, use: 'sig' }] }, 1],
    ['use enc ignored', { keys: [{ ...k0, use: 'enc' }] }, 0],
    ['unknown kty ignored', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'e' }] }, 0],
    ['empty keys', { keys: [] }, 0],
  ]
  for (const [name, doc, n] of ok)
    t.equal(decodeJwtBundle(td, JSON.stringify(doc)).jwtAuthorities.length, n, name)
  const bad: [string, unknown][] = [
    ['no keys', {}],
    ['key without kid (go-spiffe fails on it too)', { keys: [{ ...k0, kid: undefined }] }],
    ['duplicate kid', { keys: [k0, k0] }],
    ['key not an object', { keys: ['x'] }],
    ['private member', { keys: [{ ...k0, d: 'AAAA' }] }],
  ]
  for (const [name, doc] of bad) t.throws(() => decodeJwtBundle(td, JSON.stringify(doc)), INVALID, name)
  t.throws(() => decodeJwtBundle(td, '{"keys":[]'), INVALID)
})

t.test('fuzz: only ERR_BUNDLE_INVALID escapes', async (t) => {
  const rnd = prng(42)
  const text = encodeJwtBundle(bundle)
  const bad: string[] = []
  for (let i = 0; i < 1000; i++) {
    const chars = [...text]
    for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
      chars[Math.floor(rnd() * chars.length)] = String.fromCharCode(32 + Math.floor(rnd() * 95))
    }
    try {
      decodeJwtBundle(td, chars.join(''))
    } catch (e) {
      if (!isSigilError(e, 'ERR_BUNDLE_INVALID')) bad.push(String(e))
    }
  }
  t.same(bad.slice(0, 5), [])
})
