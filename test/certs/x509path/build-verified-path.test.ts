// buildVerifiedPath, the one RFC 5280 path builder, on crafted chains: each broken chain fails for
// the rule it breaks (the reason is matched), and openssl verify gives the same verdict where the
// rule is one openssl applies too.
import type { KeyObject } from 'node:crypto'
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import {
  buildVerifiedPath,
  type PathProfile,
  type PathResult,
} from '../../../certs/x509path/build-verified-path.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { buildCustomCert, type CustomCertOptions } from '../x509svid/custom-cert.js'
import { opensslAccepts } from '../x509svid/openssl.js'

const DS = 1
const CERT_SIGN = 32
const HOUR = 3_600_000
const UNKNOWN_CRITICAL: [string, boolean, Buffer][] = [['1.2.3.4.5', true, Buffer.from('0500', 'hex')]]
const RFC5280: PathProfile = { maxPathLength: 10, issuerKeyUsageRequired: false }

const keys = {
  root: await generateKeyPair('ec-p256'),
  other: await generateKeyPair('ec-p256'),
  inter: await generateKeyPair('ec-p256'),
  leaf: await generateKeyPair('ec-p256'),
}

const cert = (signer: KeyObject, o: Partial<CustomCertOptions> & { publicKey: KeyObject }) =>
  buildCustomCert({ signerKey: signer, ...o })
const mkRoot = (o: Partial<CustomCertOptions> = {}, k = keys.root) =>
  cert(k.privateKey, { publicKey: k.publicKey, subject: 'CN=root', ca: true, keyUsage: CERT_SIGN, ...o })
const mkInter = (issuerDer: Buffer, o: Partial<CustomCertOptions> = {}, signer = keys.root.privateKey) =>
  cert(signer, {
    issuerDer,
    publicKey: keys.inter.publicKey,
    subject: 'CN=inter',
    ca: true,
    keyUsage: CERT_SIGN,
    ...o,
  })
const mkLeaf = (issuerDer: Buffer, o: Partial<CustomCertOptions> = {}, signer = keys.inter.privateKey) =>
  cert(signer, {
    issuerDer,
    publicKey: keys.leaf.publicKey,
    subject: 'CN=leaf',
    ca: false,
    keyUsage: DS,
    ...o,
  })

const build = (chain: Buffer[], anchors: Buffer[], now = new Date(), profile = RFC5280): PathResult =>
  buildVerifiedPath(chain.map(readCertificateFacts), anchors.map(readCertificateFacts), now, profile)

const root = await mkRoot()
const inter = await mkInter(root)
const leaf = await mkLeaf(inter)

t.test('a good chain: leaf, intermediate, anchor; openssl agrees', async (t) => {
  const r = build([leaf, inter], [root])
  t.ok(r.ok)
  if (r.ok)
    t.same(
      r.path.map((f) => f.der),
      [leaf, inter, root],
      'leaf first, anchor last',
    )
  t.ok(await opensslAccepts([leaf, inter], root), 'openssl accepts it')
  const extra = await mkLeaf(root, { subject: 'CN=unrelated' }, keys.root.privateKey)
  t.ok(build([leaf, extra, inter], [root]).ok, 'intermediates in any order, unrelated ones ignored')
  t.ok(build([leaf, inter, root], [root]).ok, 'a chain that carries its anchor')
  const withAnotherAnchor = build([leaf, inter], [await mkRoot({ subject: 'CN=x' }, keys.other), root])
  t.ok(withAnotherAnchor.ok, 'the anchor that signed is found among several')
})

t.test('broken chains fail for the rule they break, as in openssl', async (t) => {
  const past = new Date(Date.now() - 48 * HOUR)
  const otherRoot = await mkRoot({}, keys.other) // same name as root, another key
  const cases: [string, Buffer[], Buffer, RegExp][] = [
    [
      'expired intermediate',
      [leaf, await mkInter(root, { notBefore: past, notAfter: new Date(Date.now() - HOUR) })],
      root,
      /intermediate \w+: expired at/,
    ],
    [
      'intermediate not yet valid',
      [
        leaf,
        await mkInter(root, {
          notBefore: new Date(Date.now() + HOUR),
          notAfter: new Date(Date.now() + 2 * HOUR),
        }),
      ],
      root,
      /not valid before/,
    ],
    ['non-CA issuer (CA=false)', [leaf, await mkInter(root, { ca: false })], root, /not a CA/],
    ['issuer without basicConstraints', [leaf, await mkInter(root, { ca: undefined })], root, /not a CA/],
    [
      'issuer keyUsage without keyCertSign',
      [leaf, await mkInter(root, { keyUsage: DS })],
      root,
      /keyCertSign/,
    ],
    [
      'pathLen 0 on the anchor above an intermediate',
      [leaf, inter],
      await mkRoot({ pathLength: 0 }),
      /pathLenConstraint 0 exceeded/,
    ],
    [
      'unknown critical extension on the intermediate',
      [leaf, await mkInter(root, { extra: UNKNOWN_CRITICAL })],
      root,
      /unprocessed critical extension/,
    ],
    [
      'unknown critical extension on the anchor',
      [leaf, inter],
      await mkRoot({ extra: UNKNOWN_CRITICAL }),
      /unprocessed critical extension/,
    ],
    [
      'expired anchor',
      [leaf, inter],
      await mkRoot({ notBefore: past, notAfter: new Date(Date.now() - HOUR) }),
      /trust anchor \w+: expired/,
    ],
    ['wrong anchor: same name, another key (AKI/SKI differ)', [leaf, inter], otherRoot, /no issuer found/],
    [
      'wrong anchor: same name, another key, no key identifiers',
      [leaf, await mkInter(root, { withKeyIds: false })],
      await mkRoot({ withKeyIds: false }, keys.other),
      /signature of the certificate below does not verify/,
    ],
    [
      'wrong anchor: another name',
      [leaf, inter],
      await mkRoot({ subject: 'CN=elsewhere' }, keys.other),
      /no issuer found/,
    ],
    ['missing intermediate', [leaf], root, /no issuer found/],
  ]
  for (const [name, chain, anchor, why] of cases) {
    const r = build(chain, [anchor])
    t.equal(r.ok, false, name)
    if (!r.ok) {
      t.equal(r.problem, 'no-path', `${name}: no path`)
      t.match(r.reason, why, `${name}: reason`)
    }
    t.notOk(await opensslAccepts(chain, anchor), `openssl agrees: ${name}`)
  }
})

t.test('pathLenConstraint counts the CA certificates below the issuer', async (t) => {
  const pathOne = await mkRoot({ pathLength: 1 })
  const i1 = await mkInter(pathOne)
  t.ok(build([await mkLeaf(i1), i1], [pathOne]).ok, 'pathLen 1 allows one intermediate')
  const i2 = await cert(keys.inter.privateKey, {
    issuerDer: i1,
    publicKey: keys.other.publicKey,
    subject: 'CN=inter2',
    ca: true,
    keyUsage: CERT_SIGN,
  })
  const deep = await mkLeaf(i2, {}, keys.other.privateKey)
  const r = build([deep, i2, i1], [pathOne])
  t.match(r, { ok: false, reason: /pathLenConstraint 1 exceeded \(2 CA certificate\(s\) below\)/ })
  t.notOk(await opensslAccepts([deep, i2, i1], pathOne), 'openssl agrees')
  const pathTwo = await mkRoot({ pathLength: 2 })
  const j1 = await mkInter(pathTwo)
  const j2 = await cert(keys.inter.privateKey, {
    issuerDer: j1,
    publicKey: keys.other.publicKey,
    subject: 'CN=inter2',
    ca: true,
    keyUsage: CERT_SIGN,
    pathLength: 0,
  })
  t.ok(build([await mkLeaf(j2, {}, keys.other.privateKey), j2, j1], [pathTwo]).ok, 'pathLen 2 allows two')
})

t.test('chains too long: refused before the search, and paths past the limit not found', async (t) => {
  const tooMany = [leaf, ...Array.from({ length: 10 }, () => inter)]
  t.match(build(tooMany, [root]), {
    ok: false,
    problem: 'no-path',
    reason: /11 certificates is longer than the 10/,
  })
  // root → c1 → c2 → c3 → leaf is a path of 5; a profile allowing 4 does not find it.
  const ks = [
    await generateKeyPair('ec-p256'),
    await generateKeyPair('ec-p256'),
    await generateKeyPair('ec-p256'),
  ]
  const cas: Buffer[] = []
  let issuerDer = root
  let signer = keys.root.privateKey
  for (const [i, k] of ks.entries()) {
    const c = await cert(signer, {
      issuerDer,
      publicKey: k.publicKey,
      subject: `CN=c${i}`,
      ca: true,
      keyUsage: CERT_SIGN,
    })
    cas.unshift(c)
    issuerDer = c
    signer = k.privateKey
  }
  const deepLeaf = await mkLeaf(issuerDer, {}, signer)
  t.ok(build([deepLeaf, ...cas], [root]).ok, 'a path of 5 within the default limit')
  t.ok(await opensslAccepts([deepLeaf, ...cas], root), 'openssl accepts it')
  t.match(build([deepLeaf, ...cas], [root], new Date(), { ...RFC5280, maxPathLength: 4 }), {
    ok: false,
    reason: /path longer than 4 certificates/,
  })
})

t.test('the leaf: validity, critical extensions and the profile rules', async (t) => {
  const now = new Date()
  t.match(build([leaf, inter], [root], new Date(now.getTime() + 2 * HOUR)), {
    ok: false,
    problem: 'leaf-expired',
  })
  t.match(build([leaf, inter], [root], new Date(now.getTime() - 2 * HOUR)), {
    ok: false,
    problem: 'leaf-not-yet-valid',
  })
  const critLeaf = await mkLeaf(inter, { extra: UNKNOWN_CRITICAL })
  t.match(build([critLeaf, inter], [root]), { ok: false, problem: 'leaf', reason: /critical extension/ })
  t.notOk(
    await opensslAccepts([critLeaf, inter], root),
    'openssl agrees: leaf with an unknown critical extension',
  )
  const refuseAll: PathProfile = { ...RFC5280, leafRules: () => 'the profile says no' }
  t.match(build([leaf, inter], [root], now, refuseAll), {
    ok: false,
    problem: 'leaf',
    reason: 'the profile says no',
  })
  t.match(build([], [root]), { ok: false, problem: 'leaf', reason: /no certificate/ })
  t.match(build([leaf, inter], []), { ok: false, problem: 'no-path', reason: /no trust anchor/ })
})

t.test(
  'an issuer without keyUsage: accepted by RFC 5280 alone, refused when the profile requires it',
  async (t) => {
    const noKu = await mkInter(root, { keyUsage: null })
    const chain = [await mkLeaf(noKu), noKu]
    t.ok(build(chain, [root]).ok, 'RFC 5280: keyCertSign only checked when keyUsage is present')
    t.match(build(chain, [root], new Date(), { ...RFC5280, issuerKeyUsageRequired: true }), {
      ok: false,
      reason: /keyUsage lacks keyCertSign/,
    })
  },
)

t.test('an issuer that signed with a disallowed algorithm or a tampered signature', async (t) => {
  const tampered = Buffer.from(leaf)
  tampered[tampered.length - 5]! ^= 0x01
  t.match(build([tampered, inter], [root]), { ok: false, reason: /does not verify/ })
  t.notOk(await opensslAccepts([tampered, inter], root), 'openssl agrees')
})
