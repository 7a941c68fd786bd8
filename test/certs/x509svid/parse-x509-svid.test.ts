// parseX509Svid's leaf and chain rules (bad certificates built independently with @peculiar/x509),
// splitConcatenatedDer and the PEM helpers (cross-checked with openssl).
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isSigilError } from '../../../certs/errors.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { ensureCryptoProvider } from '../../../certs/lib/crypto-provider.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { parseX509Svid, splitConcatenatedDer } from '../../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem, pemToCertificates } from '../../../certs/x509svid/pem.js'
import { createTestCa } from '../../helpers/testca.js'
import { buildCustomCert, type CustomCertOptions } from './custom-cert.js'
import { openssl } from './openssl.js'

const DS = 1
const KE = 4
const CERT_SIGN = 32
const CRL_SIGN = 64

t.test('a minted SVID parses; the chain elements are Node X509Certificates', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const svid = await ca.mintSvid('/ns/prod/sa/web')
  const parsed = parseX509Svid(svid.chainDer)
  t.equal(parsed.spiffeId.toString(), 'spiffe://example.org/ns/prod/sa/web')
  t.equal(parsed.chain.length, 2)
  t.equal(parsed.leaf, parsed.chain[0])
  t.ok(parsed.leaf.publicKey.equals(svid.publicKey))
  t.equal(parsed.chain[1]!.ca, true)
})

t.test('leaf rules', async (t) => {
  const ca = await createTestCa()
  const k = await generateKeyPair()
  const base: CustomCertOptions = {
    signerKey: ca.rootKey,
    issuerDer: ca.rootDer,
    publicKey: k.publicKey,
    ca: false,
    keyUsage: DS | KE,
    uris: ['spiffe://example.org/w'],
  }
  const good = await buildCustomCert(base)
  t.equal(parseX509Svid([good]).spiffeId.toString(), 'spiffe://example.org/w', 'the control case parses')
  t.equal(
    parseX509Svid([await buildCustomCert({ ...base, ca: undefined })]).spiffeId.path,
    '/w',
    'no basicConstraints is CA=false',
  )

  const bad: [string, Partial<CustomCertOptions>][] = [
    ['leaf with CA=true', { ca: true, keyUsage: DS }],
    ['two URI SANs', { uris: ['spiffe://example.org/a', 'spiffe://example.org/b'] }],
    ['no URI SAN', { uris: [], dnsNames: ['x.example.org'] }],
    ['a non-SPIFFE URI', { uris: ['https://example.org/w'] }],
    ['an invalid SPIFFE ID', { uris: ['spiffe://example.org/a/../b'] }],
    ['a trust-domain ID (no path)', { uris: ['spiffe://example.org'] }],
    ['no keyUsage', { keyUsage: null }],
    ['keyUsage without digitalSignature', { keyUsage: KE }],
    ['keyCertSign on the leaf', { keyUsage: DS | CERT_SIGN }],
    ['cRLSign on the leaf', { keyUsage: DS | CRL_SIGN }],
  ]
  for (const [name, o] of bad) {
    const der = await buildCustomCert({ ...base, ...o })
    t.throws(() => parseX509Svid([der]), { code: 'ERR_SVID_INVALID' }, name)
  }
  t.throws(() => parseX509Svid([]), { code: 'ERR_SVID_INVALID' }, 'empty chain')
  t.throws(() => parseX509Svid([randomBytes(100)]), { code: 'ERR_CERT_INVALID' }, 'not a certificate')
  t.throws(
    () => parseX509Svid([Buffer.concat([good, Buffer.from([0])])]),
    { code: 'ERR_CERT_INVALID' },
    'trailing byte',
  )

  // Every certificate after the leaf must be a CA with keyCertSign.
  const notCa = await buildCustomCert({
    signerKey: ca.rootKey,
    publicKey: k.publicKey,
    ca: false,
    keyUsage: CERT_SIGN,
  })
  t.throws(() => parseX509Svid([good, notCa]), { code: 'ERR_SVID_INVALID' }, 'chain element with CA=false')
  const noSign = await buildCustomCert({
    signerKey: ca.rootKey,
    publicKey: k.publicKey,
    ca: true,
    keyUsage: DS,
  })
  t.throws(
    () => parseX509Svid([good, noSign]),
    { code: 'ERR_SVID_INVALID' },
    'chain element without keyCertSign',
  )
  t.ok(parseX509Svid([good, ca.rootDer]), 'a CA chain element is fine')
})

t.test('fuzzed certificates throw only SigilError', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const { chainDer } = await ca.mintSvid('/w', { dnsNames: ['a.example.org'] })
  const leaf = chainDer[0]!
  const unexpected: string[] = []
  const tryParse = (chain: Buffer[]) => {
    try {
      parseX509Svid(chain)
    } catch (e) {
      if (!isSigilError(e, 'ERR_CERT_INVALID', 'ERR_SVID_INVALID')) unexpected.push(String(e))
    }
  }
  for (let cut = 0; cut < leaf.length; cut++) tryParse([leaf.subarray(0, cut)])
  for (let i = 0; i < leaf.length; i++) {
    const m = Buffer.from(leaf)
    m[i]! ^= 1 << (i % 8)
    tryParse([m, chainDer[1]!])
  }
  for (let i = 0; i < 300; i++) tryParse([randomBytes(i)])
  t.same(unexpected.slice(0, 5), [])
})

t.test('splitConcatenatedDer walks outer lengths', async (t) => {
  const ca = await createTestCa({ withIntermediate: true, keyType: 'rsa-2048' })
  const { chainDer } = await ca.mintSvid('/w', { keyType: 'rsa-2048' })
  const all = [...chainDer, ca.rootDer]
  const joined = Buffer.concat(all)
  const split = splitConcatenatedDer(joined)
  t.equal(split.length, 3)
  for (const [i, b] of split.entries()) t.ok(b.equals(all[i]!), `cert ${i}`)
  t.same(splitConcatenatedDer(Buffer.alloc(0)), [])
  for (const cut of [1, 2, 3, 100, joined.length - 1]) {
    t.throws(
      () => splitConcatenatedDer(joined.subarray(0, cut)),
      { code: 'ERR_CERT_INVALID' },
      `truncated at ${cut}`,
    )
  }
  t.throws(() => splitConcatenatedDer(Buffer.concat([joined, Buffer.from([0x04, 0x00])])), {
    code: 'ERR_CERT_INVALID',
  })
  t.throws(
    () => splitConcatenatedDer(Buffer.from('3080', 'hex')),
    { code: 'ERR_CERT_INVALID' },
    'indefinite length',
  )
})

t.test('PEM round trip, agreeing with openssl', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const { chainDer } = await ca.mintSvid('/w')
  const ders = [...chainDer, ca.rootDer]
  const pem = certificatesToPem(ders)
  t.match(
    pem,
    /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n/,
  )
  const back = pemToCertificates(pem)
  t.equal(back.length, 3)
  for (const [i, b] of back.entries()) t.ok(b.equals(ders[i]!))

  // openssl writes the same PEM for a certificate, and reads ours.
  const r = await openssl(['x509', '-inform', 'DER', '-outform', 'PEM'], chainDer[0])
  t.equal(r.stdout, certificatesToPem([chainDer[0]!]))
  const dir = await mkdtemp(join(tmpdir(), 'sigil-pem-'))
  const { rootPath } = await ca.writePem(dir)
  const der = await openssl(['x509', '-in', rootPath, '-outform', 'DER'])
  t.ok(der.stdoutBytes.equals(ca.rootDer))
  t.same(pemToCertificates(await readFile(rootPath, 'utf8')), [ca.rootDer])

  t.same(
    pemToCertificates(`junk before\n${pem.replace(/\n/g, '\r\n')}trailing`),
    ders,
    'CRLF and text around blocks',
  )
  t.same(
    pemToCertificates(`-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n${pem}`),
    ders,
    'other blocks skipped',
  )
  t.same(pemToCertificates('  \n'), [])
  t.throws(() => pemToCertificates('hello'), { code: 'ERR_CERT_INVALID' })
  t.throws(() => pemToCertificates('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'), {
    code: 'ERR_CERT_INVALID',
  })
  t.throws(
    () => pemToCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    { code: 'ERR_CERT_INVALID' },
    'not DER',
  )
  t.throws(() => pemToCertificates(pem.slice(0, 200)), { code: 'ERR_CERT_INVALID' }, 'unterminated block')
})

t.test('certificate facts read by the DER reader agree with @peculiar/x509', async (t) => {
  const x509 = ensureCryptoProvider()
  const ca = await createTestCa({ withIntermediate: true, keyType: 'ec-p384' })
  const k = await generateKeyPair('rsa-2048')
  const certs: Buffer[] = [
    ca.rootDer,
    ca.intermediateDer!,
    (await ca.mintSvid('/a', { dnsNames: ['a.b', '*.c.d'] })).certDer,
  ]
  for (const o of [
    { ca: true, pathLength: 3, keyUsage: CERT_SIGN | CRL_SIGN | DS },
    { ca: false, keyUsage: 0x1ff, withKeyIds: false },
    { ca: undefined, keyUsage: null, uris: ['spiffe://x/y', 'https://z'], dnsNames: ['q.r'] },
    {
      ca: true,
      pathLength: 0,
      keyUsage: KE,
      extra: [['1.2.3', false, Buffer.from('0500', 'hex')]] as [string, boolean, Buffer][],
    },
  ]) {
    certs.push(
      await buildCustomCert({ signerKey: ca.rootKey, issuerDer: ca.rootDer, publicKey: k.publicKey, ...o }),
    )
  }
  for (const [i, der] of certs.entries()) {
    const f = readCertificateFacts(der)
    const p = new x509.X509Certificate(der)
    const bc = p.getExtension(x509.BasicConstraintsExtension)
    const ku = p.getExtension(x509.KeyUsagesExtension)
    const names = p.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []
    t.same(
      {
        isCa: f.isCa,
        bcCritical: f.basicConstraintsCritical,
        pathLength: f.pathLength,
        keyUsage: f.keyUsage,
        kuCritical: f.keyUsageCritical,
        eku: f.extKeyUsages,
        uris: f.uriSans,
        dns: f.dnsSans,
        ski: f.subjectKeyId?.toString('hex'),
        aki: f.authorityKeyId?.toString('hex'),
        serial: f.serialHex,
        notBefore: f.notBefore.getTime(),
        notAfter: f.notAfter.getTime(),
        subject: f.subjectRaw.toString('hex'),
      },
      {
        isCa: bc?.ca ?? false,
        bcCritical: bc?.critical ?? false,
        pathLength: bc?.pathLength,
        keyUsage: ku?.usages,
        kuCritical: ku?.critical ?? false,
        eku: p.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
        uris: names.filter((n) => n.type === 'url').map((n) => n.value),
        dns: names.filter((n) => n.type === 'dns').map((n) => n.value),
        ski: p.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
        aki: p.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
        serial: p.serialNumber.toLowerCase(),
        notBefore: p.notBefore.getTime(),
        notAfter: p.notAfter.getTime(),
        subject: Buffer.from(p.subjectName.toArrayBuffer()).toString('hex'),
      },
      `certificate ${i}`,
    )
  }
})

t.test('extensions: repeated, unknown critical and malformed values', async (t) => {
  const ca = await createTestCa()
  const k = await generateKeyPair('ec-p256')
  const build = (o: Partial<CustomCertOptions>) =>
    buildCustomCert({ signerKey: ca.rootKey, issuerDer: ca.rootDer, publicKey: k.publicKey, ...o })
  const invalid = { code: 'ERR_CERT_INVALID' }
  const san = Buffer.from('3010860e7370696666653a2f2f782f792f7a', 'hex') // SEQUENCE { URI spiffe://x/y/z }
  t.same(readCertificateFacts(await build({ extra: [['2.5.29.17', false, san]] })).uriSans, [
    'spiffe://x/y/z',
  ])
  const twice = await build({ uris: ['spiffe://x/a'], extra: [['2.5.29.17', false, san]] })
  t.throws(() => readCertificateFacts(twice), invalid, 'a known extension twice')
  const unknownTwice = await build({
    extra: [
      ['1.2.3.4', false, Buffer.from('0500', 'hex')],
      ['1.2.3.4', false, Buffer.from('0500', 'hex')],
    ],
  })
  t.throws(() => readCertificateFacts(unknownTwice), invalid, 'an unknown extension twice')
  const critical = await build({
    extra: [
      ['1.2.3.4', true, Buffer.from('0500', 'hex')],
      ['1.2.840.113549.1.9.7', false, Buffer.from('0500', 'hex')],
    ],
  })
  t.same(readCertificateFacts(critical).unhandledCriticalExtensions, ['1.2.3.4'])
  t.same(readCertificateFacts(await build({})).unhandledCriticalExtensions, [])
  const trailing = await build({ extra: [['2.5.29.17', false, Buffer.concat([san, Buffer.from([0])])]] })
  t.throws(() => readCertificateFacts(trailing), invalid, 'trailing octets after an extension value')
  const empty = await build({ extra: [['2.5.29.17', false, Buffer.alloc(0)]] })
  t.throws(() => readCertificateFacts(empty), invalid, 'an empty extension value')
  const nonAscii = Buffer.from('3005860378ff79', 'hex') // URI with a byte > 0x7f
  const nonAsciiCert = await build({ extra: [['2.5.29.17', false, nonAscii]] })
  t.throws(() => readCertificateFacts(nonAsciiCert), invalid, 'a non-ASCII URI')
})
