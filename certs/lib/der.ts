/**
 * The one DER writer (ITU-T X.690 Distinguished Encoding Rules) used on the X509-SVID
 * hot path. Each function returns the complete encoding (tag, length, content) of one
 * value, allocating once. Inputs are trusted (they come from our own code), so these
 * functions only guard against caller bugs with `TypeError`.
 *
 * @example
 * import * as der from '../lib/der.js'
 * der.sequence(der.integer(Buffer.from([1])), der.utcOrGeneralizedTime(new Date()))
 */
import { derLengthSize, encodeDerLength, writeDerLength } from './der-length.js'

/** Universal tag numbers (with the constructed bit for SEQUENCE and SET). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const

/** The DER length octets for a content length (short form below 128, long form above); see der-length.ts. */
export const encodeLength = encodeDerLength

/** Tag, length and the concatenation of `parts` as content, in one allocation. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xfe || (tag & 0x1f) === 0x1f) {
    throw new TypeError(`unsupported DER tag ${tag}`)
  }
  let length = 0
  for (const p of parts) length += p.length
  const out = Buffer.allocUnsafe(1 + derLengthSize(length) + length)
  out[0] = tag
  let at = writeDerLength(out, 1, length)
  for (const p of parts) {
    p.copy(out, at)
    at += p.length
  }
  return out
}

/** SEQUENCE of already-encoded elements. */
export function sequence(...elements: Buffer[]): Buffer {
  return tlv(TAG.SEQUENCE, ...elements)
}

/** SET of already-encoded elements (caller orders them; we only ever put one element in a SET). */
export function set(...elements: Buffer[]): Buffer {
  return tlv(TAG.SET, ...elements)
}

/**
 * A non-negative INTEGER from its unsigned big-endian magnitude: leading zero octets are
 * dropped and one 0x00 is prepended when the high bit is set, giving the minimal encoding.
 */
export function integer(magnitude: Buffer): Buffer {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const body = magnitude.length === 0 ? Buffer.from([0]) : magnitude.subarray(start)
  return (body[0] ?? 0) & 0x80 ? tlv(TAG.INTEGER, Buffer.from([0]), body) : tlv(TAG.INTEGER, body)
}

/** A small non-negative INTEGER (e.g. a version or a path length). */
export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`invalid small integer ${value}`)
  const bytes: number[] = []
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  return integer(Buffer.from(bytes))
}

/** BOOLEAN (DER: TRUE is 0xFF). */
export function boolean(value: boolean): Buffer {
  return Buffer.from([TAG.BOOLEAN, 1, value ? 0xff : 0x00])
}

/** NULL. */
export function nullValue(): Buffer {
  return Buffer.from([TAG.NULL, 0])
}

/** OCTET STRING. */
export function octetString(content: Buffer): Buffer {
  return tlv(TAG.OCTET_STRING, content)
}

/** BIT STRING with `unusedBits` (0-7) unused bits in the last octet. */
export function bitString(content: Buffer, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (unusedBits && !content.length)) {
    throw new TypeError(`invalid unused-bit count ${unusedBits}`)
  }
  return tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), content)
}

/** OBJECT IDENTIFIER from dotted form, e.g. `2.5.29.17`. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN))
  const [first, second, ...rest] = arcs
  if (
    first === undefined ||
    second === undefined ||
    arcs.some((a) => !Number.isSafeInteger(a)) ||
    first > 2 ||
    (first < 2 && second > 39)
  ) {
    throw new TypeError(`invalid OID "${dotted}"`)
  }
  const bytes: number[] = []
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc % 128]
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n % 128) | 0x80)
    bytes.push(...chunk)
  }
  return tlv(TAG.OID, Buffer.from(bytes))
}

/** UTF8String. */
export function utf8String(value: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(value, 'utf8'))
}

/** PrintableString; throws `TypeError` for characters outside its set. */
export function printableString(value: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)) throw new TypeError(`not a PrintableString: "${value}"`)
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(value, 'latin1'))
}

/** IA5String (ASCII); throws `TypeError` for non-ASCII input. */
export function ia5String(value: string): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is exactly 0x00-0x7f
  if (!/^[\x00-\x7f]*$/.test(value)) throw new TypeError('not an IA5String (non-ASCII)')
  return tlv(TAG.IA5_STRING, Buffer.from(value, 'latin1'))
}

/**
 * A context-specific tag `[n]`: constructed (explicit tagging, content = encoded elements) or
 * primitive (implicit tagging of a primitive type, content = raw value octets).
 */
export function contextTag(n: number, constructed: boolean, ...content: Buffer[]): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new TypeError(`invalid context tag [${n}]`)
  return tlv(0x80 | (constructed ? 0x20 : 0) | n, ...content)
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/**
 * An X.509 `Time` per RFC 5280 §4.1.2.5: UTCTime (`YYMMDDHHMMSSZ`) for years 1950-2049,
 * GeneralizedTime (`YYYYMMDDHHMMSSZ`) otherwise. Sub-second precision is truncated.
 */
export function utcOrGeneralizedTime(date: Date): Buffer {
  const ms = date.getTime()
  if (!Number.isFinite(ms)) throw new TypeError('invalid date')
  const year = date.getUTCFullYear()
  if (year < 0 || year > 9999) throw new TypeError(`year ${year} cannot be encoded`)
  const rest =
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2)
  if (year >= 1950 && year <= 2049) {
    return tlv(TAG.UTC_TIME, Buffer.from(`${pad(year % 100, 2)}${rest}Z`, 'latin1'))
  }
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${pad(year, 4)}${rest}Z`, 'latin1'))
}
