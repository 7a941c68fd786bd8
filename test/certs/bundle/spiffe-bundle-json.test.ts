import { X509Certificate } from 'node:crypto'
import t from 'tap'
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { MAX_BUNDLE_JSON_BYTES } from '../../../certs/bundle/strict-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { isSigilError } from '../../../certs/errors.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, openssl, prng, sigilCode } from './fixtures.js'

const td = TrustDomain.parse('example.org')
const cas = [makeCa('ec-p256', 'P-256 root'), makeCa('ec-p384', 'P-384 root'), makeCa('rsa-2048', 'RSA root')]
const jwtKeys = [keyPair('ec-p256'), keyPair('ec-p384'), keyPair('rsa-2048')]
const bundle = TrustBundle.create({
  trustDomain: td,
  x509Authorities: cas.map((c) => c.der),
  jwtAuthorities: jwtKeys.map((k, i) => ({ kid: `kid-${i}`, publicKey: k.publicKey })),
  sequenceNumber: 42,
  refreshHintSeconds: 300,
})
type Jwk = Record<string, unknown>
const doc = () => JSON.parse(encodeSpiffeBundle(bundle)) as { keys: Jwk[]; [k: string]: unknown }
const decode = (d: unknown) => decodeSpiffeBundle(td, typeof d === 'string' ? d : JSON.stringify(d))
const INVALID = sigilCode('ERR_BUNDLE_INVALID')

t.test('encoding follows SPIFFE.md §4.1 and the go-spiffe pitfalls', async (t) => {
  const d = doc()
  t.equal(d.spiffe_sequence, 42)
  t.equal(d.spiffe_refresh_hint, 300)
  const x509 = d.keys.filter((k) => k.use === 'x509-svid')
  const jwt = d.keys.filter((k) => k.use === 'jwt-svid')
  t.equal(x509.length, 3)
  t.equal(jwt.length, 3)
  for (const [i, k] of x509.entries()) {
    t.notOk('kid' in k, 'x509-svid entries have no kid')
    const x5c = k.x5c as string[]
    t.equal(x5c.length, 1, 'exactly one certificate')
    t.match(x5c[0], /^[A-Za-z0-9+/]+={0,2}$/, 'standard base64')
    t.equal((x5c[0] as string).length % 4, 0, 'padded')
    const der = Buffer.from(x5c[0] as string, 'base64')
    t.ok(der.equals(cas[i]?.der as Buffer))
    // the key fields describe exactly the certificate's key (Node parses the certificate independently)
    const certJwk = new X509Certificate(der).publicKey.export({ format: 'jwk' })
    const { use: _u, x5c: _x, ...fields } = k
    t.same(fields, certJwk)
    // openssl accepts the decoded x5c as a DER certificate
    t.match(openssl(['x509', '-inform', 'DER', '-noout', '-subject'], der).toString(), /root/)
  }
  for (const [i, k] of jwt.entries()) {
    t.equal(k.kid, `kid-${i}`)
    t.notOk('x5c' in k, 'jwt-svid entries carry no x5c')
    const { use: _u, kid: _k, ...fields } = k
    t.same(fields, jwtKeys[i]?.publicKey.export({ format: 'jwk' }))
  }
  t.same(Object.keys(jwt[0] as Jwk), ['kty', 'crv', 'x', 'y', 'use', 'kid'], 'member order')
  const bare = JSON.parse(encodeSpiffeBundle(TrustBundle.create({ trustDomain: td })))
  t.same(bare, { keys: [], spiffe_sequence: 0 }, 'empty bundle: keys [] and sequence, no hint')
})

t.test('EC coordinates are always full length', async (t) => {
  const keys = Array.from({ length: 150 }, (_, i) => ({
    kid: `k${i}`,
    publicKey: keyPair(i % 2 ? 'ec-p256' : 'ec-p384').publicKey,
  }))
  const d = JSON.parse(encodeSpiffeBundle(TrustBundle.create({ trustDomain: td, jwtAuthorities: keys })))
  let bad = 0
  for (const k of d.keys as Jwk[]) {
    const size = k.crv === 'P-256' ? 32 : 48
    if (Buffer.from(k.x as string, 'base64url').length !== size) bad++
    if (Buffer.from(k.y as string, 'base64url').length !== size) bad++
  }
  t.equal(bad, 0)
})

t.test('decode(encode(b)) round-trips', async (t) => {
  const back = decodeSpiffeBundle(td, encodeSpiffeBundle(bundle))
  t.ok(back.equals(bundle))
  t.ok(decodeSpiffeBundle(td, Buffer.from(encodeSpiffeBundle(bundle))).equals(bundle), 'from bytes too')
  t.equal(back.trustDomain.name, 'example.org', 'the trust domain comes from the caller')
  const empty = TrustBundle.create({ trustDomain: td })
  t.ok(decodeSpiffeBundle(td, encodeSpiffeBundle(empty)).equals(empty))
})

t.test('decoding follows the spec for odd keys', async (t) => {
  const d = doc()
  const jwt0 = d.keys[3] as Jwk
  const x0 = d.keys[0] as Jwk
  const cases: [string, Jwk[], number, number][] = [
    ['unknown use ignored', [{ ...jwt0, use: 'enc' }], 0, 0],
    ['no use ignored', [{ ...jwt0, use: undefined }], 0, 0],
    ['wit-svid (incubating) ignored', [{ ...jwt0, use: 'wit-svid' }], 0, 0],
    ['use is case-sensitive', [{ ...jwt0, use: 'JWT-SVID' }], 0, 0],
    ['unknown kty ignored', [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', use: 'jwt-svid', kid: 'ed' }], 0, 0],
    ['oct kty ignored', [{ kty: 'oct', k: 'c2VjcmV0', use: 'jwt-svid', kid: 'hmac' }], 0, 0],
    ['x509-svid without x5c skipped', [{ ...x0, x5c: undefined }], 0, 0],
    ['x509-svid with empty x5c skipped', [{ ...x0, x5c: [] }], 0, 0],
    ['only x5c[0] is used', [{ ...x0, x5c: [...(x0.x5c as string[]), (d.keys[1] as Jwk).x5c] }], 1, 0],
    ['a kid on an x509-svid entry is tolerated', [{ ...x0, kid: 'x' }], 1, 0],
    ['mixed', [x0, jwt0, { ...jwt0, use: 'enc', kid: 'other' }], 1, 1],
  ]
  for (const [name, keys, nx, nj] of cases) {
    const b = decode({ keys })
    t.same([b.x509Authorities.length, b.jwtAuthorities.length], [nx, nj], name)
  }
  t.equal(decode({ keys: [], spiffe_sequence: null }).sequenceNumber, 0, 'null sequence = absent')
  t.equal(decode({ keys: [], spiffe_refresh_hint: 0 }).refreshHintSeconds, undefined, 'zero hint = none')
  t.equal(decode({ keys: [], extra: { anything: 1 } }).jwtAuthorities.length, 0, 'other members allowed')
  t.equal(decode({ keys: [], spiffe_sequence: 2 ** 53 - 1 }).sequenceNumber, 2 ** 53 - 1)
})

t.test('malformed documents are ERR_BUNDLE_INVALID', async (t) => {
  const d = doc()
  const jwt0 = d.keys[3] as Jwk
  const x0 = d.keys[0] as Jwk
  const otherCaB64 = (d.keys[1] as Jwk).x5c
  const shortX = Buffer.from(jwt0.x as string, 'base64url')
    .subarray(1)
    .toString('base64url')
  const bad: [string, unknown][] = [
    ['keys missing', { spiffe_sequence: 1 }],
    ['keys not an array', { keys: {} }],
    ['top level array', [jwt0]],
    ['top level null', null],
    ['key not an object', { keys: [1] }],
    ['jwt-svid without kid', { keys: [{ ...jwt0, kid: undefined }] }],
    ['jwt-svid with empty kid', { keys: [{ ...jwt0, kid: '' }] }],
    ['jwt-svid with numeric kid', { keys: [{ ...jwt0, kid: 7 }] }],
    ['duplicate kid', { keys: [jwt0, { ...(d.keys[4] as Jwk), kid: jwt0.kid }] }],
    ['kty missing', { keys: [{ ...jwt0, kty: undefined }] }],
    ['EC without y', { keys: [{ ...jwt0, y: undefined }] }],
    ['short EC coordinate', { keys: [{ ...jwt0, x: shortX }] }],
    ['x as padded base64', { keys: [{ ...jwt0, x: `${jwt0.x}=` }] }],
    ['point not on the curve', { keys: [{ ...jwt0, x: jwt0.y }] }],
    ['unsupported crv', { keys: [{ ...jwt0, crv: 'secp256k1' }] }],
    ['private key member d', { keys: [{ ...jwt0, d: 'AAAA' }] }],
    ['x5c not an array', { keys: [{ ...x0, x5c: x0.x5c?.toString() }] }],
    [
      'x5c base64url instead of std',
      {
        keys: [
          { ...x0, x5c: [Buffer.from((x0.x5c as string[])[0] as string, 'base64').toString('base64url')] },
        ],
      },
    ],
    [
      'x5c unpadded',
      {
        keys: [{ ...x0, x5c: [((x0.x5c as string[])[0] as string).replace(/=+$/, '')] }]
          .filter(() => ((x0.x5c as string[])[0] as string).endsWith('='))
          .concat([{ ...x0, x5c: ['QUJD'.slice(0, 3)] }]),
      },
    ],
    ['x5c not a certificate', { keys: [{ ...x0, x5c: [Buffer.from('hello world!').toString('base64')] }] }],
    ['x5c[0] is a number', { keys: [{ ...x0, x5c: [5] }] }],
    ['key fields do not match x5c', { keys: [{ ...x0, x5c: otherCaB64 }] }],
    ['x509-svid without key fields', { keys: [{ kty: 'EC', use: 'x509-svid', x5c: x0.x5c }] }],
    ['negative sequence', { keys: [], spiffe_sequence: -1 }],
    ['sequence as string', { keys: [], spiffe_sequence: '7' }],
    ['sequence above 2^53', { keys: [], spiffe_sequence: 2 ** 64 }],
    ['fractional hint', { keys: [], spiffe_refresh_hint: 1.5 }],
    ['negative hint', { keys: [], spiffe_refresh_hint: -300 }],
  ]
  for (const [name, value] of bad) t.throws(() => decode(value), INVALID, name)
  // A certificate whose structure parses but whose EC point is not on the curve (found by the fuzz test).
  const p256Der = cas[0]!.der
  const point = cas[0]!.publicKey.export({ type: 'spki', format: 'der' }).subarray(-64)
  const at = p256Der.indexOf(point)
  t.ok(at > 0, 'found the EC point in the certificate')
  const corrupt = Buffer.from(p256Der)
  corrupt[at + 5] = (corrupt[at + 5] ?? 0) ^ 0x01
  t.throws(() => decode({ keys: [{ ...x0, x5c: [corrupt.toString('base64')] }] }), INVALID, 'bad key in x5c')
  t.throws(
    () => TrustBundle.create({ trustDomain: td, x509Authorities: [corrupt] }),
    INVALID,
    'bad key in a CA',
  )
  const raw: [string, string | Uint8Array][] = [
    ['not JSON', '{"keys": ['],
    ['empty', ''],
    ['BOM', `\uFEFF${JSON.stringify({ keys: [] })}`],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
    ['duplicate keys member', '{"keys":[],"keys":[]}'],
    ['duplicate member inside a key', `{"keys":[{"kty":"EC","kty":"RSA"}]}`],
    ['oversized', `{"keys":[],"pad":"${'x'.repeat(MAX_BUNDLE_JSON_BYTES)}"}`],
    ['oversized bytes', Buffer.alloc(MAX_BUNDLE_JSON_BYTES + 1, 0x20)],
  ]
  for (const [name, value] of raw) t.throws(() => decodeSpiffeBundle(td, value), INVALID, name)
  t.throws(() => decodeSpiffeBundle(td, 5 as never), TypeError)
  t.ok(decodeSpiffeBundle(td, '{"a":{"x":1},"b":{"x":1},"keys":[]}'), 'same name in sibling objects is fine')
  t.ok(
    decodeSpiffeBundle(td, '{"keys":[], "s":"\\"keys\\"", "t":"a,\\"keys\\""}'),
    'names inside strings ignored',
  )
})

t.test('fuzz: arbitrary input gives a bundle or ERR_BUNDLE_INVALID, nothing else', async (t) => {
  const rnd = prng(0x5eed)
  const text = encodeSpiffeBundle(bundle)
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    2 ** 64,
    '',
    'x',
    'AAAA',
    [],
    {},
    [1],
    { kty: 'EC' },
    '=',
    'jwt-svid',
    'x509-svid',
    'EC',
    'RSA',
    'P-256',
  ]
  const bad: string[] = []
  const attempt = (input: string | Uint8Array) => {
    try {
      decodeSpiffeBundle(td, input)
    } catch (e) {
      if (!isSigilError(e, 'ERR_BUNDLE_INVALID')) bad.push(`${String(e)} for ${String(input).slice(0, 200)}`)
    }
  }
  // 1. character-level mutations of a valid document
  for (let i = 0; i < 800; i++) {
    const chars = [...text]
    for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
      const at = Math.floor(rnd() * chars.length)
      const op = rnd()
      if (op < 0.4) chars[at] = String.fromCharCode(32 + Math.floor(rnd() * 95))
      else if (op < 0.7) chars.splice(at, 1)
      else chars.splice(at, 0, pick(['"', ',', '{', '}', '[', ']', ':', '\\', '0', 'A']))
    }
    attempt(chars.join(''))
  }
  // 2. structural mutations: replace or delete a member somewhere in the tree
  for (let i = 0; i < 1500; i++) {
    const d = doc() as unknown as Record<string, unknown>
    let node: Record<string, unknown> | unknown[] = d
    for (let depth = 0; depth < 4; depth++) {
      const ks = Object.keys(node)
      const k = pick(ks)
      const child = (node as Record<string, unknown>)[k]
      if (child && typeof child === 'object' && rnd() < 0.7) node = child as Record<string, unknown>
      else break
    }
    const ks = Object.keys(node)
    if (ks.length === 0) continue
    const k = pick(ks)
    if (rnd() < 0.2 && !Array.isArray(node)) delete node[k]
    else (node as Record<string, unknown>)[k] = pick(values)
    attempt(JSON.stringify(d))
  }
  // 3. random bytes
  for (let i = 0; i < 300; i++) {
    attempt(Uint8Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)))
  }
  t.same(bad.slice(0, 5), [], 'only ERR_BUNDLE_INVALID escapes')
})
