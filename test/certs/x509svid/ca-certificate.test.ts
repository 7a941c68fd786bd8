// CA certificates: profile, signature algorithm per key type, issuer linkage, NotAfter clamping,
// key checks; checked by our parser and independently by openssl.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { generateKeyPair, KEY_TYPES } from '../../../certs/keys/keys.js'
import { contentOf, readChildren, readWhole } from '../../../certs/lib/der-reader.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { KEY_USAGE, readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { opensslText, opensslVerify } from './openssl.js'

const td = TrustDomain.parse('example.org')
const now = new Date()
const day = 86_400_000
const expectedAlg = {
  'ec-p256': 'ecdsa-with-SHA256',
  'ec-p384': 'ecdsa-with-SHA384',
  'rsa-2048': 'sha256WithRSAEncryption',
}

t.test('self-signed root and intermediate for every key type', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-ca-'))
  for (const type of KEY_TYPES) {
    const rootKeys = await generateKeyPair(type)
    const rootDer = await buildCaCertificate({
      trustDomain: td,
      publicKey: rootKeys.publicKey,
      signerKey: rootKeys.privateKey,
      notBefore: now,
      notAfter: new Date(+now + day),
    })
    const root = readCertificateFacts(rootDer)
    t.ok(root.isCa && root.basicConstraintsCritical, `${type} root CA=true critical`)
    t.ok(root.keyUsageCritical, 'keyUsage critical')
    t.equal(
      root.keyUsage,
      KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign | KEY_USAGE.digitalSignature,
      'keyCertSign+cRLSign+digitalSignature',
    )
    t.same(root.uriSans, ['spiffe://example.org'])
    t.ok(root.subjectRaw.equals(root.issuerRaw), 'self-issued')
    t.ok(root.subjectKeyId && root.authorityKeyId?.equals(root.subjectKeyId), 'AKI = own SKI')
    t.ok(root.cert.verify(rootKeys.publicKey), 'self-signature verifies')
    t.equal(root.signatureAlgorithm, expectedAlg[type])
    const serial = serialContent(rootDer)
    t.ok(serial.length <= 20 && (serial[0]! & 0x80) === 0, 'positive serial <= 20 octets')
    t.equal(
      BigInt(`0x${serial.toString('hex')}`),
      BigInt(`0x${root.serialHex}`),
      'serialHex is its magnitude',
    )
    t.match(root.cert.subject, /C=US\nO=SPIFFE\nserialNumber=\d+/)

    // An intermediate of a different key type, signed by the root.
    const interType = KEY_TYPES[(KEY_TYPES.indexOf(type) + 1) % KEY_TYPES.length]!
    const interKeys = await generateKeyPair(interType)
    const interDer = await buildCaCertificate({
      trustDomain: td,
      publicKey: interKeys.publicKey,
      signerKey: rootKeys.privateKey,
      issuerCertDer: rootDer,
      notBefore: now,
      notAfter: new Date(+now + 30 * day),
    })
    const inter = readCertificateFacts(interDer)
    t.ok(inter.issuerRaw.equals(root.subjectRaw), 'issuer name copied byte for byte')
    t.ok(inter.authorityKeyId?.equals(root.subjectKeyId!), 'AKI = issuer SKI')
    t.equal(inter.notAfter.getTime(), root.notAfter.getTime(), 'NotAfter clamped to the issuer')
    t.equal(inter.signatureAlgorithm, expectedAlg[type], 'signed with the issuer key algorithm')
    t.ok(inter.cert.verify(rootKeys.publicKey))

    const rootPath = join(dir, `${type}-root.pem`)
    const interPath = join(dir, `${type}-inter.pem`)
    await writeFile(rootPath, certificatesToPem([rootDer]))
    await writeFile(interPath, certificatesToPem([interDer]))
    const r = await opensslVerify({ caFile: rootPath, leafFiles: [rootPath, interPath] })
    t.equal(r.code, 0, `openssl verify -x509_strict (${type}): ${r.stdout}${r.stderr}`)
    const text = await opensslText(interDer)
    t.match(text, /CA:TRUE/)
    t.match(text, /URI:spiffe:\/\/example\.org\n/)
    t.match(text, /Certificate Sign, CRL Sign/)
  }
})

t.test('custom subject and pathLength', async (t) => {
  const k = await generateKeyPair()
  const der = await buildCaCertificate({
    trustDomain: td,
    publicKey: k.publicKey,
    signerKey: k.privateKey,
    notBefore: now,
    notAfter: new Date(+now + day),
    subject: 'C=DE, O=Example CA',
    pathLength: 0,
  })
  const f = readCertificateFacts(der)
  t.equal(f.cert.subject, 'C=DE\nO=Example CA')
  t.equal(f.pathLength, 0)
})

t.test('rejects mismatched keys, non-CA issuers, empty validity, bad input', async (t) => {
  const a = await generateKeyPair()
  const b = await generateKeyPair()
  const base = { trustDomain: td, notBefore: now, notAfter: new Date(+now + day) }
  await t.rejects(buildCaCertificate({ ...base, publicKey: a.publicKey, signerKey: b.privateKey }), {
    code: 'ERR_KEY_INVALID',
  })
  const root = await buildCaCertificate({ ...base, publicKey: a.publicKey, signerKey: a.privateKey })
  await t.rejects(
    buildCaCertificate({ ...base, publicKey: b.publicKey, signerKey: b.privateKey, issuerCertDer: root }),
    { code: 'ERR_KEY_INVALID' },
    'signer key must match the issuer certificate',
  )
  await t.rejects(
    buildCaCertificate({ ...base, publicKey: a.publicKey, signerKey: a.privateKey, notAfter: now }),
    { code: 'ERR_INVALID_ARGUMENT' },
  )
  // An issuer that expired before the new NotBefore leaves an empty validity after clamping.
  await t.rejects(
    buildCaCertificate({
      ...base,
      publicKey: b.publicKey,
      signerKey: a.privateKey,
      issuerCertDer: root,
      notBefore: new Date(+now + 2 * day),
      notAfter: new Date(+now + 3 * day),
    }),
    { code: 'ERR_INVALID_ARGUMENT' },
  )
  await t.rejects(
    buildCaCertificate({ ...base, publicKey: a.publicKey, signerKey: a.privateKey, subject: '' }),
    { code: 'ERR_INVALID_ARGUMENT' },
  )
  await t.rejects(
    buildCaCertificate({ ...base, publicKey: a.publicKey, signerKey: a.publicKey }),
    TypeError,
    'signer must be a private key',
  )
  await t.rejects(
    buildCaCertificate({
      ...base,
      publicKey: a.publicKey,
      signerKey: a.privateKey,
      issuerCertDer: Buffer.from('x'),
    }),
    { code: 'ERR_CERT_INVALID' },
  )
})

/** The content octets of a certificate's serialNumber INTEGER. */
function serialContent(der: Buffer): Buffer {
  const code = 'ERR_CERT_INVALID' as const
  const [tbs] = readChildren(der, readWhole(der, 0x30, code), code)
  const [, serial] = readChildren(der, tbs!, code)
  return contentOf(der, serial!)
}
