/**
 * Builds SPIFFE signing-CA certificates: self-signed roots and intermediates signed by
 * another CA. Not on a hot path, so `@peculiar/x509` writes them. Profile (SPIFFE
 * X509-SVID §4 and SPIRE's CA template): basicConstraints CA=true (critical), keyUsage
 * keyCertSign+cRLSign+digitalSignature (critical), SKI, AKI = the issuer's SKI, URI SAN
 * `spiffe://<trust domain>`, random 128-bit serial, NotAfter capped by the issuer's.
 * Inputs come from our own configuration; key mismatches are reported, not tolerated.
 */
import { createPublicKey, type KeyObject, webcrypto } from 'node:crypto'
import { SigilError } from '../errors.js'
import { keyTypeOf } from '../keys/keys.js'
import { ensureCryptoProvider } from '../lib/crypto-provider.js'
import { keyIdentifierOfSpki } from '../lib/key-identifier.js'
import { randomSerialNumber } from '../lib/serial-number.js'
import { signatureAlgorithmFor } from '../lib/signature-algorithm.js'
import { TrustDomain } from '../spiffeid/trust-domain.js'
import { KEY_USAGE, readCertificateFacts } from './certificate-facts.js'

/** Options for {@link buildCaCertificate}. */
export interface CaCertificateOptions {
  /** The trust domain the CA issues for; goes into the URI SAN as `spiffe://<td>`. */
  readonly trustDomain: TrustDomain
  /** The new CA's public key. */
  readonly publicKey: KeyObject
  /** The private key that signs: the issuer's, or the new CA's own key for a root. */
  readonly signerKey: KeyObject
  /** The issuing CA's certificate (DER); absent for a self-signed root. */
  readonly issuerCertDer?: Buffer
  readonly notBefore: Date
  /** Capped at the issuer's NotAfter when an issuer is given. */
  readonly notAfter: Date
  /** Distinguished name string, e.g. `C=US, O=Example`; default `C=US, O=SPIFFE, serialNumber=<serial>`. */
  readonly subject?: string
  /** Optional basicConstraints pathLenConstraint. */
  readonly pathLength?: number
}

/**
 * Builds and signs a CA certificate, returning its DER.
 *
 * @example
 * const root = await buildCaCertificate({ trustDomain: td, publicKey: kp.publicKey,
 *   signerKey: kp.privateKey, notBefore: now, notAfter: new Date(+now + 86_400_000) })
 */
export async function buildCaCertificate(opts: CaCertificateOptions): Promise<Buffer> {
  checkOptions(opts)
  const x509 = ensureCryptoProvider()
  const publicKey = opts.publicKey.type === 'private' ? createPublicKey(opts.publicKey) : opts.publicKey
  keyTypeOf(publicKey)
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  const signerSpki = createPublicKey(opts.signerKey).export({ type: 'spki', format: 'der' })
  const algorithm = signatureAlgorithmFor(opts.signerKey)

  let notAfter = opts.notAfter
  let issuerSubject: Buffer | undefined
  let authorityKeyId: Buffer
  if (opts.issuerCertDer) {
    const issuer = readCertificateFacts(opts.issuerCertDer)
    if (!issuer.isCa || ((issuer.keyUsage ?? 0) & KEY_USAGE.keyCertSign) === 0) {
      throw new SigilError('ERR_CERT_INVALID', 'issuer certificate is not a CA with keyCertSign')
    }
    if (!issuer.spkiDer.equals(signerSpki)) {
      throw new SigilError('ERR_KEY_INVALID', "signer key does not match the issuer certificate's public key")
    }
    if (issuer.notAfter < notAfter) notAfter = issuer.notAfter
    issuerSubject = issuer.subjectRaw
    authorityKeyId = issuer.subjectKeyId ?? keyIdentifierOfSpki(issuer.spkiDer)
  } else {
    if (!signerSpki.equals(spki)) {
      throw new SigilError('ERR_KEY_INVALID', 'a self-signed root must be signed by its own key')
    }
    authorityKeyId = keyIdentifierOfSpki(spki)
  }
  if (notAfter.getTime() - opts.notBefore.getTime() < 1000) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `CA validity is empty (notAfter ${notAfter.toISOString()})`)
  }

  const serial = randomSerialNumber()
  let subject: InstanceType<typeof x509.Name>
  try {
    subject =
      opts.subject === undefined
        ? new x509.Name([
            { C: ['US'] },
            { O: ['SPIFFE'] },
            { '2.5.4.5': [BigInt(`0x${serial.toString('hex')}`).toString()] },
          ])
        : new x509.Name(opts.subject)
  } catch (cause) {
    throw new SigilError('ERR_INVALID_ARGUMENT', `invalid CA subject "${opts.subject}"`, { cause })
  }
  if (subject.toJSON().length === 0)
    throw new SigilError('ERR_INVALID_ARGUMENT', 'CA subject must not be empty')

  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    opts.signerKey.export({ type: 'pkcs8', format: 'der' }),
    algorithm.importParams,
    false,
    ['sign'],
  )
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject,
    issuer: issuerSubject ? new x509.Name(issuerSubject) : subject,
    notBefore: opts.notBefore,
    notAfter,
    publicKey: spki,
    signingKey,
    signingAlgorithm: algorithm.signParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLength, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.SubjectKeyIdentifierExtension(keyIdentifierOfSpki(spki).toString('hex')),
      new x509.AuthorityKeyIdentifierExtension(authorityKeyId.toString('hex')),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: opts.trustDomain.idString() }]),
    ],
  })
  const der = Buffer.from(cert.rawData)
  if (issuerSubject && !readCertificateFacts(der).issuerRaw.equals(issuerSubject)) {
    throw new Error('internal: issuer name was not copied byte for byte')
  }
  return der
}

function checkOptions(opts: CaCertificateOptions): void {
  if (!(opts.trustDomain instanceof TrustDomain)) throw new TypeError('trustDomain must be a TrustDomain')
  if (!isKeyObject(opts.publicKey)) throw new TypeError('publicKey must be a KeyObject')
  if (!isKeyObject(opts.signerKey) || opts.signerKey.type !== 'private') {
    throw new TypeError('signerKey must be a private KeyObject')
  }
  if (opts.issuerCertDer !== undefined && !Buffer.isBuffer(opts.issuerCertDer)) {
    throw new TypeError('issuerCertDer must be a Buffer')
  }
  for (const [name, d] of [
    ['notBefore', opts.notBefore],
    ['notAfter', opts.notAfter],
  ] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new TypeError(`${name} must be a valid Date`)
  }
  if (opts.pathLength !== undefined && (!Number.isSafeInteger(opts.pathLength) || opts.pathLength < 0)) {
    throw new TypeError('pathLength must be a non-negative integer')
  }
}

function isKeyObject(k: unknown): k is KeyObject {
  return typeof k === 'object' && k !== null && 'asymmetricKeyType' in k && 'export' in k
}
