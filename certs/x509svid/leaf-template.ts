/**
 * The X509-SVID leaf TBSCertificate, built from parts fixed once per signing CA
 * (signature algorithm, issuer name, the constant extensions, the AKI) and the few
 * fields that change per SVID (serial, validity, subject CN, public key, SAN, SKI).
 * Profile: SPIFFE X509-SVID §4-5 and SPIRE's credential templates (see SPIFFE.md §2):
 *
 * - subject `C=US, O=SPIFFE` (+ `CN=<first DNS name>` when there is one of at most 64 characters)
 * - basicConstraints `CA:FALSE`, critical
 * - keyUsage digitalSignature + keyEncipherment + keyAgreement, critical, for every key type
 *   (what SPIRE sets; X.509 stacks ignore the bits a key type cannot use)
 * - extKeyUsage serverAuth + clientAuth
 * - subjectAltName: the SPIFFE ID as the only URI, then DNS names, then IP addresses; not critical
 *   (subject is non-empty)
 * - SKI = SHA-1 of the subjectPublicKey bits; AKI keyIdentifier = the CA's SKI
 *
 * Pure DER assembly; inputs are validated by the caller (X509SvidMinter).
 */
import * as der from '../lib/der.js'

/** The per-SVID fields. */
export interface LeafFields {
  /** Unsigned big-endian serial magnitude. */
  readonly serial: Buffer
  readonly notBefore: Date
  readonly notAfter: Date
  /** The leaf's SubjectPublicKeyInfo (DER). */
  readonly spki: Buffer
  readonly subjectKeyId: Buffer
  /** The SPIFFE ID string (ASCII). */
  readonly uri: string
  readonly dnsNames: readonly string[]
  /** iPAddress SAN octets (4 or 16 each), after the DNS names. */
  readonly ipAddresses?: readonly Buffer[]
}

/** RFC 5280 upper bound on commonName length (ub-common-name). */
const MAX_CN_LENGTH = 64

const VERSION_V3 = der.contextTag(0, true, der.smallInteger(2))
const OID_CN = der.oid('2.5.4.3')
const SUBJECT_PREFIX = Buffer.concat([
  der.set(der.sequence(der.oid('2.5.4.6'), der.printableString('US'))),
  der.set(der.sequence(der.oid('2.5.4.10'), der.printableString('SPIFFE'))),
])
const OID_SAN = der.oid('2.5.29.17')
const OID_SKI = der.oid('2.5.29.14')
const CRITICAL = der.boolean(true)

/** Key usage bits in BIT STRING order: digitalSignature(0), keyEncipherment(2), keyAgreement(4). */
const KEY_USAGE_BITS = 0b1010_1000
const FIXED_EXTENSIONS = Buffer.concat([
  der.sequence(der.oid('2.5.29.19'), CRITICAL, der.octetString(der.sequence())),
  // 3 unused bits: the last bit set is keyAgreement (bit 4).
  der.sequence(
    der.oid('2.5.29.15'),
    CRITICAL,
    der.octetString(der.bitString(Buffer.from([KEY_USAGE_BITS]), 3)),
  ),
  der.sequence(
    der.oid('2.5.29.37'),
    der.octetString(der.sequence(der.oid('1.3.6.1.5.5.7.3.1'), der.oid('1.3.6.1.5.5.7.3.2'))),
  ),
])

/**
 * A leaf TBSCertificate template for one signing CA.
 *
 * @example
 * const template = new LeafTemplate({ signatureAlgorithmDer, issuerName, authorityKeyId })
 * const tbs = template.tbs({ serial, notBefore, notAfter, spki, subjectKeyId, uri, dnsNames: [] })
 */
export class LeafTemplate {
  readonly #algorithmAndIssuer: Buffer
  readonly #authorityKeyIdExtension: Buffer

  constructor(opts: { signatureAlgorithmDer: Buffer; issuerName: Buffer; authorityKeyId: Buffer }) {
    this.#algorithmAndIssuer = Buffer.concat([opts.signatureAlgorithmDer, opts.issuerName])
    this.#authorityKeyIdExtension = der.sequence(
      der.oid('2.5.29.35'),
      der.octetString(der.sequence(der.contextTag(0, false, opts.authorityKeyId))),
    )
  }

  /** The DER TBSCertificate for one leaf. */
  tbs(f: LeafFields): Buffer {
    const cn = f.dnsNames[0]
    const subject =
      cn !== undefined && cn.length <= MAX_CN_LENGTH
        ? der.sequence(SUBJECT_PREFIX, der.set(der.sequence(OID_CN, der.utf8String(cn))))
        : der.sequence(SUBJECT_PREFIX)
    const generalNames = [der.contextTag(6, false, Buffer.from(f.uri, 'latin1'))]
    for (const name of f.dnsNames) generalNames.push(der.contextTag(2, false, Buffer.from(name, 'latin1')))
    for (const ip of f.ipAddresses ?? []) generalNames.push(der.contextTag(7, false, ip))
    const extensions = der.sequence(
      FIXED_EXTENSIONS,
      der.sequence(OID_SAN, der.octetString(der.sequence(...generalNames))),
      der.sequence(OID_SKI, der.octetString(der.octetString(f.subjectKeyId))),
      this.#authorityKeyIdExtension,
    )
    return der.sequence(
      VERSION_V3,
      der.integer(f.serial),
      this.#algorithmAndIssuer,
      der.sequence(der.utcOrGeneralizedTime(f.notBefore), der.utcOrGeneralizedTime(f.notAfter)),
      subject,
      f.spki,
      der.contextTag(3, true, extensions),
    )
  }
}
