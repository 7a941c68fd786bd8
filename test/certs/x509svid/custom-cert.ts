// Builds arbitrary (often deliberately wrong) certificates with @peculiar/x509, independently of
// Sigil's own leaf template, for negative tests: CA=true leaves, two URI SANs, missing key usage...
import { createPublicKey, type KeyObject, webcrypto } from 'node:crypto'
import type * as PeculiarTypes from '@peculiar/x509'
import { ensureCryptoProvider } from '../../../certs/lib/crypto-provider.js'
import { signatureAlgorithmFor } from '../../../certs/lib/signature-algorithm.js'

export interface CustomCertOptions {
  signerKey: KeyObject
  publicKey: KeyObject
  /** Issuer certificate; absent → self-issued (issuer = subject). */
  issuerDer?: Buffer
  subject?: string
  notBefore?: Date
  notAfter?: Date
  /** basicConstraints CA flag; undefined → no basicConstraints extension. */
  ca?: boolean
  pathLength?: number
  /** keyUsage bits (x509.KeyUsageFlags); null → no keyUsage extension. */
  keyUsage?: number | null
  uris?: string[]
  dnsNames?: string[]
  /** Extra raw extensions: [oid, critical, DER value]. */
  extra?: [string, boolean, Buffer][]
  withKeyIds?: boolean
}

export async function buildCustomCert(o: CustomCertOptions): Promise<Buffer> {
  const x509 = ensureCryptoProvider()
  const alg = signatureAlgorithmFor(o.signerKey)
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    o.signerKey.export({ type: 'pkcs8', format: 'der' }),
    alg.importParams,
    false,
    ['sign'],
  )
  const pub = o.publicKey.type === 'private' ? createPublicKey(o.publicKey) : o.publicKey
  const spki = pub.export({ type: 'spki', format: 'der' })
  const subject = new x509.Name(o.subject ?? 'C=US, O=SPIFFE')
  const issuer = o.issuerDer ? new x509.X509Certificate(o.issuerDer) : undefined
  const ext: PeculiarTypes.Extension[] = []
  if (o.ca !== undefined) ext.push(new x509.BasicConstraintsExtension(o.ca, o.pathLength, true))
  if (o.keyUsage !== null) {
    ext.push(new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true))
  }
  const names = [
    ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ]
  if (names.length) ext.push(new x509.SubjectAlternativeNameExtension(names))
  if (o.withKeyIds !== false) {
    ext.push(await x509.SubjectKeyIdentifierExtension.create(spki))
    const issuerSki = issuer?.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
    ext.push(
      issuerSki
        ? new x509.AuthorityKeyIdentifierExtension(issuerSki)
        : await x509.AuthorityKeyIdentifierExtension.create(spki),
    )
  }
  for (const [oid, critical, value] of o.extra ?? []) ext.push(new x509.Extension(oid, critical, value))
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: issuer ? issuer.subjectName : subject,
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + 3_600_000),
    publicKey: spki,
    signingKey,
    signingAlgorithm: alg.signParams,
    extensions: ext,
  })
  return Buffer.from(cert.rawData)
}
