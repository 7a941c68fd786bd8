// The X509-SVID minter: the leaf profile of SPIFFE.md §2, chain shapes, NotAfter clamping,
// input validation, and independent checks with openssl for every CA/leaf key-type pair.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { generateKeyPair, KEY_TYPES } from '../../../certs/keys/keys.js'
import { keyIdentifierOf } from '../../../certs/lib/key-identifier.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { KEY_USAGE, readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { parseX509Svid } from '../../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { X509SvidMinter } from '../../../certs/x509svid/x509-svid-minter.js'
import { createTestCa } from '../../helpers/testca.js'
import { buildCustomCert } from './custom-cert.js'
import { openssl, opensslText, opensslVerify } from './openssl.js'

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

t.test('leaf profile', async (t) => {
  const ca = await createTestCa()
  const now = new Date('2030-05-06T07:08:09.500Z')
  const caLater = await createTestCa({ now: new Date(+now - 1000), ttlSeconds: 86_400 })
  const keys = await generateKeyPair()
  const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web')
  const svid = caLater.minter.mint({
    spiffeId: id,
    publicKey: keys.publicKey,
    ttlSeconds: 3600,
    dnsNames: ['web.example.org', 'alt.example.org'],
    now,
  })
  const f = readCertificateFacts(svid.certDer)
  const caFacts = readCertificateFacts(caLater.rootDer)
  t.same(f.uriSans, [id.toString()], 'exactly one URI SAN, the SPIFFE ID')
  t.same(f.dnsSans, ['web.example.org', 'alt.example.org'])
  t.equal(f.isCa, false)
  t.ok(f.basicConstraintsCritical, 'basicConstraints present and critical')
  t.equal(f.keyUsage, KEY_USAGE.digitalSignature | KEY_USAGE.keyEncipherment | KEY_USAGE.keyAgreement)
  t.ok(f.keyUsageCritical, 'keyUsage critical')
  t.same(f.extKeyUsages, [SERVER_AUTH, CLIENT_AUTH])
  t.ok(f.subjectKeyId?.equals(keyIdentifierOf(keys.publicKey)), 'SKI = SHA-1 of the key')
  t.ok(f.authorityKeyId?.equals(caFacts.subjectKeyId!), "AKI = the CA's SKI")
  t.ok(f.issuerRaw.equals(caFacts.subjectRaw), 'issuer = CA subject, byte for byte')
  t.equal(f.cert.subject, 'C=US\nO=SPIFFE\nCN=web.example.org')
  t.equal(svid.notBefore.toISOString(), '2030-05-06T07:07:59.000Z', 'now - 10 s, whole seconds')
  t.equal(svid.notAfter.toISOString(), '2030-05-06T08:08:09.000Z', 'now + TTL')
  t.equal(f.notBefore.getTime(), svid.notBefore.getTime())
  t.equal(f.notAfter.getTime(), svid.notAfter.getTime())
  t.equal(f.serialHex, svid.serialHex)
  t.equal(f.cert.serialNumber.toLowerCase(), svid.serialHex, 'serialHex matches OpenSSL')
  t.ok(f.cert.publicKey.equals(keys.publicKey))
  t.ok(f.cert.verify(caFacts.cert.publicKey), 'signed by the CA key')
  t.equal(f.signatureAlgorithm, 'ecdsa-with-SHA256')
  t.same(svid.chainDer, [svid.certDer], 'self-signed CA: the chain is the leaf alone')
  t.ok(parseX509Svid(svid.chainDer).spiffeId.equals(id))

  const plain = ca.minter.mint({ spiffeId: id, publicKey: keys.publicKey, ttlSeconds: 60 })
  t.equal(readCertificateFacts(plain.certDer).cert.subject, 'C=US\nO=SPIFFE', 'no DNS names: no CN')
  const long = `${'a'.repeat(63)}.example.org`
  const longCn = ca.minter.mint({ spiffeId: id, publicKey: keys.publicKey, ttlSeconds: 60, dnsNames: [long] })
  const lf = readCertificateFacts(longCn.certDer)
  t.equal(lf.cert.subject, 'C=US\nO=SPIFFE', 'a DNS name over 64 characters is not a CN')
  t.same(lf.dnsSans, [long])
  const wild = ca.minter.mint({
    spiffeId: id,
    publicKey: keys.publicKey,
    ttlSeconds: 60,
    dnsNames: ['*.example.org'],
  })
  t.same(readCertificateFacts(wild.certDer).dnsSans, ['*.example.org'], 'wildcard DNS name')
})

// IP address SANs (for certificates that name a listen address): iPAddress octets in order
// after the DNS names, read back by readCertificateFacts and by openssl; bad addresses refused.
t.test('IP address SANs', async (t) => {
  const ca = await createTestCa()
  const keys = await generateKeyPair()
  const id = SpiffeId.parse('spiffe://example.org/sigil/bundle-endpoint')
  const ips = ['127.0.0.1', '::1', '2001:db8::8:800:200c:417a', '::ffff:192.0.2.1', '10.1.2.3']
  const svid = ca.minter.mint({
    spiffeId: id,
    publicKey: keys.publicKey,
    ttlSeconds: 60,
    dnsNames: ['localhost'],
    ipAddresses: ips,
  })
  const f = readCertificateFacts(svid.certDer)
  t.same(f.dnsSans, ['localhost'])
  t.same(f.ipSans, ['127.0.0.1', '::1', '2001:db8::8:800:200c:417a', '::ffff:c000:201', '10.1.2.3'])
  t.same(f.uriSans, [id.toString()], 'the SPIFFE ID is still the only URI SAN')
  t.ok(f.cert.checkIP('127.0.0.1'), 'node:crypto matches 127.0.0.1')
  t.ok(f.cert.checkIP('::1'), 'node:crypto matches ::1')
  t.notOk(f.cert.checkIP('127.0.0.2'))
  const r = await openssl(['x509', '-inform', 'DER', '-noout', '-ext', 'subjectAltName'], svid.certDer)
  t.equal(r.code, 0, r.stderr)
  t.match(
    r.stdout,
    /URI:spiffe:\/\/example\.org\/sigil\/bundle-endpoint, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:8:800:200C:417A/i,
    'openssl reads the same SANs',
  )
  for (const bad of ['localhost', '127.0.0.256', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '', '::1/128']) {
    t.throws(
      () => ca.minter.mint({ spiffeId: id, publicKey: keys.publicKey, ttlSeconds: 60, ipAddresses: [bad] }),
      { code: 'ERR_INVALID_ARGUMENT' },
      `refuses "${bad}"`,
    )
  }
})

t.test('chain shapes', async (t) => {
  const withInter = await createTestCa({ withIntermediate: true })
  const svid = await withInter.mintSvid('/w')
  t.equal(svid.chainDer.length, 2)
  t.ok(svid.chainDer[1]!.equals(withInter.intermediateDer!), 'leaf, then the (non-root) signing CA')

  // root → upstream intermediate → signing CA: intermediatesDer follows the CA.
  const td = TrustDomain.parse('example.org')
  const now = new Date()
  const end = new Date(+now + 86_400_000)
  const root = await generateKeyPair()
  const upstream = await generateKeyPair('ec-p384')
  const signing = await generateKeyPair('rsa-2048')
  const rootDer = await buildCaCertificate({
    trustDomain: td,
    publicKey: root.publicKey,
    signerKey: root.privateKey,
    notBefore: now,
    notAfter: end,
  })
  const upDer = await buildCaCertificate({
    trustDomain: td,
    publicKey: upstream.publicKey,
    signerKey: root.privateKey,
    issuerCertDer: rootDer,
    notBefore: now,
    notAfter: end,
  })
  const caDer = await buildCaCertificate({
    trustDomain: td,
    publicKey: signing.publicKey,
    signerKey: upstream.privateKey,
    issuerCertDer: upDer,
    notBefore: now,
    notAfter: end,
  })
  const minter = new X509SvidMinter({
    caCertDer: caDer,
    caKey: signing.privateKey,
    intermediatesDer: [upDer],
  })
  const leafKeys = await generateKeyPair()
  const deep = minter.mint({
    spiffeId: SpiffeId.fromPath(td, '/deep'),
    publicKey: leafKeys.publicKey,
    ttlSeconds: 60,
  })
  t.equal(deep.chainDer.length, 3)
  t.ok(deep.chainDer[1]!.equals(caDer) && deep.chainDer[2]!.equals(upDer), 'leaf, CA, upstream; no root')
  t.equal(readCertificateFacts(deep.certDer).signatureAlgorithm, 'sha256WithRSAEncryption')
  t.throws(
    () => new X509SvidMinter({ caCertDer: caDer, caKey: signing.privateKey, intermediatesDer: [rootDer] }),
    { code: 'ERR_CERT_INVALID' },
    'intermediates must form the chain above the CA',
  )

  const dir = await mkdtemp(join(tmpdir(), 'sigil-mint-'))
  await writeFile(join(dir, 'root.pem'), certificatesToPem([rootDer]))
  await writeFile(join(dir, 'untrusted.pem'), certificatesToPem(deep.chainDer.slice(1)))
  await writeFile(join(dir, 'leaf.pem'), certificatesToPem([deep.certDer]))
  const r = await opensslVerify({
    caFile: join(dir, 'root.pem'),
    untrusted: join(dir, 'untrusted.pem'),
    leafFiles: [join(dir, 'leaf.pem')],
  })
  t.equal(r.code, 0, `openssl verify: ${r.stdout}${r.stderr}`)
})

t.test('NotAfter is clamped to the CA; an expired CA cannot mint', async (t) => {
  const now = new Date('2031-01-01T00:00:00Z')
  const ca = await createTestCa({ now, ttlSeconds: 3600 })
  const keys = await generateKeyPair()
  const id = SpiffeId.fromPath(ca.trustDomain, '/w')
  const svid = ca.minter.mint({
    spiffeId: id,
    publicKey: keys.publicKey,
    ttlSeconds: 86_400,
    now: new Date(+now + 60_000),
  })
  t.equal(svid.notAfter.getTime(), ca.minter.caNotAfter.getTime(), 'capped at the CA NotAfter')
  t.equal(readCertificateFacts(svid.certDer).notAfter.getTime(), ca.minter.caNotAfter.getTime())
  t.throws(
    () =>
      ca.minter.mint({
        spiffeId: id,
        publicKey: keys.publicKey,
        ttlSeconds: 60,
        now: new Date(+now + 3_600_000),
      }),
    {
      code: 'ERR_UNAVAILABLE',
    },
  )
})

t.test('mint validates its input', async (t) => {
  const ca = await createTestCa()
  const { publicKey, privateKey } = await generateKeyPair()
  const td = ca.trustDomain
  const ok = { spiffeId: SpiffeId.fromPath(td, '/w'), publicKey, ttlSeconds: 60 }
  const mint = (o: Partial<typeof ok> & { dnsNames?: string[]; now?: Date }) => () =>
    ca.minter.mint({ ...ok, ...o })
  t.throws(mint({ spiffeId: SpiffeId.forTrustDomain(td) }), { code: 'ERR_SPIFFE_ID_INVALID' }, 'needs a path')
  t.throws(mint({ spiffeId: SpiffeId.parse('spiffe://other.org/w') }), { code: 'ERR_TRUST_DOMAIN_MISMATCH' })
  for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(mint({ ttlSeconds: ttl }), { code: 'ERR_INVALID_ARGUMENT' }, `ttl ${ttl}`)
  }
  for (const bad of [
    '',
    'a..b',
    '-a.b',
    'a-.b',
    'a b',
    'a_b.org',
    'x.',
    '.x',
    'a.*.b',
    '*',
    `${'a'.repeat(64)}.b`,
    'é.org',
    `${'a.'.repeat(127)}a`,
  ]) {
    t.throws(
      mint({ dnsNames: ['ok.example.org', bad] }),
      { code: 'ERR_INVALID_ARGUMENT' },
      `DNS name "${bad.slice(0, 20)}"`,
    )
  }
  t.throws(mint({ publicKey: privateKey }), TypeError, 'a private key is a caller bug')
  t.throws(mint({ spiffeId: 'spiffe://example.org/w' as unknown as SpiffeId }), TypeError)
  t.throws(mint({ now: new Date('nope') }), TypeError)
  const p521 = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey
  t.throws(mint({ publicKey: p521 }), { code: 'ERR_KEY_UNSUPPORTED' })
})

t.test('the constructor checks the CA', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const other = await generateKeyPair()
  t.throws(() => new X509SvidMinter({ caCertDer: ca.rootDer, caKey: other.privateKey }), {
    code: 'ERR_KEY_INVALID',
  })
  t.throws(
    () =>
      new X509SvidMinter({
        caCertDer: ca.rootDer,
        caKey: ca.rootKey,
        intermediatesDer: [ca.intermediateDer!],
      }),
    {
      code: 'ERR_INVALID_ARGUMENT',
    },
  )
  t.throws(() => new X509SvidMinter({ caCertDer: Buffer.from('junk'), caKey: ca.rootKey }), {
    code: 'ERR_CERT_INVALID',
  })
  t.throws(() => new X509SvidMinter({ caCertDer: ca.rootDer, caKey: other.publicKey }), TypeError)
  const leaf = await ca.mintSvid('/w')
  t.throws(
    () => new X509SvidMinter({ caCertDer: leaf.certDer, caKey: leaf.privateKey }),
    { code: 'ERR_CERT_INVALID' },
    'a leaf is not a CA',
  )
  const k = await generateKeyPair()
  for (const uris of [[], ['spiffe://example.org/has-path'], ['spiffe://a.org', 'spiffe://b.org']]) {
    const der = await buildCustomCert({
      signerKey: k.privateKey,
      publicKey: k.publicKey,
      ca: true,
      keyUsage: 32 | 64,
      uris,
    })
    t.throws(
      () => new X509SvidMinter({ caCertDer: der, caKey: k.privateKey }),
      { code: 'ERR_CERT_INVALID' },
      `CA URI SANs ${uris}`,
    )
  }
  const noSign = await buildCustomCert({
    signerKey: k.privateKey,
    publicKey: k.publicKey,
    ca: true,
    keyUsage: 1,
    uris: ['spiffe://a.org'],
  })
  t.throws(
    () => new X509SvidMinter({ caCertDer: noSign, caKey: k.privateKey }),
    { code: 'ERR_CERT_INVALID' },
    'no keyCertSign',
  )
})

t.test('openssl verifies every CA/leaf key-type pair, with and without an intermediate', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-mint-'))
  for (const caType of KEY_TYPES) {
    for (const withIntermediate of [false, true]) {
      const ca = await createTestCa({ keyType: caType, withIntermediate, trustDomain: 'td-x.example' })
      const sub = join(dir, `${caType}-${withIntermediate}`)
      const { rootPath, intermediatePath } = await ca.writePem(await mkdtemp(sub))
      const files: string[] = []
      for (const leafType of KEY_TYPES) {
        const svid = await ca.mintSvid(`/ns/${leafType}`, {
          keyType: leafType,
          dnsNames: ['svc.td-x.example'],
        })
        const file = `${sub}-${leafType}.pem`
        await writeFile(file, certificatesToPem([svid.certDer]))
        files.push(file)
        const text = await opensslText(svid.certDer)
        t.match(text, new RegExp(`URI:spiffe://td-x\\.example/ns/${leafType}(,|\\n)`), 'URI SAN shown')
        t.match(text, /CA:FALSE/)
      }
      const r = await opensslVerify({
        caFile: rootPath,
        ...(intermediatePath ? { untrusted: intermediatePath } : {}),
        leafFiles: files,
      })
      t.equal(r.code, 0, `${caType} CA, intermediate=${withIntermediate}: ${r.stdout}${r.stderr}`)
      t.equal(r.stdout.match(/: OK/g)?.length, files.length, 'every leaf OK')
    }
  }
})
