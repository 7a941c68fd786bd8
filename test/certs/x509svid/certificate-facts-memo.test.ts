// CertificateFactsMemo and readSvidChain's caFacts option: facts are reused only for
// byte-identical certificates, and the chain rules apply to CA certificates read through a memo.
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { CertificateFactsMemo } from '../../../certs/x509svid/certificate-facts-memo.js'
import { readSvidChain } from '../../../certs/x509svid/parse-x509-svid.js'
import { createTestCa } from '../../helpers/testca.js'
import { buildCustomCert } from './custom-cert.js'

const DS = 1
const CERT_SIGN = 32

t.test('facts are reused for byte-identical DER only', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const memo = new CertificateFactsMemo()
  const first = memo.read(ca.intermediateDer!)
  t.equal(memo.read(Buffer.from(ca.intermediateDer!)), first, 'a copy of the same bytes gives the same facts')
  t.same(first.subjectRaw, readCertificateFacts(ca.intermediateDer!).subjectRaw)
  const root = memo.read(ca.rootDer)
  t.not(root, first, 'another certificate is read afresh')
  t.ok(root.subjectRaw.equals(readCertificateFacts(ca.rootDer).subjectRaw))
  const flipped = Buffer.from(ca.intermediateDer!)
  flipped[flipped.length - 1]! ^= 1 // the signature's last byte: still a well-formed certificate
  const other = memo.read(flipped)
  t.not(other, first, 'one differing byte is another certificate')
  t.ok(other.der.equals(flipped))
})

t.test('the oldest entry is forgotten beyond capacity; failures are not remembered', async (t) => {
  const ca = await createTestCa({ withIntermediate: true })
  const memo = new CertificateFactsMemo(1)
  const a = memo.read(ca.rootDer)
  memo.read(ca.intermediateDer!)
  t.not(memo.read(ca.rootDer), a, 'forgotten, so read again')
  const broken = ca.rootDer.subarray(0, 20)
  for (let i = 0; i < 2; i++) {
    t.throws(() => memo.read(broken), { code: 'ERR_CERT_INVALID' })
  }
  t.throws(() => new CertificateFactsMemo(0), TypeError)
  t.throws(() => memo.read('x' as unknown as Buffer), TypeError)
})

t.test('readSvidChain applies the CA rules to certificates read through the memo', async (t) => {
  const ca = await createTestCa()
  const memo = new CertificateFactsMemo()
  const a = await ca.mintSvid('/a')
  const b = await ca.mintSvid('/b')
  const ra = readSvidChain([...a.chainDer, ca.rootDer], { caFacts: memo })
  const rb = readSvidChain([...b.chainDer, ca.rootDer], { caFacts: memo })
  t.equal(ra.spiffeId.toString(), 'spiffe://example.org/a')
  t.equal(rb.spiffeId.toString(), 'spiffe://example.org/b')
  t.equal(rb.facts[1], ra.facts[1], 'the CA was read once')
  t.not(rb.facts[0], ra.facts[0], 'leaves are always read afresh')

  // A certificate that is not a CA is refused in CA position, the first time and the next.
  const k = await generateKeyPair('ec-p256')
  const notCa = await buildCustomCert({
    signerKey: ca.rootKey,
    issuerDer: ca.rootDer,
    publicKey: k.publicKey,
    ca: false,
    keyUsage: DS | CERT_SIGN,
  })
  const noCertSign = await buildCustomCert({
    signerKey: ca.rootKey,
    issuerDer: ca.rootDer,
    publicKey: k.publicKey,
    ca: true,
    keyUsage: DS,
  })
  for (const bad of [notCa, noCertSign]) {
    for (let i = 0; i < 2; i++) {
      t.throws(() => readSvidChain([a.chainDer[0]!, bad], { caFacts: memo }), { code: 'ERR_SVID_INVALID' })
    }
  }
  // A leaf in CA position is refused even when the memo has read it before.
  memo.read(b.chainDer[0]!)
  t.throws(() => readSvidChain([a.chainDer[0]!, b.chainDer[0]!], { caFacts: memo }), {
    code: 'ERR_SVID_INVALID',
  })
})
