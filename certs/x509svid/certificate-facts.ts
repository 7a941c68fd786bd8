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
import { oid, TAG } from '../lib/der.js'
import {
  contentOf,
  type DerElement,
  decodeBoolean,
  decodeOid,
  decodeTime,
  rawOf,
  readChildren,
  readElement,
  readWhole,
} from '../lib/der-reader.js'
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../lib/signature-algorithm.js'
import { ipAddressText } from './ip-address.js'

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
  /** iPAddress SANs in text form (`127.0.0.1`, `::1`); malformed lengths are skipped. */
  readonly ipSans: readonly string[]
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

  // The serial's minimal positive form: a leading 0x00 that only marks it positive is dropped.
  const serialStart =
    serial.end - serial.contentStart > 1 &&
    der[serial.contentStart] === 0 &&
    der[serial.contentStart + 1]! & 0x80
      ? serial.contentStart + 1
      : serial.contentStart
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
    serialHex: der.toString('hex', serialStart, serial.end),
    notBefore: decodeTime(der, validity[0]!, CODE),
    notAfter: decodeTime(der, validity[1]!, CODE),
    signatureAlgorithm: ACCEPTED_SIGNATURE_ALGORITHMS.get(der.toString('hex', sigAlg!.start, sigAlg!.end))
      ?.name,
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

/** The extensions we read, by the content octets of their OID (compared without decoding). */
const KNOWN_EXTENSIONS = [
  { oid: '2.5.29.19', name: 'basicConstraints' },
  { oid: '2.5.29.15', name: 'keyUsage' },
  { oid: '2.5.29.37', name: 'extKeyUsage' },
  { oid: '2.5.29.17', name: 'subjectAltName' },
  { oid: '2.5.29.14', name: 'subjectKeyIdentifier' },
  { oid: '2.5.29.35', name: 'authorityKeyIdentifier' },
] as const
const KNOWN_OID_CONTENT = KNOWN_EXTENSIONS.map((e) => oid(e.oid).subarray(2))

/** Index in {@link KNOWN_EXTENSIONS} of the OID element `el`, or -1. */
function knownExtension(der: Buffer, el: DerElement): number {
  const length = el.end - el.contentStart
  for (let k = 0; k < KNOWN_OID_CONTENT.length; k++) {
    const content = KNOWN_OID_CONTENT[k]!
    if (content.length !== length) continue
    let i = 0
    while (i < length && der[el.contentStart + i] === content[i]) i++
    if (i === length) return k
  }
  return -1
}

/**
 * The one element that fills the content of `el` exactly (an extension's OCTET STRING value),
 * read in place: offsets stay those of `der`.
 */
function innerOf(der: Buffer, el: DerElement): DerElement {
  const top = readElement(der, el.contentStart, el.end, CODE)
  if (top.end !== el.end) invalid(`${el.end - top.end} trailing octet(s) in an extension value`)
  return top
}

/**
 * Reads the `[3] EXPLICIT Extensions` element (if any) into the facts we use. Runs once per
 * certificate the agent receives, so it reads in place: known OIDs are compared as bytes and
 * only an unknown one is decoded.
 */
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
    ipSans: [],
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    unhandledCriticalExtensions: [],
  }
  if (!wrapper) return facts
  const [list, ...more] = readChildren(der, wrapper, CODE)
  if (!list || more.length || list.tag !== TAG.SEQUENCE) invalid('extensions must be one SEQUENCE')
  let seenKnown = 0
  let seenOther: Set<string> | undefined
  let unhandled: string[] | undefined
  for (let at = list!.contentStart; at < list!.end; ) {
    const extEl = readElement(der, at, list!.end, CODE)
    at = extEl.end
    if (extEl.tag !== TAG.SEQUENCE) invalid('malformed extension')
    // SEQUENCE { extnID, critical BOOLEAN OPTIONAL, extnValue }: two or three elements.
    const oidEl =
      extEl.contentStart < extEl.end ? readElement(der, extEl.contentStart, extEl.end, CODE) : undefined
    const second = oidEl && oidEl.end < extEl.end ? readElement(der, oidEl.end, extEl.end, CODE) : undefined
    const third = second && second.end < extEl.end ? readElement(der, second.end, extEl.end, CODE) : undefined
    if (!oidEl || !second || (third ?? second).end !== extEl.end) invalid('malformed extension')
    const known = knownExtension(der, oidEl!)
    const name = KNOWN_EXTENSIONS[known]?.name
    let oid: string
    if (known >= 0) {
      oid = KNOWN_EXTENSIONS[known]!.oid
      if (seenKnown & (1 << known)) invalid(`extension ${oid} appears twice`)
      seenKnown |= 1 << known
    } else {
      oid = decodeOid(der, oidEl!, CODE)
      seenOther ??= new Set()
      if (seenOther.has(oid)) invalid(`extension ${oid} appears twice`)
      seenOther.add(oid)
    }
    const critical = third ? decodeBoolean(der, second!, CODE) : false
    const valueEl = third ?? second!
    if (valueEl.tag !== TAG.OCTET_STRING) invalid(`extension ${oid} value is not an OCTET STRING`)
    // Parsed only for the extensions we read; unknown ones are left alone.
    switch (name) {
      case 'basicConstraints': {
        const top = innerOf(der, valueEl)
        if (top.tag !== TAG.SEQUENCE) invalid('basicConstraints is not a SEQUENCE')
        const items = readChildren(der, top, CODE)
        let i = 0
        if (items[i]?.tag === TAG.BOOLEAN) facts.isCa = decodeBoolean(der, items[i++]!, CODE)
        if (items[i]?.tag === TAG.INTEGER) facts.pathLength = smallInteger(contentOf(der, items[i++]!))
        if (i !== items.length) invalid('basicConstraints has unexpected fields')
        facts.basicConstraintsCritical = critical
        break
      }
      case 'keyUsage': {
        facts.keyUsage = bitFlags(der, innerOf(der, valueEl))
        facts.keyUsageCritical = critical
        break
      }
      case 'extKeyUsage': {
        const top = innerOf(der, valueEl)
        if (top.tag !== TAG.SEQUENCE) invalid('extKeyUsage is not a SEQUENCE')
        facts.extKeyUsages = readChildren(der, top, CODE).map((e) => decodeOid(der, e, CODE))
        break
      }
      case 'subjectAltName': {
        const top = innerOf(der, valueEl)
        if (top.tag !== TAG.SEQUENCE) invalid('subjectAltName is not a SEQUENCE')
        const uris: string[] = []
        const dns: string[] = []
        const ips: string[] = []
        for (let n = top.contentStart; n < top.end; ) {
          const name = readElement(der, n, top.end, CODE)
          n = name.end
          if (name.tag === 0x86) uris.push(ia5(der, name))
          else if (name.tag === 0x82) dns.push(ia5(der, name))
          else if (name.tag === 0x87) {
            const ip = ipAddressText(contentOf(der, name))
            if (ip !== undefined) ips.push(ip)
          } else if (name.tag === 0xa6 || name.tag === 0xa2) invalid('URI or DNS name in constructed form')
        }
        facts.uriSans = uris
        facts.dnsSans = dns
        facts.ipSans = ips
        break
      }
      case 'subjectKeyIdentifier': {
        const top = innerOf(der, valueEl)
        if (top.tag !== TAG.OCTET_STRING) invalid('subjectKeyIdentifier is not an OCTET STRING')
        facts.subjectKeyId = Buffer.from(contentOf(der, top))
        break
      }
      case 'authorityKeyIdentifier': {
        const top = innerOf(der, valueEl)
        if (top.tag !== TAG.SEQUENCE) invalid('authorityKeyIdentifier is not a SEQUENCE')
        const keyId = readChildren(der, top, CODE).find((e) => e.tag === 0x80)
        facts.authorityKeyId = keyId ? Buffer.from(contentOf(der, keyId)) : undefined
        break
      }
      default:
        if (critical) {
          unhandled ??= []
          unhandled.push(oid)
        }
    }
  }
  if (unhandled) facts.unhandledCriticalExtensions = unhandled
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

function ia5(der: Buffer, el: DerElement): string {
  for (let i = el.contentStart; i < el.end; i++) if (der[i]! > 0x7f) invalid('IA5String has non-ASCII bytes')
  return der.toString('latin1', el.contentStart, el.end)
}
