// verifyX509Ca: a minted signing CA is checked by the path builder against the anchor it will be
// published under, with the signing-CA rules (CA, keyCertSign, one URI SAN spiffe://<td>).
import t from 'tap'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../../certs/x509svid/ca-certificate.js'
import { verifyX509Ca } from '../../../certs/x509svid/verify-x509-ca.js'
import { buildCustomCert } from './custom-cert.js'

const td = TrustDomain.parse('example.org')
const HOUR = 3_600_000
const now = new Date()

async function ca(
  o: { signer?: { der: Buffer; key: import('node:crypto').KeyObject }; notAfter?: Date } = {},
) {
  const kp = await generateKeyPair('ec-p256')
  const der = await buildCaCertificate({
    trustDomain: td,
    publicKey: kp.publicKey,
    signerKey: o.signer?.key ?? kp.privateKey,
    ...(o.signer ? { issuerCertDer: o.signer.der } : {}),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: o.notAfter ?? new Date(now.getTime() + 24 * HOUR),
  })
  return { der, key: kp.privateKey }
}

t.test('a self-signed root is its own anchor; an intermediate chains to the upstream root', async (t) => {
  const root = await ca()
  t.same(verifyX509Ca([root.der], [root.der], td, { now }), [root.der, root.der])
  const mid = await ca({ signer: root })
  const ours = await ca({ signer: mid })
  t.same(verifyX509Ca([ours.der, mid.der], [root.der], td, { now }), [ours.der, mid.der, root.der])
})

t.test(
  'refused: wrong anchor, missing intermediate, expired upstream, foreign trust domain, not a CA',
  async (t) => {
    const root = await ca()
    const other = await ca()
    const mid = await ca({ signer: root })
    const ours = await ca({ signer: mid })
    const refused = (name: string, chain: Buffer[], anchors: Buffer[], why: RegExp, at = now, domain = td) =>
      t.throws(
        () => verifyX509Ca(chain, anchors, domain, { now: at }),
        { code: 'ERR_CERT_INVALID', message: why },
        name,
      )
    refused('another root', [ours.der, mid.der], [other.der], /no issuer found/)
    refused('missing upstream intermediate', [ours.der], [root.der], /no issuer found/)
    refused(
      'upstream expired at use',
      [ours.der, mid.der],
      [root.der],
      /expired/,
      new Date(now.getTime() + 48 * HOUR),
    )
    refused(
      'foreign trust domain',
      [root.der],
      [root.der],
      /URI SAN "spiffe:\/\/other.org"/,
      now,
      TrustDomain.parse('other.org'),
    )
    const kp = await generateKeyPair('ec-p256')
    const leafLike = await buildCustomCert({
      signerKey: root.key,
      issuerDer: root.der,
      publicKey: kp.publicKey,
      ca: false,
      uris: ['spiffe://example.org'],
    })
    refused('not a CA', [leafLike], [root.der], /CA=false/)
    const noUri = await buildCustomCert({
      signerKey: root.key,
      issuerDer: root.der,
      publicKey: kp.publicKey,
      ca: true,
      keyUsage: 32,
    })
    refused('no URI SAN', [noUri], [root.der], /exactly one URI SAN/)
  },
)
