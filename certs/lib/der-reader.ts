/**
 * A minimal, strict DER reader: it walks tag-length-value headers so we can split
 * concatenated certificates and pick raw fields (issuer, subject, subjectPublicKey)
 * out of certificates and keys. It decodes no values. Input is untrusted: every
 * bound is checked, and any problem throws `SigilError` with the caller's code.
 */
import { type ErrorCode, SigilError } from '../errors.js'
import { derLengthSize, readDerLength } from './der-length.js'

/** One DER element, as absolute offsets into the buffer it was read from. */
export interface DerElement {
  /** The identifier octet (single-octet tags only). */
  readonly tag: number
  /** Offset of the identifier octet. */
  readonly start: number
  /** Offset of the first content octet. */
  readonly contentStart: number
  /** Offset just past the last content octet. */
  readonly end: number
}

/**
 * Reads the element starting at `offset`, which must end at or before `limit`.
 * Rejects multi-octet tags, and lengths der-length.ts refuses (indefinite, non-minimal, above its cap).
 *
 * @example
 * const cert = readElement(buf, 0, buf.length, 'ERR_CERT_INVALID')
 * const tbs = readChildren(buf, cert, 'ERR_CERT_INVALID')[0]
 */
export function readElement(buf: Buffer, offset: number, limit: number, code: ErrorCode): DerElement {
  const fail = (why: string): never => {
    throw new SigilError(code, `malformed DER at offset ${offset}: ${why}`)
  }
  if (offset + 2 > limit) fail('truncated header')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) fail('multi-octet tags are not supported')
  const length = readDerLength(buf, offset + 1, limit)
  if (typeof length === 'string') return fail(length)
  const contentStart = offset + 1 + derLengthSize(length)
  const end = contentStart + length
  if (end > limit) fail(`element needs ${end - limit} more octet(s) than available`)
  return { tag, start: offset, contentStart, end }
}

/** The elements inside a constructed element, in order; their lengths must fill it exactly. */
export function readChildren(buf: Buffer, parent: DerElement, code: ErrorCode): DerElement[] {
  if (!(parent.tag & 0x20))
    throw new SigilError(code, `DER element with tag 0x${hex(parent.tag)} is not constructed`)
  const out: DerElement[] = []
  for (let at = parent.contentStart; at < parent.end; ) {
    const el = readElement(buf, at, parent.end, code)
    out.push(el)
    at = el.end
  }
  return out
}

/** Reads one element and requires that it spans `buf` exactly, with the given tag. */
export function readWhole(buf: Buffer, tag: number, code: ErrorCode): DerElement {
  const el = readElement(buf, 0, buf.length, code)
  if (el.tag !== tag) throw new SigilError(code, `expected DER tag 0x${hex(tag)}, found 0x${hex(el.tag)}`)
  if (el.end !== buf.length)
    throw new SigilError(code, `${buf.length - el.end} trailing octet(s) after DER value`)
  return el
}

/** The full encoding (header and content) of an element. */
export function rawOf(buf: Buffer, el: DerElement): Buffer {
  return buf.subarray(el.start, el.end)
}

/** The content octets of an element. */
export function contentOf(buf: Buffer, el: DerElement): Buffer {
  return buf.subarray(el.contentStart, el.end)
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0')
}

/** Decodes an OBJECT IDENTIFIER element to dotted form. */
export function decodeOid(buf: Buffer, el: DerElement, code: ErrorCode): string {
  const bytes = contentOf(buf, el)
  if (el.tag !== 0x06 || bytes.length === 0 || (bytes[bytes.length - 1]! & 0x80) !== 0) {
    throw new SigilError(code, 'malformed OBJECT IDENTIFIER')
  }
  const arcs: number[] = []
  let value = 0
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    if (value === 0 && b === 0x80) throw new SigilError(code, 'non-minimal OBJECT IDENTIFIER arc')
    value = value * 128 + (b & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER) throw new SigilError(code, 'OBJECT IDENTIFIER arc too large')
    if (!(b & 0x80)) {
      if (arcs.length === 0)
        arcs.push(value < 40 ? 0 : value < 80 ? 1 : 2, value < 80 ? value % 40 : value - 80)
      else arcs.push(value)
      value = 0
    }
  }
  return arcs.join('.')
}

/** Decodes a BOOLEAN element (DER: 0x00 or 0xFF). */
export function decodeBoolean(buf: Buffer, el: DerElement, code: ErrorCode): boolean {
  const bytes = contentOf(buf, el)
  if (el.tag !== 0x01 || bytes.length !== 1 || (bytes[0] !== 0 && bytes[0] !== 0xff)) {
    throw new SigilError(code, 'malformed BOOLEAN')
  }
  return bytes[0] === 0xff
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/

/**
 * Decodes an X.509 Time (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` (years 1950-2049) or
 * GeneralizedTime `YYYYMMDDHHMMSSZ`; no fractions, no offsets.
 */
export function decodeTime(buf: Buffer, el: DerElement, code: ErrorCode): Date {
  const text = contentOf(buf, el).toString('latin1')
  const m = el.tag === 0x17 ? UTC_TIME.exec(text) : el.tag === 0x18 ? GENERALIZED_TIME.exec(text) : null
  if (!m) throw new SigilError(code, `malformed time "${text.slice(0, 20)}"`)
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const year = el.tag === 0x17 ? (y < 50 ? 2000 + y : 1900 + y) : y
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s))
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  ) {
    throw new SigilError(code, `invalid date "${text}"`)
  }
  return date
}
