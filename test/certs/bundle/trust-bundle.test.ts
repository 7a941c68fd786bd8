import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import t from 'tap'
import { decodeDerBundle } from '../../../certs/bundle/der-bundle.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { keyPair, makeCa, makeCaDer, openssl, sigilCode } from './fixtures.js'

const td = TrustDomain.parse('example.org')
const p256 = makeCa('ec-p256', 'P-256 root')
const p384 = makeCa('ec-p384', 'P-384 root')
const rsa = makeCa('rsa-2048', 'RSA root')
const jwtKey = keyPair('ec-p256')

const code = sigilCode

t.test('create keeps members, copies and freezes', async (t) => {
  const der = Buffer.from(p256.der)
  const expiresAt = new Date('2030-01-01T00:00:00Z')
  const b = TrustBundle.create({
    trustDomain: td,
    x509Authorities: [der, p384.der, rsa.der],
    jwtAuthorities: [{ kid: 'k1', publicKey: jwtKey.publicKey, expiresAt }],
    sequenceNumber: 7,
    refreshHintSeconds: 300,
  })
  der.fill(0) // the bundle holds its own copy
  t.ok(b.x509Authorities[0]?.equals(p256.der))
  t.equal(b.x509Authorities.length, 3)
  t.equal(b.sequenceNumber, 7)
  t.equal(b.refreshHintSeconds, 300)
  t.equal(b.findJwtAuthority('k1')?.expiresAt?.getTime(), expiresAt.getTime())
  t.equal(b.findJwtAuthority('nope'), undefined)
  t.ok(Object.isFrozen(b) && Object.isFrozen(b.x509Authorities) && Object.isFrozen(b.jwtAuthorities))
  t.equal(b.x509Certificates[1]?.subject.includes('P-384 root'), true)
  t.ok(b.hasX509Authority(rsa.der))
  t.notOk(b.hasX509Authority(makeCa('ec-p256').der))
})

t.test('defaults: empty bundle has sequence 0 and no hint', async (t) => {
  const b = TrustBundle.create({ trustDomain: td })
  t.same(
    [b.x509Authorities.length, b.jwtAuthorities.length, b.sequenceNumber, b.refreshHintSeconds],
    [0, 0, 0, undefined],
  )
  t.equal(b.x509AuthoritiesConcatenated().length, 0)
})

t.test('the Workload API form is DER end to end and splits back', async (t) => {
  const b = TrustBundle.create({ trustDomain: td, x509Authorities: [p256.der, rsa.der, p384.der] })
  const cat = b.x509AuthoritiesConcatenated()
  t.ok(cat.equals(Buffer.concat([p256.der, rsa.der, p384.der])))
  const parts = decodeDerBundle(td, cat).x509Authorities
  t.equal(parts.length, 3)
  for (const [i, p] of parts.entries()) t.ok(p.equals(b.x509Authorities[i] as Buffer))
  t.ok(decodeDerBundle(td, cat).equals(b))
  // openssl reads the first certificate of the concatenation as DER
  t.match(openssl(['x509', '-inform', 'DER', '-noout', '-subject'], cat).toString(), /P-256 root/)
  t.equal(decodeDerBundle(td, Buffer.alloc(0)).x509Authorities.length, 0)
})

t.test('malformed concatenated DER is ERR_BUNDLE_INVALID', async (t) => {
  const cat = Buffer.concat([p256.der, rsa.der])
  t.throws(
    () => decodeDerBundle(td, cat.subarray(0, cat.length - 1)),
    code('ERR_BUNDLE_INVALID'),
    'truncated',
  )
  t.throws(
    () => decodeDerBundle(td, Buffer.concat([cat, Buffer.from([0x04, 0x00])])),
    code('ERR_BUNDLE_INVALID'),
  )
  t.throws(
    () => decodeDerBundle(td, Buffer.from([0x30, 0x80, 0, 0])),
    code('ERR_BUNDLE_INVALID'),
    'indefinite',
  )
  t.throws(
    () => decodeDerBundle(td, Buffer.from([0x30, 0x81, 0x05, 1, 2, 3, 4, 5])),
    code('ERR_BUNDLE_INVALID'),
  )
  t.throws(
    () => decodeDerBundle(td, Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])),
    code('ERR_BUNDLE_INVALID'),
  )
  t.throws(() => decodeDerBundle(td, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), code('ERR_BUNDLE_INVALID'))
  t.throws(() => decodeDerBundle(td, 'x' as unknown as Uint8Array), TypeError)
})

t.test('X.509 authorities: exact duplicates dropped; junk refused', async (t) => {
  const b = TrustBundle.create({
    trustDomain: td,
    x509Authorities: [p256.der, rsa.der, Buffer.from(p256.der)],
  })
  t.equal(b.x509Authorities.length, 2)
  const bad: [string, Uint8Array][] = [
    ['garbage', Buffer.from('not a certificate')],
    ['trailing bytes', Buffer.concat([p256.der, Buffer.from([0])])],
    ['two certificates', Buffer.concat([p256.der, rsa.der])],
    ['PEM instead of DER', Buffer.from(new X509Certificate(p256.der).toString())],
    ['empty', Buffer.alloc(0)],
    ['a SEQUENCE that is no certificate', Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])],
  ]
  for (const [name, der] of bad) {
    t.throws(
      () => TrustBundle.create({ trustDomain: td, x509Authorities: [der] }),
      code('ERR_BUNDLE_INVALID'),
      name,
    )
  }
  const ed = generateKeyPairSync('ed25519')
  t.throws(
    () => TrustBundle.create({ trustDomain: td, x509Authorities: [makeCaDer(ed.privateKey)] }),
    code('ERR_BUNDLE_INVALID'),
    'Ed25519 CA refused (java-spiffe cannot use it)',
  )
})

t.test('JWT authorities: unique non-empty kid, supported public key', async (t) => {
  const other = keyPair('ec-p384')
  const make = (jwtAuthorities: { kid: string; publicKey: unknown }[]) => () =>
    TrustBundle.create({ trustDomain: td, jwtAuthorities: jwtAuthorities as never })
  t.throws(
    make([
      { kid: 'a', publicKey: jwtKey.publicKey },
      { kid: 'a', publicKey: other.publicKey },
    ]),
    code('ERR_BUNDLE_INVALID'),
    'duplicate kid',
  )
  t.throws(make([{ kid: '', publicKey: jwtKey.publicKey }]), code('ERR_BUNDLE_INVALID'), 'empty kid')
  t.throws(make([{ kid: 'a', publicKey: jwtKey.privateKey }]), TypeError, 'private key refused')
  t.throws(make([{ kid: 'a', publicKey: 'pem' }]), TypeError)
  t.throws(
    make([{ kid: 'a', publicKey: generateKeyPairSync('ed25519').publicKey }]),
    code('ERR_BUNDLE_INVALID'),
  )
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey
  t.throws(make([{ kid: 'a', publicKey: small }]), code('ERR_BUNDLE_INVALID'), 'RSA-1024 refused')
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey
  t.throws(make([{ kid: 'a', publicKey: k1 }]), code('ERR_BUNDLE_INVALID'), 'secp256k1 refused')
  const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey
  t.equal(make([{ kid: 'a', publicKey: p521 }])().jwtAuthorities.length, 1, 'P-521 (ES512) accepted')
})

t.test('numbers and argument types', async (t) => {
  for (const sequenceNumber of [-1, 1.5, Number.NaN, 2 ** 53]) {
    t.throws(() => TrustBundle.create({ trustDomain: td, sequenceNumber }), code('ERR_BUNDLE_INVALID'))
  }
  for (const refreshHintSeconds of [0, -5, 0.5]) {
    t.throws(() => TrustBundle.create({ trustDomain: td, refreshHintSeconds }), code('ERR_BUNDLE_INVALID'))
  }
  t.throws(() => TrustBundle.create({ trustDomain: 'example.org' as never }), TypeError)
  t.throws(() => TrustBundle.create({ trustDomain: td, x509Authorities: 'x' as never }), TypeError)
  t.throws(() => TrustBundle.create({ trustDomain: td, x509Authorities: ['x' as never] }), TypeError)
})

t.test('with* copies and equals', async (t) => {
  const b = TrustBundle.create({
    trustDomain: td,
    x509Authorities: [p256.der],
    jwtAuthorities: [{ kid: 'k1', publicKey: jwtKey.publicKey }],
    sequenceNumber: 1,
  })
  const b2 = b.withSequence(2)
  t.equal(b.sequenceNumber, 1)
  t.equal(b2.sequenceNumber, 2)
  t.notOk(b.equals(b2))
  t.ok(b2.withSequence(1).equals(b))
  t.equal(b.withRefreshHint(60).refreshHintSeconds, 60)
  t.equal(b.withRefreshHint(60).withRefreshHint(undefined).refreshHintSeconds, undefined)
  t.equal(b.withX509Authorities([p256.der, rsa.der]).x509Authorities.length, 2)
  t.equal(b.withJwtAuthorities([]).jwtAuthorities.length, 0)
  t.ok(b.withX509Authorities([p256.der]).equals(b))
  t.notOk(b.equals(b.withJwtAuthorities([{ kid: 'k1', publicKey: keyPair('ec-p256').publicKey }])))
  t.notOk(
    b.equals(
      TrustBundle.create({ trustDomain: TrustDomain.parse('other.org'), x509Authorities: [p256.der] }),
    ),
  )
  const two = b.withX509Authorities([p256.der, rsa.der])
  t.ok(two.equals(b.withX509Authorities([rsa.der, p256.der])), 'order of authorities does not matter')
  const withExpiry = b.withJwtAuthorities([{ kid: 'k1', publicKey: jwtKey.publicKey, expiresAt: new Date() }])
  t.ok(withExpiry.equals(b), 'local expiresAt is not part of equality (no encoded form carries it)')
})
