/**
 * Reads, from one DER certificate, the facts the SVID rules and chain validation
 * look at: names (raw bytes, for exact issuer/subject matching), validity, basic
 * constraints, key usage, SANs, key identifiers, the signature algorithm and any
 * critical extension we do not process. The fields are read with the strict DER reader
 * (about 20 µs; `@peculiar/x509` takes milliseconds per certificate). OpenSSL's view
 * (Node's `X509Certificate`, used for signature checks) costs about 250 µs more, so it
 * is built only when `cert` is first used: every signature check, hence every trust
 * decision, still needs OpenSSL to accept the certificate. Input is untrusted: anything
 * malformed, or any repeated extension, is `ERR_CERT_INVALID` (from `cert` too).
 */
import { X509Certificate } from 'node:crypto'
import { SigilError } from '../errors.js'
import { TAG } from '../lib/der.js'
import {
  contentOf,
  type DerElement,
  decodeBoolean,
  decodeOid,
  decodeTime,
  rawOf,
  readChildren,
  readWhole,
} from '../lib/der-reader.js'
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../lib/signature-algorithm.js'

const CODE = 'ERR_CERT_INVALID'

/** Key usage bits: BIT STRING bit i maps to 1 << i (the numbering of `@peculiar/x509`'s KeyUsageFlags). */
export const KEY_USAGE = {
  digitalSignature: 1,
  keyEncipherment: 4,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
} as const

/** What we know about a certificate after parsing it. */
export interface CertificateFacts {
  readonly der: Buffer
  /** OpenSSL's view, parsed on first use; use it for signature checks. Throws `ERR_CERT_INVALID` if OpenSSL refuses the certificate. */
  readonly cert: X509Certificate
  readonly issuerRaw: Buffer
  readonly subjectRaw: Buffer
  /** The raw SubjectPublicKeyInfo (DER). */
  readonly spkiDer: Buffer
  /** Lowercase hex of the serial's minimal positive encoding (as OpenSSL prints it). */
  readonly serialHex: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly isCa: boolean
  readonly basicConstraintsCritical: boolean
  readonly pathLength: number | undefined
  /** Key usage bits (see {@link KEY_USAGE}), undefined when the extension is absent. */
  readonly keyUsage: number | undefined
  readonly keyUsageCritical: boolean
  /** Extended key usage OIDs, undefined when the extension is absent. */
  readonly extKeyUsages: readonly string[] | undefined
  readonly uriSans: readonly string[]
  readonly dnsSans: readonly string[]
  readonly subjectKeyId: Buffer | undefined
  readonly authorityKeyId: Buffer | undefined
  /** Name of the signature algorithm, undefined when not in our allowlist. */
  readonly signatureAlgorithm: string | undefined
  /** OIDs of critical extensions that we do not process (RFC 5280: reject the certificate). */
  readonly unhandledCriticalExtensions: readonly string[]
}

/**
 * Parses a DER certificate into {@link CertificateFacts}; throws `ERR_CERT_INVALID`.
 *
 * @example
 * const facts = readCertificateFacts(der)
 * if (facts.isCa && (facts.keyUsage ?? 0) & KEY_USAGE.keyCertSign) { ... }
 */
export function readCertificateFacts(der: Buffer): CertificateFacts {
  if (!Buffer.isBuffer(der)) throw new TypeError('certificate must be a Buffer of DER')
  const outer = readWhole(der, TAG.SEQUENCE, CODE)
  const [tbs, sigAlg, sigValue, ...extra] = readChildren(der, outer, CODE)
  if (!tbs || !sigAlg || !sigValue || extra.length > 0 || tbs.tag !== TAG.SEQUENCE) {
    invalid('certificate must be SEQUENCE { tbsCertificate, signatureAlgorithm, signature }')
  }
  const fields = readChildren(der, tbs!, CODE)
  const at = fields[0]?.tag === 0xa0 ? 1 : 0 // version [0] EXPLICIT is optional
  const field = (i: number, tag: number, name: string): DerElement => {
    const el = fields[at + i]
    if (!el || el.tag !== tag) invalid(`tbsCertificate ${name} is missing or has the wrong type`)
    return el!
  }
  const serial = field(0, TAG.INTEGER, 'serialNumber')
  const issuer = field(2, TAG.SEQUENCE, 'issuer')
  const validity = readChildren(der, field(3, TAG.SEQUENCE, 'validity'), CODE)
  const subject = field(4, TAG.SEQUENCE, 'subject')
  const spki = field(5, TAG.SEQUENCE, 'subjectPublicKeyInfo')
  if (validity.length !== 2) invalid('validity must hold two times')
  const extensionsEl = fields.slice(at + 6).find((e) => e.tag === 0xa3)
  const ext = readExtensions(der, extensionsEl)

  let serialBytes = contentOf(der, serial)
  if (serialBytes.length > 1 && serialBytes[0] === 0 && serialBytes[1]! & 0x80)
    serialBytes = serialBytes.subarray(1)
  let cert: X509Certificate | undefined
  return {
    der,
    get cert(): X509Certificate {
      cert ??= opensslView(der)
      return cert
    },
    issuerRaw: rawOf(der, issuer),
    subjectRaw: rawOf(der, subject),
    spkiDer: rawOf(der, spki),
    serialHex: serialBytes.toString('hex'),
    notBefore: decodeTime(der, validity[0]!, CODE),
    notAfter: decodeTime(der, validity[1]!, CODE),
    signatureAlgorithm: ACCEPTED_SIGNATURE_ALGORITHMS.get(rawOf(der, sigAlg!).toString('hex'))?.name,
    ...ext,
  }
}

function opensslView(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der)
  } catch (cause) {
    throw new SigilError('ERR_CERT_INVALID', 'not a valid X.509 certificate', { cause })
  }
}

function invalid(why: string): never {
  throw new SigilError(CODE, `malformed certificate: ${why}`)
}

type ExtensionFacts = Omit<
  CertificateFacts,
  | 'der'
  | 'cert'
  | 'issuerRaw'
  | 'subjectRaw'
  | 'spkiDer'
  | 'serialHex'
  | 'notBefore'
  | 'notAfter'
  | 'signatureAlgorithm'
>

/** Reads the `[3] EXPLICIT Extensions` element (if any) into the facts we use. */
function readExtensions(der: Buffer, wrapper: DerElement | undefined): ExtensionFacts {
  const facts: { -readonly [K in keyof ExtensionFacts]: ExtensionFacts[K] } = {
    isCa: false,
    basicConstraintsCritical: false,
    pathLength: undefined,
    keyUsage: undefined,
    keyUsageCritical: false,
    extKeyUsages: undefined,
    uriSans: [],
    dnsSans: [],
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    unhandledCriticalExtensions: [],
  }
  if (!wrapper) return facts
  const [list, ...more] = readChildren(der, wrapper, CODE)
  if (!list || more.length || list.tag !== TAG.SEQUENCE) invalid('extensions must be one SEQUENCE')
  const seen = new Set<string>()
  const unhandled: string[] = []
  for (const extEl of readChildren(der, list!, CODE)) {
    const parts = readChildren(der, extEl, CODE)
    const [oidEl, second, third] = parts
    if (extEl.tag !== TAG.SEQUENCE || !oidEl || !second || parts.length > 3) invalid('malformed extension')
    const oid = decodeOid(der, oidEl!, CODE)
    if (seen.has(oid)) invalid(`extension ${oid} appears twice`)
    seen.add(oid)
    const critical = third ? decodeBoolean(der, second!, CODE) : false
    const valueEl = third ?? second!
    if (valueEl.tag !== TAG.OCTET_STRING) invalid(`extension ${oid} value is not an OCTET STRING`)
    const value = contentOf(der, valueEl)
    // Parsed only for the extensions we read; unknown ones are left alone.
    const inner = (): DerElement => readWhole(value, value[0] ?? 0, CODE)
    switch (oid) {
      case '2.5.29.19': {
        const top = inner()
        if (top.tag !== TAG.SEQUENCE) invalid('basicConstraints is not a SEQUENCE')
        const items = readChildren(value, top, CODE)
        let i = 0
        if (items[i]?.tag === TAG.BOOLEAN) facts.isCa = decodeBoolean(value, items[i++]!, CODE)
        if (items[i]?.tag === TAG.INTEGER) facts.pathLength = smallInteger(contentOf(value, items[i++]!))
        if (i !== items.length) invalid('basicConstraints has unexpected fields')
        facts.basicConstraintsCritical = critical
        break
      }
      case '2.5.29.15': {
        const top = inner()
        facts.keyUsage = bitFlags(value, top)
        facts.keyUsageCritical = critical
        break
      }
      case '2.5.29.37': {
        const top = inner()
        if (top.tag !== TAG.SEQUENCE) invalid('extKeyUsage is not a SEQUENCE')
        facts.extKeyUsages = readChildren(value, top, CODE).map((e) => decodeOid(value, e, CODE))
        break
      }
      case '2.5.29.17': {
        const top = inner()
        if (top.tag !== TAG.SEQUENCE) invalid('subjectAltName is not a SEQUENCE')
        const uris: string[] = []
        const dns: string[] = []
        for (const name of readChildren(value, top, CODE)) {
          if (name.tag === 0x86) uris.push(ia5(contentOf(value, name)))
          else if (name.tag === 0x82) dns.push(ia5(contentOf(value, name)))
          else if (name.tag === 0xa6 || name.tag === 0xa2) invalid('URI or DNS name in constructed form')
        }
        facts.uriSans = uris
        facts.dnsSans = dns
        break
      }
      case '2.5.29.14': {
        const top = inner()
        if (top.tag !== TAG.OCTET_STRING) invalid('subjectKeyIdentifier is not an OCTET STRING')
        facts.subjectKeyId = Buffer.from(contentOf(value, top))
        break
      }
      case '2.5.29.35': {
        const top = inner()
        if (top.tag !== TAG.SEQUENCE) invalid('authorityKeyIdentifier is not a SEQUENCE')
        const keyId = readChildren(value, top, CODE).find((e) => e.tag === 0x80)
        facts.authorityKeyId = keyId ? Buffer.from(contentOf(value, keyId)) : undefined
        break
      }
      default:
        if (critical) unhandled.push(oid)
    }
  }
  facts.unhandledCriticalExtensions = unhandled
  return facts
}

/** A named-bit BIT STRING as flags: bit i (most significant first) → 1 << i. */
function bitFlags(buf: Buffer, el: DerElement): number {
  const bytes = contentOf(buf, el)
  const unused = bytes[0]
  if (
    el.tag !== TAG.BIT_STRING ||
    unused === undefined ||
    unused > 7 ||
    (bytes.length === 1 && unused !== 0)
  ) {
    invalid('malformed BIT STRING')
  }
  let flags = 0
  for (let i = 0; i < (bytes.length - 1) * 8 && i < 16; i++) {
    if (bytes[1 + (i >> 3)]! & (0x80 >> (i & 7))) flags |= 1 << i
  }
  return flags
}

function smallInteger(bytes: Buffer): number {
  if (bytes.length === 0 || bytes.length > 4 || bytes[0]! & 0x80) invalid('INTEGER out of range')
  return bytes.reduce((n, b) => n * 256 + b, 0)
}

function ia5(bytes: Buffer): string {
  for (const b of bytes) if (b > 0x7f) invalid('IA5String has non-ASCII bytes')
  return bytes.toString('latin1')
}
