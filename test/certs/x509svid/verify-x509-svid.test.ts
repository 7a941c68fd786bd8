// verifyX509Svid: chains through intermediates to the bundle of the leaf's trust domain, and every
// way that must fail (expired, not yet valid, wrong trust domain, tampering, missing intermediate,
// CA constraints, unknown critical extensions), each checked against openssl where it applies.
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { X509SvidMinter } from '../../../certs/x509svid/x509-svid-minter.js'
import { createTestCa } from '../../helpers/testca.js'
import { buildCustomCert } from './custom-cert.js'
import { opensslAccepts } from './openssl.js'

const DS = 1
const CERT_SIGN = 32
const CRL_SIGN = 64
const only =
  (roots: Buffer[], name = 'example.org') =>
  (td: TrustDomain) =>
    td.name === name ? roots : undefined

t.test('self-signed root, and root + intermediate', async (t) => {
  for (const withIntermediate of [false, true]) {
    const ca = await createTestCa({ withIntermediate })
    const svid = await ca.mintSvid('/ns/web')
    const v = verifyX509Svid(svid.chainDer, ca.authoritiesFor)
    t.equal(v.spiffeId.toString(), 'spiffe://example.org/ns/web')
    t.same(v.verifiedChain, [...svid.chainDer, ca.rootDer], 'leaf..root')
    t.ok(await opensslAccepts(svid.chainDer, ca.rootDer), 'openssl agrees')
  }
})

t.test('a chain that also carries the root, and a bundle with several roots', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const old = await createTestCa()
  const svid = await ca.mintSvid('/w')
  const v = verifyX509Svid([...svid.chainDer, ca.rootDer], ca.authoritiesFor)
  t.same(v.verifiedChain, [...svid.chainDer, ca.rootDer])
  const both = verifyX509Svid(svid.chainDer, only([old.rootDer, ca.rootDer]))
  t.ok(both.verifiedChain[2]!.equals(ca.rootDer), 'picks the root that signed')
})

t.test('two CAs with the same subject: AKI/SKI and signatures pick the right one', async (t) => {
  const mk = async () => {
    const k = await generateKeyPair()
    const der = await buildCustomCert({
      signerKey: k.privateKey,
      publicKey: k.publicKey,
      subject: 'C=US, O=Same',
      ca: true,
      keyUsage: CERT_SIGN | CRL_SIGN,
      uris: ['spiffe://example.org'],
    })
    return { k, der, minter: new X509SvidMinter({ caCertDer: der, caKey: k.privateKey }) }
  }
  const a = await mk()
  const b = await mk()
  const leafKey = await generateKeyPair()
  const svid = b.minter.mint({
    spiffeId: SpiffeId.parse('spiffe://example.org/w'),
    publicKey: leafKey.publicKey,
    ttlSeconds: 60,
  })
  const v = verifyX509Svid(svid.chainDer, only([a.der, b.der]))
  t.ok(v.verifiedChain[1]!.equals(b.der))
  t.throws(() => verifyX509Svid(svid.chainDer, only([a.der])), { code: 'ERR_SVID_UNTRUSTED' })
})

t.test('expired and not-yet-valid leaves', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const svid = await ca.mintSvid('/w', { ttlSeconds: 60 })
  t.throws(() => verifyX509Svid(svid.chainDer, ca.authoritiesFor, { now: new Date(+svid.notAfter + 1000) }), {
    code: 'ERR_SVID_EXPIRED',
  })
  t.throws(
    () => verifyX509Svid(svid.chainDer, ca.authoritiesFor, { now: new Date(+svid.notBefore - 1000) }),
    {
      code: 'ERR_SVID_NOT_YET_VALID',
    },
  )
  t.ok(
    verifyX509Svid(svid.chainDer, ca.authoritiesFor, { now: svid.notAfter }),
    'NotAfter itself is still valid',
  )
  t.notOk(
    await opensslAccepts(svid.chainDer, ca.rootDer, new Date(+svid.notAfter + 1000)),
    'openssl agrees: expired',
  )
})

t.test('expired or not-yet-valid intermediates and roots are untrusted', async (t) => {
  const now = new Date()
  const root = await generateKeyPair()
  const inter = await generateKeyPair()
  const leaf = await generateKeyPair()
  const rootDer = await buildCustomCert({
    signerKey: root.privateKey,
    publicKey: root.publicKey,
    subject: 'CN=root',
    ca: true,
    keyUsage: CERT_SIGN,
    uris: ['spiffe://example.org'],
  })
  for (const [name, window] of [
    ['expired intermediate', { notBefore: new Date(+now - 7200_000), notAfter: new Date(+now - 3600_000) }],
    ['future intermediate', { notBefore: new Date(+now + 3600_000), notAfter: new Date(+now + 7200_000) }],
  ] as const) {
    const interDer = await buildCustomCert({
      signerKey: root.privateKey,
      issuerDer: rootDer,
      publicKey: inter.publicKey,
      subject: 'CN=inter',
      ca: true,
      keyUsage: CERT_SIGN,
      ...window,
    })
    const leafDer = await buildCustomCert({
      signerKey: inter.privateKey,
      issuerDer: interDer,
      publicKey: leaf.publicKey,
      ca: false,
      keyUsage: DS,
      uris: ['spiffe://example.org/w'],
    })
    t.throws(
      () => verifyX509Svid([leafDer, interDer], only([rootDer])),
      { code: 'ERR_SVID_UNTRUSTED', message: /expired at|not valid before/ },
      name,
    )
    t.notOk(await opensslAccepts([leafDer, interDer], rootDer), `openssl agrees: ${name}`)
  }
  const oldRoot = await buildCustomCert({
    signerKey: root.privateKey,
    publicKey: root.publicKey,
    subject: 'CN=old',
    ca: true,
    keyUsage: CERT_SIGN,
    notBefore: new Date(+now - 7200_000),
    notAfter: new Date(+now - 3600_000),
  })
  const leafDer = await buildCustomCert({
    signerKey: root.privateKey,
    issuerDer: oldRoot,
    publicKey: leaf.publicKey,
    ca: false,
    keyUsage: DS,
    uris: ['spiffe://example.org/w'],
  })
  t.throws(
    () => verifyX509Svid([leafDer], only([oldRoot])),
    { code: 'ERR_SVID_UNTRUSTED', message: /expired at/ },
    'expired root',
  )
})

t.test('trust domain: only the bundle of the leaf’s own trust domain counts', async (t) => {
  const ours = await createTestCa({ trustDomain: 'example.org' })
  const theirs = await createTestCa({ trustDomain: 'other.org' })
  const svid = await theirs.mintSvid('/w')
  t.throws(
    () => verifyX509Svid(svid.chainDer, ours.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED', message: /no X.509 authorities/ },
    'no bundle for other.org',
  )
  // Even a root that did sign it does not count when filed under another trust domain.
  t.throws(() => verifyX509Svid(svid.chainDer, only([ours.rootDer, theirs.rootDer], 'example.org')), {
    code: 'ERR_SVID_UNTRUSTED',
  })
  t.throws(() => verifyX509Svid(svid.chainDer, () => []), { code: 'ERR_SVID_UNTRUSTED' }, 'empty bundle')
  // A CA of one trust domain signing an ID of another is caught when the bundle is the ID's.
  const k = await generateKeyPair()
  const forged = await buildCustomCert({
    signerKey: ours.rootKey,
    issuerDer: ours.rootDer,
    publicKey: k.publicKey,
    ca: false,
    keyUsage: DS,
    uris: ['spiffe://other.org/admin'],
  })
  t.throws(
    () => verifyX509Svid([forged], (td) => (td.name === 'other.org' ? [theirs.rootDer] : [ours.rootDer])),
    { code: 'ERR_SVID_UNTRUSTED' },
  )
})

t.test('tampered signature or contents', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const svid = await ca.mintSvid('/w')
  const sig = Buffer.from(svid.certDer)
  sig[sig.length - 3]! ^= 0x40
  t.throws(
    () => verifyX509Svid([sig, svid.chainDer[1]!], ca.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED', message: /does not verify/ },
    'leaf signature',
  )
  t.notOk(await opensslAccepts([sig, svid.chainDer[1]!], ca.rootDer), 'openssl agrees')
  const body = Buffer.from(svid.certDer)
  const at = body.indexOf(Buffer.from('spiffe://example.org/w'))
  body[at + 21] = 'v'.charCodeAt(0)
  t.throws(
    () => verifyX509Svid([body, svid.chainDer[1]!], ca.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED', message: /does not verify/ },
    'SAN edited',
  )
  const inter = Buffer.from(svid.chainDer[1]!)
  inter[inter.length - 3]! ^= 0x40
  t.throws(
    () => verifyX509Svid([svid.certDer, inter], ca.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED', message: /does not verify/ },
    'intermediate signature',
  )
})

t.test('missing intermediate; foreign CA; CA constraints', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const svid = await ca.mintSvid('/w')
  t.throws(
    () => verifyX509Svid([svid.certDer], ca.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED', message: /no issuer found/ },
    'missing intermediate',
  )
  t.notOk(await opensslAccepts([svid.certDer], ca.rootDer), 'openssl agrees')
  const stranger = await createTestCa()
  const foreign = await stranger.mintSvid('/w')
  t.throws(
    () => verifyX509Svid(foreign.chainDer, ca.authoritiesFor),
    { code: 'ERR_SVID_UNTRUSTED' },
    'same trust domain, other CA',
  )

  const root = await generateKeyPair()
  const inter = await generateKeyPair()
  const leaf = await generateKeyPair()
  const mkRoot = (o: {
    ca?: boolean
    keyUsage?: number
    pathLength?: number
    extra?: [string, boolean, Buffer][]
  }) =>
    buildCustomCert({
      signerKey: root.privateKey,
      publicKey: root.publicKey,
      subject: 'CN=root',
      ca: true,
      keyUsage: CERT_SIGN,
      ...o,
    })
  const chainUnder = async (rootDer: Buffer) => {
    const interDer = await buildCustomCert({
      signerKey: root.privateKey,
      issuerDer: rootDer,
      publicKey: inter.publicKey,
      subject: 'CN=inter',
      ca: true,
      keyUsage: CERT_SIGN,
    })
    const leafDer = await buildCustomCert({
      signerKey: inter.privateKey,
      issuerDer: interDer,
      publicKey: leaf.publicKey,
      ca: false,
      keyUsage: DS,
      uris: ['spiffe://example.org/w'],
    })
    return [leafDer, interDer]
  }
  const control = await mkRoot({})
  t.ok(verifyX509Svid(await chainUnder(control), only([control])), 'control chain verifies')
  const cases: [string, Buffer, RegExp][] = [
    ['root with pathLen 0 above an intermediate', await mkRoot({ pathLength: 0 }), /pathLenConstraint/],
    ['root with CA=false', await mkRoot({ ca: false }), /not a CA/],
    ['root without keyCertSign', await mkRoot({ keyUsage: DS }), /keyCertSign/],
    [
      'root with an unknown critical extension',
      await mkRoot({ extra: [['1.2.3.4.5', true, Buffer.from('0500', 'hex')]] }),
      /critical extension/,
    ],
  ]
  for (const [name, rootDer, why] of cases) {
    const chain = await chainUnder(rootDer)
    // The message is matched too, so that each case fails for the rule it names.
    t.throws(() => verifyX509Svid(chain, only([rootDer])), { code: 'ERR_SVID_UNTRUSTED', message: why }, name)
    t.notOk(await opensslAccepts(chain, rootDer), `openssl agrees: ${name}`)
  }
  const pathOne = await mkRoot({ pathLength: 1 })
  t.ok(verifyX509Svid(await chainUnder(pathOne), only([pathOne])), 'pathLen 1 allows one intermediate')
  const critLeaf = await buildCustomCert({
    signerKey: root.privateKey,
    issuerDer: control,
    publicKey: leaf.publicKey,
    ca: false,
    keyUsage: DS,
    uris: ['spiffe://example.org/w'],
    extra: [['1.2.3.4.5', true, Buffer.from('0500', 'hex')]],
  })
  t.throws(
    () => verifyX509Svid([critLeaf], only([control])),
    { code: 'ERR_SVID_UNTRUSTED' },
    'leaf with an unknown critical extension',
  )
})

t.test('leaf rules apply before trust', async (t) => {
  const ca = await createTestCa()
  const k = await generateKeyPair()
  const leafAsCa = await buildCustomCert({
    signerKey: ca.rootKey,
    issuerDer: ca.rootDer,
    publicKey: k.publicKey,
    ca: true,
    keyUsage: DS,
    uris: ['spiffe://example.org/w'],
  })
  t.throws(
    () => verifyX509Svid([leafAsCa], ca.authoritiesFor),
    { code: 'ERR_SVID_INVALID' },
    'leaf with CA=true',
  )
  const twoUris = await buildCustomCert({
    signerKey: ca.rootKey,
    issuerDer: ca.rootDer,
    publicKey: k.publicKey,
    ca: false,
    keyUsage: DS,
    uris: ['spiffe://example.org/a', 'spiffe://example.org/b'],
  })
  t.throws(() => verifyX509Svid([twoUris], ca.authoritiesFor), { code: 'ERR_SVID_INVALID' }, 'two URI SANs')
  t.throws(() => verifyX509Svid([Buffer.from('garbage')], ca.authoritiesFor), { code: 'ERR_CERT_INVALID' })
  const svid = await ca.mintSvid('/w')
  t.throws(() => verifyX509Svid(svid.chainDer, () => [Buffer.from('not a cert')]), {
    code: 'ERR_BUNDLE_INVALID',
  })
  t.throws(() => verifyX509Svid(svid.chainDer, 'x' as never), TypeError)
})
