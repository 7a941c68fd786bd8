/**
 * An in-process X509-SVID minter for the benchmarks that time signing without a server: a
 * fresh self-signed P-256 CA for `example.org`, valid for one day from now.
 */
import { generateKeyPair } from '../../certs/keys/keys.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../certs/x509svid/ca-certificate.js'
import { X509SvidMinter } from '../../certs/x509svid/x509-svid-minter.js'

/** A minter over a new one-day `example.org` CA. */
export async function benchMinter(): Promise<X509SvidMinter> {
  const ca = await generateKeyPair('ec-p256')
  const now = new Date()
  const caCertDer = await buildCaCertificate({
    trustDomain: TrustDomain.parse('example.org'),
    publicKey: ca.publicKey,
    signerKey: ca.privateKey,
    notBefore: now,
    notAfter: new Date(now.getTime() + 86_400_000),
  })
  return new X509SvidMinter({ caCertDer, caKey: ca.privateKey })
}
