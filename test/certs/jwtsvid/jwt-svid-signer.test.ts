import { generateKeyPairSync, verify as nodeVerify } from 'node:crypto'
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify } from 'jose'
import t from 'tap'
import { encodeJwtBundle } from '../../../certs/bundle/jwt-bundle-json.js'
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { JwtSvidSigner, type JwtSvidSigningAlgorithm } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import { validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, sigilCode } from '../bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web')
const now = new Date('2030-06-01T12:00:00.750Z')
const nowSec = Math.floor(now.getTime() / 1000)
const keys = { 'ec-p256': keyPair('ec-p256'), 'ec-p384': keyPair('ec-p384'), 'rsa-2048': keyPair('rsa-2048') }
const bundle = TrustBundle.create({
  trustDomain: td,
  x509Authorities: [makeCa('ec-p256').der, makeCa('rsa-2048').der],
  jwtAuthorities: Object.entries(keys).map(([kid, k]) => ({ kid, publicKey: k.publicKey })),
  sequenceNumber: 1,
})
const cases: [keyof typeof keys, JwtSvidSigningAlgorithm | undefined, JwtSvidSigningAlgorithm][] = [
  ['ec-p256', undefined, 'ES256'],
  ['ec-p384', undefined, 'ES384'],
  ['rsa-2048', undefined, 'RS256'],
  ['rsa-2048', 'PS256', 'PS256'],
]
const spiffeDoc = JSON.parse(encodeSpiffeBundle(bundle))
const jwtJwks = createLocalJWKSet(JSON.parse(encodeJwtBundle(bundle)))

for (const [type, algorithm, alg] of cases) {
  t.test(`${alg} with a ${type} key: header, claims, and independent verification`, async (t) => {
    const signer = new JwtSvidSigner({ privateKey: keys[type].privateKey, kid: type, algorithm })
    t.equal(signer.algorithm, alg)
    const minted = await signer.sign({
      spiffeId: id,
      audience: ['spiffe://example.org/db', 'aud-b'],
      ttlSeconds: 300,
      now,
    })
    const { token } = minted
    const header = decodeProtectedHeader(token)
    t.same(header, { alg, kid: type, typ: 'JWT' })
    t.same(Object.keys(header), ['alg', 'kid', 'typ'], 'exactly alg, kid, typ')
    const claims = decodeJwt(token)
    t.equal(claims.sub, id.toString())
    t.same(claims.aud, ['spiffe://example.org/db', 'aud-b'], 'aud is an array in request order')
    t.equal(claims.iat, nowSec)
    t.equal(claims.exp, nowSec + 300)
    t.equal(claims.jti, minted.jti)
    t.notOk('iss' in claims, 'no iss unless configured')
    t.same(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'jti', 'sub'])
    t.equal(minted.issuedAt.getTime(), nowSec * 1000)
    t.equal(minted.expiresAt.getTime(), (nowSec + 300) * 1000)
    t.same(minted.audience, ['spiffe://example.org/db', 'aud-b'])

    // jose over the FetchJWTBundles JWKS our encoder wrote
    const viaJwks = await jwtVerify(token, jwtJwks, {
      algorithms: [alg],
      audience: 'aud-b',
      currentDate: now,
    })
    t.equal(viaJwks.payload.sub, id.toString())
    // jose accepts our SPIFFE bundle document as a JWK Set, but its key selection skips every key whose
    // `use` is not "sig", so the jwt-svid keys are never picked: pin that so a jose change shows up here.
    const spiffeSet = createLocalJWKSet(spiffeDoc)
    await t.rejects(
      jwtVerify(token, spiffeSet, { algorithms: [alg], currentDate: now }),
      errors.JWKSNoMatchingKey,
    )
    // ... and the entry of the SPIFFE bundle document, imported by jose, verifies the token
    const entry = spiffeDoc.keys.find((k: { kid?: string }) => k.kid === type)
    t.equal(entry.use, 'jwt-svid')
    const viaEntry = await jwtVerify(token, await importJWK(entry, alg), {
      algorithms: [alg],
      currentDate: now,
    })
    t.same(viaEntry.protectedHeader, { alg, kid: type, typ: 'JWT' })
    // Node's OpenSSL, directly: ES signatures are raw r||s (SPIFFE.md §7.9)
    const [h, p, s] = token.split('.') as [string, string, string]
    const sig = Buffer.from(s, 'base64url')
    const hash = alg === 'ES384' ? 'sha384' : 'sha256'
    const opts =
      alg === 'PS256'
        ? { key: keys[type].publicKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }
        : { key: keys[type].publicKey, dsaEncoding: 'ieee-p1363' as const }
    t.ok(nodeVerify(hash, Buffer.from(`${h}.${p}`), opts, sig), 'node:crypto verifies the signature')
    if (alg.startsWith('ES')) t.equal(sig.length, alg === 'ES256' ? 64 : 96)
    // our own validator, over a bundle that went through our JSON encoder and decoder
    const decoded = decodeSpiffeBundle(td, encodeSpiffeBundle(bundle))
    const ok = await validateJwtSvid(token, { audience: 'aud-b', bundleFor: () => decoded, now })
    t.equal(ok.spiffeId.toString(), id.toString())
  })
}

t.test('many mints: unique jti, every one verifies with jose', async (t) => {
  const signer = new JwtSvidSigner({ privateKey: keys['ec-p256'].privateKey, kid: 'ec-p256' })
  const ids = new Set<string>()
  let failures = 0
  for (let i = 0; i < 1000; i++) {
    const m = await signer.sign({ spiffeId: id, audience: [`a${i}`], ttlSeconds: 60, now })
    ids.add(m.jti)
    try {
      await jwtVerify(m.token, jwtJwks, { algorithms: ['ES256'], audience: `a${i}`, currentDate: now })
    } catch {
      failures++
    }
  }
  t.equal(ids.size, 1000)
  t.equal(failures, 0)
})

t.test('iss when configured; a single audience is still an array', async (t) => {
  const signer = new JwtSvidSigner({
    privateKey: keys['ec-p256'].privateKey,
    kid: 'ec-p256',
    issuer: 'https://oidc.example.org',
  })
  const { token } = await signer.sign({ spiffeId: id, audience: ['only'], ttlSeconds: 60 })
  const claims = decodeJwt(token)
  t.equal(claims.iss, 'https://oidc.example.org')
  t.same(claims.aud, ['only'])
  t.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 5, 'now defaults to the clock')
})

t.test('notAfterCap caps exp', async (t) => {
  const signer = new JwtSvidSigner({ privateKey: keys['ec-p256'].privateKey, kid: 'ec-p256' })
  const cap = new Date(now.getTime() + 100_000)
  const m = await signer.sign({ spiffeId: id, audience: ['a'], ttlSeconds: 3600, now, notAfterCap: cap })
  t.equal(decodeJwt(m.token).exp, Math.floor(cap.getTime() / 1000))
  t.equal(m.expiresAt.getTime(), Math.floor(cap.getTime() / 1000) * 1000)
  const far = await signer.sign({ spiffeId: id, audience: ['a'], ttlSeconds: 60, now, notAfterCap: cap })
  t.equal(decodeJwt(far.token).exp, nowSec + 60, 'a later cap changes nothing')
  await t.rejects(
    signer.sign({ spiffeId: id, audience: ['a'], ttlSeconds: 60, now, notAfterCap: now }),
    sigilCode('ERR_INVALID_ARGUMENT'),
  )
})

t.test('bad sign requests', async (t) => {
  const signer = new JwtSvidSigner({ privateKey: keys['ec-p256'].privateKey, kid: 'ec-p256' })
  const base = { spiffeId: id, audience: ['a'], ttlSeconds: 60, now }
  await t.rejects(
    signer.sign({ ...base, audience: [] }),
    sigilCode('ERR_INVALID_ARGUMENT'),
    'empty audience list',
  )
  await t.rejects(
    signer.sign({ ...base, audience: ['a', ''] }),
    sigilCode('ERR_INVALID_ARGUMENT'),
    'empty audience',
  )
  await t.rejects(signer.sign({ ...base, audience: 'a' as never }), TypeError)
  await t.rejects(signer.sign({ ...base, audience: [1] as never }), TypeError)
  await t.rejects(signer.sign({ ...base, spiffeId: id.toString() as never }), TypeError)
  for (const ttlSeconds of [0, -1, 1.5, Number.NaN])
    await t.rejects(signer.sign({ ...base, ttlSeconds }), TypeError)
  await t.rejects(signer.sign({ ...base, now: new Date(Number.NaN) }), TypeError)
})

t.test('bad signer configuration', async (t) => {
  const p256 = keys['ec-p256'].privateKey
  t.throws(
    () => new JwtSvidSigner({ privateKey: keys['ec-p256'].publicKey, kid: 'k' }),
    TypeError,
    'public key',
  )
  t.throws(() => new JwtSvidSigner({ privateKey: p256, kid: '' }), TypeError, 'empty kid')
  t.throws(() => new JwtSvidSigner({ privateKey: p256, kid: 'k', algorithm: 'ES384' }), TypeError, 'alg/key')
  t.throws(() => new JwtSvidSigner({ privateKey: p256, kid: 'k', algorithm: 'RS256' }), TypeError, 'alg/key')
  t.throws(
    () => new JwtSvidSigner({ privateKey: keys['rsa-2048'].privateKey, kid: 'k', algorithm: 'ES256' }),
    TypeError,
  )
  t.throws(() => new JwtSvidSigner({ privateKey: p256, kid: 'k', algorithm: 'HS256' as never }), TypeError)
  t.throws(() => new JwtSvidSigner({ privateKey: p256, kid: 'k', issuer: '' }), TypeError)
  t.throws(
    () => new JwtSvidSigner({ privateKey: generateKeyPairSync('ed25519').privateKey, kid: 'k' }),
    sigilCode('ERR_KEY_UNSUPPORTED'),
    'no EdDSA',
  )
})
