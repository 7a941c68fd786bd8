// X509popAttestor, the chain validation and the proof format, with certificates made by
// the openssl binary: selectors, intermediates, wrong keys, untrusted or unsuitable
// certificates, validity at the injected clock, and P-384/RSA proofs.
import { createHash, randomBytes, sign } from 'node:crypto'
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { parseX509popAnchors, verifyX509popChain } from '../../../certs/x509pop/x509pop-chain.js'
import {
  signX509popChallenge,
  verifyX509popResponse,
  X509POP_CHALLENGE_BYTES,
  x509popSignedMessage,
} from '../../../certs/x509pop/x509pop-proof.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { X509popAttestor } from '../../../server/nodeattestation/x509pop-attestor.js'
import { makeX509popPki } from './x509pop-test-pki.js'

const td = TrustDomain.parse('example.org')
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

t.test('happy path: one challenge, fingerprint ID, documented selectors', async (t) => {
  const pki = makeX509popPki(t.testdir(), 'node-7')
  const attestor = new X509popAttestor({ trustDomain: td, caCerts: [pki.caDer], clock: () => new Date() })
  const challenges: Buffer[] = []
  const r = await attestor.attest(pki.leafDer, async (c) => {
    challenges.push(c)
    return signX509popChallenge(pki.leafKey, c)
  })
  t.equal(challenges.length, 1)
  t.equal(challenges[0]?.length, X509POP_CHALLENGE_BYTES)
  t.equal(r.agentId.toString(), `spiffe://example.org/sigil/agent/x509pop/${sha256(pki.leafDer)}`)
  const serial = readCertificateFacts(pki.leafDer).serialHex
  t.same(
    [...r.selectors].map((s) => `${s.type}:${s.value}`).sort(),
    [
      'x509pop:subject:cn:node-7',
      `x509pop:ca:fingerprint:${sha256(pki.caDer)}`,
      'x509pop:san:dns:node-7.nodes.example.org',
      `x509pop:serialnumber:${serial}`,
    ].sort(),
  )
})

t.test('an intermediate presented in the chain', async (t) => {
  const pki = makeX509popPki(t.testdir(), 'node-8', { intermediate: true })
  const attestor = new X509popAttestor({ trustDomain: td, caCerts: [pki.caDer], clock: () => new Date() })
  const r = await attestor.attest(Buffer.concat([pki.leafDer, pki.intermediateDer!]), async (c) =>
    signX509popChallenge(pki.leafKey, c),
  )
  const fps = r.selectors.filter((s) => s.value.startsWith('ca:fingerprint:')).map((s) => s.value.slice(15))
  t.same(fps, [sha256(pki.intermediateDer!), sha256(pki.caDer)])
  // The intermediate itself may be the configured anchor.
  const byIntermediate = new X509popAttestor({
    trustDomain: td,
    caCerts: [pki.intermediateDer!],
    clock: () => new Date(),
  })
  await t.resolves(byIntermediate.attest(pki.leafDer, async (c) => signX509popChallenge(pki.leafKey, c)))
})

t.test('a wrong key, a bare-challenge signature, or garbage is refused', async (t) => {
  const pki = makeX509popPki(t.testdir(), 'node-1')
  const attestor = new X509popAttestor({ trustDomain: td, caCerts: [pki.caDer], clock: () => new Date() })
  const other = await generateKeyPair('ec-p256')
  await t.rejects(
    attestor.attest(pki.leafDer, async (c) => signX509popChallenge(other.privateKey, c)),
    {
      code: 'ERR_ATTESTATION_FAILED',
    },
  )
  await t.rejects(
    attestor.attest(pki.leafDer, async (c) => sign('sha256', c, pki.leafKey)),
    {
      code: 'ERR_ATTESTATION_FAILED',
    },
    'a signature without the context string',
  )
  await t.rejects(
    attestor.attest(pki.leafDer, async () => Buffer.alloc(0)),
    { code: 'ERR_ATTESTATION_FAILED' },
  )
  await t.rejects(
    attestor.attest(pki.leafDer, async () => randomBytes(5000)),
    { code: 'ERR_ATTESTATION_FAILED' },
  )
  await t.rejects(
    attestor.attest(Buffer.from('junk'), async () => Buffer.alloc(0)),
    { code: 'ERR_CERT_INVALID' },
  )
  await t.rejects(
    attestor.attest(Buffer.alloc(0), async () => Buffer.alloc(0)),
    { code: 'ERR_INVALID_ARGUMENT' },
  )
})

t.test('certificates that do not chain, are unsuitable, or are not valid now', async (t) => {
  const dir = t.testdir()
  const pki = makeX509popPki(dir, 'node-1')
  const anchors = parseX509popAnchors([pki.caDer])
  const now = new Date()
  const refused = (chain: Buffer[], at = now) =>
    t.throws(() => verifyX509popChain(chain, anchors, at), { code: 'ERR_ATTESTATION_FAILED' })
  refused([makeX509popPki(dir, 'node-1').leafDer])
  refused([pki.leafDer], new Date(now.getTime() + 3 * 86_400_000))
  refused([pki.leafDer], new Date(now.getTime() - 86_400_000))
  refused([pki.caDer], now)
  refused([])
  const serverOnly = makeX509popPki(dir, 'srv', {
    leafExtensions:
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  })
  t.throws(
    () => verifyX509popChain([serverOnly.leafDer], parseX509popAnchors([serverOnly.caDer]), now),
    {
      code: 'ERR_ATTESTATION_FAILED',
    },
    'EKU without clientAuth',
  )
  const caLeaf = makeX509popPki(dir, 'ca-leaf', {
    leafExtensions: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,digitalSignature\n',
  })
  t.throws(
    () => verifyX509popChain([caLeaf.leafDer], parseX509popAnchors([caLeaf.caDer]), now),
    {
      code: 'ERR_ATTESTATION_FAILED',
    },
    'a CA certificate as the leaf',
  )
  t.throws(() => parseX509popAnchors([pki.leafDer]), { code: 'ERR_CONFIG_INVALID' }, 'a leaf as anchor')
  t.throws(() => parseX509popAnchors([Buffer.from('x')]), { code: 'ERR_CONFIG_INVALID' })
  t.throws(() => new X509popAttestor({ trustDomain: td, caCerts: [], clock: () => now }), TypeError)
})

t.test('proofs with P-384 and RSA-2048 keys', async (t) => {
  for (const type of ['ec-p384', 'rsa-2048'] as const) {
    const { privateKey, publicKey } = await generateKeyPair(type)
    const challenge = randomBytes(X509POP_CHALLENGE_BYTES)
    const sig = signX509popChallenge(privateKey, challenge)
    t.ok(verifyX509popResponse(publicKey, challenge, sig), `${type} verifies`)
    t.notOk(verifyX509popResponse(publicKey, randomBytes(32), sig), `${type}: another challenge fails`)
  }
  const dir = t.testdir()
  const rsa = makeX509popPki(dir, 'rsa-node', { leafKeyAlg: ['-newkey', 'rsa:2048'] })
  const attestor = new X509popAttestor({ trustDomain: td, caCerts: [rsa.caDer], clock: () => new Date() })
  await t.resolves(
    attestor.attest(rsa.leafDer, async (c) => signX509popChallenge(rsa.leafKey, c)),
    'RSA leaf',
  )
  t.ok(x509popSignedMessage(Buffer.from('c')).toString().startsWith('sigil x509pop challenge v1\n'))
})
