import { generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto'
import { SignJWT } from 'jose'
import t from 'tap'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { isSigilError } from '../../../certs/errors.js'
import { JwtSvidSigner } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import { parseJwtSvidInsecure } from '../../../certs/jwtsvid/parse-jwt-svid-insecure.js'
import { type ValidateJwtSvidOptions, validateJwtSvid } from '../../../certs/jwtsvid/validate-jwt-svid.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, prng, sigilCode } from '../bundle/fixtures.js'

const td = TrustDomain.parse('example.org')
const otherTd = TrustDomain.parse('other.org')
const id = SpiffeId.parse('spiffe://example.org/web')
const now = new Date('2030-06-01T12:00:00Z')
const nowSec = Math.floor(now.getTime() / 1000)
const p256 = keyPair('ec-p256')
const p384 = keyPair('ec-p384')
const rsa = keyPair('rsa-2048')
const otherKey = keyPair('ec-p256')
const bundle = TrustBundle.create({
  trustDomain: td,
  jwtAuthorities: [
    { kid: 'p256', publicKey: p256.publicKey },
    { kid: 'p384', publicKey: p384.publicKey },
    { kid: 'rsa', publicKey: rsa.publicKey },
  ],
})
// other.org publishes a different key under the same kid "p256"
const otherBundle = TrustBundle.create({
  trustDomain: otherTd,
  jwtAuthorities: [{ kid: 'p256', publicKey: otherKey.publicKey }],
})
const bundles = new Map([
  [td.name, bundle],
  [otherTd.name, otherBundle],
])
const opts: ValidateJwtSvidOptions = { audience: 'db', bundleFor: (d) => bundles.get(d.name), now }
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const claims = (extra: Record<string, unknown> = {}) => ({
  sub: id.toString(),
  aud: ['db'],
  exp: nowSec + 300,
  iat: nowSec,
  ...extra,
})

/** Signs any header and payload with node:crypto (independent of jose), ES256 by default. */
function craft(
  header: Record<string, unknown>,
  payload: unknown,
  key: KeyObject = p256.privateKey,
  hash = 'sha256',
) {
  const input = `${b64(header)}.${typeof payload === 'string' ? Buffer.from(payload).toString('base64url') : b64(payload)}`
  const sig = nodeSign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${sig.toString('base64url')}`
}
const H = { alg: 'ES256', kid: 'p256', typ: 'JWT' }
const check = (token: string, c: string, name: string, o: Partial<ValidateJwtSvidOptions> = {}) =>
  t.rejects(validateJwtSvid(token, { ...opts, ...o }), sigilCode(c), name)

t.test('a good token validates and returns sub, claims, expiry, audience', async (t) => {
  const token = craft(H, claims({ custom: { a: 1 } }))
  const r = await validateJwtSvid(token, opts)
  t.equal(r.spiffeId.toString(), id.toString())
  t.equal(r.expiresAt.getTime(), (nowSec + 300) * 1000)
  t.same(r.audience, ['db'])
  t.same(r.claims.custom, { a: 1 })
  t.equal(r.claims.sub, id.toString())
})

t.test('tokens from our signer, every algorithm', async (t) => {
  const signers = [
    new JwtSvidSigner({ privateKey: p256.privateKey, kid: 'p256' }),
    new JwtSvidSigner({ privateKey: p384.privateKey, kid: 'p384' }),
    new JwtSvidSigner({ privateKey: rsa.privateKey, kid: 'rsa' }),
    new JwtSvidSigner({ privateKey: rsa.privateKey, kid: 'rsa', algorithm: 'PS256' }),
  ]
  for (const s of signers) {
    const { token } = await s.sign({ spiffeId: id, audience: ['x', 'db', 'y'], ttlSeconds: 60, now })
    const r = await validateJwtSvid(token, opts)
    t.same(r.audience, ['x', 'db', 'y'], `${s.algorithm}: order kept`)
  }
})

t.test('audience: any expected audience in aud passes; a bare-string aud is accepted', async (t) => {
  const bare = craft(H, claims({ aud: 'db' }))
  t.same((await validateJwtSvid(bare, opts)).audience, ['db'], 'bare string becomes a list')
  const many = craft(H, claims({ aud: ['a', 'b'] }))
  t.ok(await validateJwtSvid(many, { ...opts, audience: ['zzz', 'b'] }))
  await check(many, 'ERR_JWT_AUDIENCE_MISMATCH', 'wrong audience')
  await check(bare, 'ERR_JWT_AUDIENCE_MISMATCH', 'none of several', { audience: ['x', 'y'] })
  await check(craft(H, claims({ aud: 'DB' })), 'ERR_JWT_AUDIENCE_MISMATCH', 'audience is case-sensitive')
})

t.test('times: exp with leeway, iat/nbf in the future', async (t) => {
  const expired = craft(H, claims({ exp: nowSec - 31, iat: nowSec - 400 }))
  await check(expired, 'ERR_JWT_EXPIRED', 'expired beyond the 30 s default leeway')
  t.ok(await validateJwtSvid(craft(H, claims({ exp: nowSec - 20 })), opts), 'expired within leeway')
  await check(craft(H, claims({ exp: nowSec - 20 })), 'ERR_JWT_EXPIRED', 'no leeway', { leewaySeconds: 0 })
  await check(craft(H, claims({ exp: nowSec })), 'ERR_JWT_EXPIRED', 'exp == now, no leeway', {
    leewaySeconds: 0,
  })
  await check(
    craft(H, claims({ iat: nowSec + 3600, exp: nowSec + 4000 })),
    'ERR_JWT_NOT_YET_VALID',
    'iat far ahead',
  )
  await check(craft(H, claims({ nbf: nowSec + 3600 })), 'ERR_JWT_NOT_YET_VALID', 'nbf far ahead')
  t.ok(await validateJwtSvid(craft(H, claims({ iat: nowSec + 20, nbf: nowSec + 20 })), opts), 'within leeway')
  await check(craft(H, claims({ iat: nowSec + 61 })), 'ERR_JWT_NOT_YET_VALID', 'custom leeway', {
    leewaySeconds: 60,
  })
  await check(craft(H, claims()), 'ERR_JWT_NOT_YET_VALID', 'now defaults to the real clock (before 2030)', {
    now: undefined,
  })
})

t.test('trust domain and key lookup', async (t) => {
  const foreign = craft(H, claims({ sub: 'spiffe://nowhere.org/web' }))
  await check(foreign, 'ERR_BUNDLE_NOT_FOUND', 'sub in a trust domain with no bundle')
  await check(craft({ ...H, kid: 'nope' }, claims()), 'ERR_JWT_KID_UNKNOWN', 'unknown kid')
  await check(craft({ alg: 'ES256', typ: 'JWT' }, claims()), 'ERR_JWT_KID_UNKNOWN', 'missing kid')
  await check(craft({ ...H, kid: '' }, claims()), 'ERR_JWT_KID_UNKNOWN', 'empty kid')
  await check(craft({ ...H, kid: 'p384' }, claims()), 'ERR_JWT_KID_UNKNOWN', 'kid of another td', {
    bundleFor: (d) => (d.equals(td) ? TrustBundle.create({ trustDomain: td }) : undefined),
  })
  // signed by example.org's "p256" key but claiming other.org: checked against other.org's "p256"
  const crossTd = craft(H, claims({ sub: 'spiffe://other.org/web' }))
  await check(crossTd, 'ERR_JWT_SIGNATURE_INVALID', 'the sub trust domain picks the bundle')
  t.ok(await validateJwtSvid(craft(H, claims({ sub: 'spiffe://other.org/web' }), otherKey.privateKey), opts))
  await check(
    craft({ ...H, alg: 'ES384' }, claims(), p256.privateKey, 'sha384'),
    'ERR_JWT_SIGNATURE_INVALID',
    'alg does not fit the key',
  )
  await t.rejects(validateJwtSvid(craft(H, claims()), { ...opts, bundleFor: () => otherBundle }), TypeError)
})

t.test('algorithms: none, HMAC and EdDSA are never accepted', async (t) => {
  const none = `${b64({ alg: 'none', kid: 'p256', typ: 'JWT' })}.${b64(claims())}.`
  await check(none, 'ERR_JWT_ALG_NOT_ALLOWED', 'alg none')
  await check(
    `${b64({ alg: 'none', kid: 'p256' })}.${b64(claims())}.c2ln`,
    'ERR_JWT_ALG_NOT_ALLOWED',
    'none + sig',
  )
  // key confusion: HS256 keyed with the public key's PEM
  const pem = p256.publicKey.export({ type: 'spki', format: 'pem' })
  const hs = await new SignJWT(claims())
    .setProtectedHeader({ alg: 'HS256', kid: 'p256', typ: 'JWT' })
    .sign(Buffer.from(pem))
  await check(hs, 'ERR_JWT_ALG_NOT_ALLOWED', 'HS256')
  const ed = generateKeyPairSync('ed25519')
  const eddsa = await new SignJWT(claims())
    .setProtectedHeader({ alg: 'EdDSA', kid: 'p256', typ: 'JWT' })
    .sign(ed.privateKey)
  await check(eddsa, 'ERR_JWT_ALG_NOT_ALLOWED', 'EdDSA')
  await check(craft({ ...H, alg: 'es256' }, claims()), 'ERR_JWT_ALG_NOT_ALLOWED', 'case-sensitive')
  const rs = await new JwtSvidSigner({ privateKey: rsa.privateKey, kid: 'rsa' }).sign({
    spiffeId: id,
    audience: ['db'],
    ttlSeconds: 60,
    now,
  })
  await check(rs.token, 'ERR_JWT_ALG_NOT_ALLOWED', 'not in allowedAlgorithms', {
    allowedAlgorithms: ['ES256'],
  })
  await t.rejects(validateJwtSvid(rs.token, { ...opts, allowedAlgorithms: ['HS256' as never] }), TypeError)
})

t.test('signature and header tampering', async (t) => {
  const good = craft(H, claims())
  const [h, p, s] = good.split('.') as [string, string, string]
  const sig = Buffer.from(s, 'base64url')
  sig[10] = (sig[10] ?? 0) ^ 1
  await check(`${h}.${p}.${sig.toString('base64url')}`, 'ERR_JWT_SIGNATURE_INVALID', 'tampered signature')
  await check(
    `${h}.${b64(claims({ sub: 'spiffe://example.org/admin' }))}.${s}`,
    'ERR_JWT_SIGNATURE_INVALID',
    'tampered payload',
  )
  for (const extra of [
    { jku: 'https://x' },
    { x5c: ['AAAA'] },
    { crit: ['exp'] },
    { cty: 'JWT' },
    { b64: false },
    { foo: 1 },
  ]) {
    await check(
      craft({ ...H, ...extra }, claims()),
      'ERR_JWT_INVALID',
      `extra header ${Object.keys(extra)[0]}`,
    )
  }
  await check(craft({ ...H, typ: 'at+jwt' }, claims()), 'ERR_JWT_INVALID', 'bad typ')
  t.ok(await validateJwtSvid(craft({ ...H, typ: 'JOSE' }, claims()), opts), 'typ JOSE')
  t.ok(await validateJwtSvid(craft({ alg: 'ES256', kid: 'p256' }, claims()), opts), 'no typ')
})

t.test('malformed tokens and claims', async (t) => {
  const good = craft(H, claims())
  const [h, p, s] = good.split('.') as [string, string, string]
  const bad: [string, string, string][] = [
    ['two parts', `${h}.${p}`, 'ERR_JWT_INVALID'],
    ['four parts', `${good}.x`, 'ERR_JWT_INVALID'],
    ['JWE (five parts)', `${h}.a.b.c.d`, 'ERR_JWT_INVALID'],
    ['JSON serialization', JSON.stringify({ protected: h, payload: p, signature: s }), 'ERR_JWT_INVALID'],
    ['empty signature', `${h}.${p}.`, 'ERR_JWT_INVALID'],
    ['header not JSON', `${Buffer.from('{').toString('base64url')}.${p}.${s}`, 'ERR_JWT_INVALID'],
    ['header an array', `${b64([H])}.${p}.${s}`, 'ERR_JWT_INVALID'],
    ['header bad base64', `***.${p}.${s}`, 'ERR_JWT_INVALID'],
    ['alg missing', craft({ kid: 'p256' }, claims()), 'ERR_JWT_INVALID'],
    ['kid a number', craft({ ...H, kid: 5 }, claims()), 'ERR_JWT_INVALID'],
    ['payload not JSON', craft(H, 'not json'), 'ERR_JWT_INVALID'],
    ['payload an array', craft(H, [claims()]), 'ERR_JWT_INVALID'],
    ['sub missing', craft(H, claims({ sub: undefined })), 'ERR_JWT_INVALID'],
    ['sub a number', craft(H, claims({ sub: 1 })), 'ERR_JWT_INVALID'],
    ['sub not a SPIFFE ID', craft(H, claims({ sub: 'https://example.org/web' })), 'ERR_SPIFFE_ID_INVALID'],
    [
      'sub with a dot segment',
      craft(H, claims({ sub: 'spiffe://example.org/a/../b' })),
      'ERR_SPIFFE_ID_INVALID',
    ],
    ['exp missing', craft(H, claims({ exp: undefined })), 'ERR_JWT_INVALID'],
    ['exp a string', craft(H, claims({ exp: String(nowSec + 300) })), 'ERR_JWT_INVALID'],
    ['iat a string', craft(H, claims({ iat: 'now' })), 'ERR_JWT_INVALID'],
    ['aud missing', craft(H, claims({ aud: undefined })), 'ERR_JWT_INVALID'],
    ['aud empty array', craft(H, claims({ aud: [] })), 'ERR_JWT_INVALID'],
    ['aud with a number', craft(H, claims({ aud: ['db', 1] })), 'ERR_JWT_INVALID'],
    ['oversized', craft(H, claims({ pad: 'x'.repeat(64 * 1024) })), 'ERR_JWT_INVALID'],
    ['empty string', '', 'ERR_JWT_INVALID'],
  ]
  for (const [name, token, c] of bad) await check(token, c, name)
  await t.rejects(validateJwtSvid(5 as never, opts), TypeError)
})

t.test('bad options are TypeErrors', async (t) => {
  const token = craft(H, claims())
  const bad: Partial<ValidateJwtSvidOptions>[] = [
    { audience: '' },
    { audience: [] },
    { audience: [''] },
    { bundleFor: 'x' as never },
    { now: new Date(Number.NaN) },
    { leewaySeconds: -1 },
    { leewaySeconds: 301 },
    { allowedAlgorithms: [] },
  ]
  for (const o of bad)
    await t.rejects(validateJwtSvid(token, { ...opts, ...o }), TypeError, JSON.stringify(o))
})

t.test('parseJwtSvidInsecure decodes without verifying', async (t) => {
  const good = craft(H, claims({ aud: 'db' }))
  const [h, p] = good.split('.')
  const forged = `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`
  const u = parseJwtSvidInsecure(forged)
  t.same(u.header, { alg: 'ES256', kid: 'p256', typ: 'JWT' })
  t.equal(u.spiffeId.toString(), id.toString())
  t.same(u.audience, ['db'])
  await check(forged, 'ERR_JWT_SIGNATURE_INVALID', 'the same token fails real validation')
  t.throws(() => parseJwtSvidInsecure(`${b64({ alg: 'none' })}.${p}.`), sigilCode('ERR_JWT_ALG_NOT_ALLOWED'))
})

t.test('fuzz: mutated tokens only ever give SigilErrors', async (t) => {
  const rnd = prng(7)
  const seeds = [craft(H, claims()), craft({ ...H, kid: 'rsa', alg: 'RS256' }, claims(), rsa.privateKey)]
  const alphabet = 'ABCxyz019-_.{}"=+/ '
  const bad: string[] = []
  let accepted = 0
  for (let i = 0; i < 600; i++) {
    const chars = [...(seeds[i % 2] as string)]
    for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
      const at = Math.floor(rnd() * chars.length)
      if (rnd() < 0.5) chars[at] = alphabet[Math.floor(rnd() * alphabet.length)] as string
      else chars.splice(at, 1)
    }
    try {
      await validateJwtSvid(chars.join(''), opts)
      accepted++
    } catch (e) {
      if (!isSigilError(e)) bad.push(String(e))
    }
  }
  t.same(bad.slice(0, 5), [])
  t.ok(accepted < 60, `few mutations survive (only ones that leave the signed bytes equal): ${accepted}`)
})
